"""Web fixtures: an app over a store of dated papers with a pinned clock, and a real local
HTTP server standing in for the arXiv API (never the real arXiv)."""

from __future__ import annotations

import socket
import threading
from datetime import date, datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree as ET

import pytest
from fastapi.testclient import TestClient

from paperfeed.config import Settings
from paperfeed.ingest import run_ingest
from paperfeed.models import Link
from paperfeed.startup import prepare_engine
from paperfeed.store import open_store
from tests.conftest import REPO, make_paper

TODAY = date(2026, 11, 4)  # a Wednesday
ARXIV_FEED = REPO / "tests" / "fixtures" / "arxiv" / "feed_page.xml"


def _at(day: str, hour: int = 12) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=timezone.utc)


def dated_papers() -> list:
    """Papers over three weeks: Monday Nov 2 has the most; Nov 3 and 4 are "new"."""
    papers = []
    for n in range(7):
        papers.append(make_paper(
            f"Sparse attention routing for long documents, part {n + 1}",
            abstract=f"We route sparse attention across layers of language models ({n}). " * 4,
            authors=["Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra"][: 1 + n % 4],
            categories=["cs.CL", "cs.LG"] if n % 2 else ["cs.CL"],
            published=_at("2026-11-02", 8 + n),
            links=[Link("code", f"https://github.com/example/routing-{n}")] if n % 3 == 0 else [],
        ))
    papers.append(make_paper("Graph neural networks for protein folding", categories=["q-bio.QM"],
                             abstract="Proteins fold; graphs help us model how.", published=_at("2026-11-03")))
    papers.append(make_paper("Diffusion models for video generation", categories=["cs.CV"],
                             abstract="A diffusion model generates video frames.", published=_at("2026-11-04")))
    papers.append(make_paper("Reinforcement learning for robot grasping", categories=["cs.RO"],
                             abstract="Robots learn to grasp objects by trial.", published=_at("2026-10-30")))
    papers.append(make_paper("A survey of retrieval augmented generation", categories=["cs.IR", "cs.CL"],
                             abstract="Retrieval helps language models answer questions.", published=_at("2026-10-15")))
    papers.append(make_paper("Quantum error correction with surface codes", categories=["quant-ph"],
                             abstract="Surface codes correct errors in qubits.", published=_at("2026-09-20")))
    return papers


def dated_settings(folder: Path, **overrides: str) -> Settings:
    return Settings.load({"data_dir": str(folder / "data"), "load_demo": "false", **overrides},
                         environ={}, dotenv=folder / ".env")


@pytest.fixture(scope="module")
def dated_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The app over 12 dated papers, with today pinned to TODAY (read-only tests)."""
    from paperfeed.web.app import create_app

    settings = dated_settings(tmp_path_factory.mktemp("dated"))
    store = open_store(settings.database_url)
    store.migrate()
    run_ingest(store, dated_papers())
    engine = prepare_engine(store, settings)
    with TestClient(create_app(settings, engine=engine, today=lambda: TODAY)) as client:
        yield client
    store.close()


class FakeArxiv:
    """A real HTTP server on 127.0.0.1 that answers `id_list` queries from the arXiv
    fixture feed: known ids get their entry, others an empty feed (as arXiv does)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, list[str]]] = []
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/api/query"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def answer(self, query: dict[str, list[str]]) -> bytes:
        ns = {"atom": "http://www.w3.org/2005/Atom"}
        tree = ET.parse(ARXIV_FEED)
        root = tree.getroot()
        wanted = query.get("id_list", [""])[0].split(",")
        for entry in root.findall("atom:entry", ns):
            entry_id = entry.findtext("atom:id", "", ns).rsplit("/", 1)[-1]
            if entry_id.split("v")[0] not in wanted and entry_id not in wanted:
                root.remove(entry)
        total = root.find("{http://a9.com/-/spec/opensearch/1.1/}totalResults")
        assert total is not None
        total.text = str(len(root.findall("atom:entry", ns)))
        return ET.tostring(root, encoding="utf-8", xml_declaration=True)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                query = parse_qs(urlsplit(self.path).query)
                server.requests.append(query)
                body = server.answer(query)
                self.send_response(200)
                self.send_header("Content-Type", "application/atom+xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        return Handler


@pytest.fixture
def fake_arxiv() -> Iterator[FakeArxiv]:
    server = FakeArxiv()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


@pytest.fixture
def closed_port_url() -> str:
    """An arXiv URL on a local port nothing listens on: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/api/query"
