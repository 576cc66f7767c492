"""A real SMTP server on 127.0.0.1 (aiosmtpd) for the mail tests: a handler that records
what arrives or refuses at a chosen stage, an AUTH checker, and the server handle the
fixtures in conftest.py hand out."""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, Callable

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from paperfeed.mail.transport import SmtpConfig, SmtpMailer

USERNAME, PASSWORD = "digest", "correct horse battery staple"


def free_port() -> int:
    """Controller(port=0) fails (its start-up probe needs the real port), so pick one first."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RecordingHandler:
    """Accepts everything unless told to answer MAIL, RCPT or DATA with a given reply."""

    mail_reply: str | None = None
    rcpt_reply: str | None = None
    data_reply: str | None = None
    received: list[tuple[float, Envelope]] = field(default_factory=list)

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          mail_options: list[str]) -> str:
        if self.mail_reply:
            return self.mail_reply
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_reply:
            return self.data_reply
        self.received.append((time.monotonic(), envelope))
        return "250 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        return [email.message_from_bytes(env.original_content or b"", policy=email.policy.default)
                for _, env in self.received]


def authenticator(server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USERNAME.encode(), PASSWORD.encode())
    return AuthResult(success=ok, handled=False)


@dataclass
class SmtpServer:
    handler: RecordingHandler
    port: int
    controller: Controller
    client_tls: ssl.SSLContext | None = None
    running: bool = True

    def stop(self) -> None:
        if self.running:
            self.controller.stop()
            self.running = False

    def mailer(self, security: str = "none", **config: Any) -> SmtpMailer:
        smtp = SmtpConfig(host="127.0.0.1", port=self.port, security=security, timeout=config.pop("timeout", 5.0),
                          **config)
        return SmtpMailer(smtp, ssl_context=self.client_tls)


ServerFactory = Callable[..., SmtpServer]


def body(message: EmailMessage, subtype: str) -> str:
    """The text of the message's text/<subtype> part; fails the test if there is none."""
    part = message.get_body((subtype,))
    assert part is not None, f"no text/{subtype} part"
    return str(part.get_content())
