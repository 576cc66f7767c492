"""Fixtures: real SMTP servers on 127.0.0.1 (plain, STARTTLS, implicit TLS from a
throwaway trustme CA), stopped after each test."""

from __future__ import annotations

import ssl
from typing import Any, Iterator

import pytest
import trustme
from aiosmtpd.controller import Controller

from tests.mail.smtp_sink import RecordingHandler, ServerFactory, SmtpServer, free_port


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_contexts(ca: trustme.CA) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return server, client


@pytest.fixture
def start_smtp() -> Iterator[ServerFactory]:
    """start_smtp(**controller_options) -> a running server; all are stopped afterwards."""
    servers: list[SmtpServer] = []

    def start(handler: RecordingHandler | None = None, *, port: int | None = None,
              client_tls: ssl.SSLContext | None = None, **options: Any) -> SmtpServer:
        handler = handler or RecordingHandler()
        port = port or free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port, **options)
        controller.start()
        servers.append(SmtpServer(handler=handler, port=port, controller=controller, client_tls=client_tls))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def smtp_server(start_smtp: ServerFactory) -> SmtpServer:
    """A plain loopback server (no TLS, no AUTH) that accepts every message."""
    return start_smtp()

