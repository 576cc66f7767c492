"""A real local HTTP server (127.0.0.1, ephemeral port) standing in for arXiv.

Each request first takes the next scripted `Reply` from `server.script`; when
the script is empty, `server.arxiv` (a tiny fake of the arXiv API over an
in-memory list of papers) answers, so paging and resume behave like the
real service. Every request's query string and headers are recorded.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

import pytest

WINDOW_RE = re.compile(r"^cat:(\S+) AND submittedDate:\[(\d{12}) TO (\d{12})\]$")


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering
    delay: float = 0.0  # seconds to wait before answering (client timeouts)


@dataclass
class Seen:
    query: dict[str, str]
    headers: dict[str, str]


@dataclass
class FakePaper:
    arxiv_id: str
    published: datetime
    category: str = "cs.CL"
    version: int = 1


def entry_xml(p: FakePaper) -> str:
    stamp = p.published.strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"""
  <entry>
    <id>http://arxiv.org/abs/{p.arxiv_id}v{p.version}</id>
    <updated>{stamp}</updated>
    <published>{stamp}</published>
    <title>Paper {escape(p.arxiv_id)}</title>
    <summary>Abstract of {escape(p.arxiv_id)}.</summary>
    <author><name>Author One</name></author>
    <link href="http://arxiv.org/abs/{p.arxiv_id}v{p.version}" rel="alternate" type="text/html"/>
    <arxiv:primary_category term="{p.category}" scheme="http://arxiv.org/schemas/atom"/>
    <category term="{p.category}" scheme="http://arxiv.org/schemas/atom"/>
  </entry>"""


def feed_xml(entries: list[str], *, total: int, start: int, per_page: int) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" xmlns:arxiv="http://arxiv.org/schemas/atom">
  <id>http://arxiv.org/api/test</id>
  <title type="html">ArXiv Query</title>
  <updated>2026-11-27T00:00:00-05:00</updated>
  <opensearch:totalResults>{total}</opensearch:totalResults>
  <opensearch:startIndex>{start}</opensearch:startIndex>
  <opensearch:itemsPerPage>{per_page}</opensearch:itemsPerPage>{''.join(entries)}
</feed>""".encode()


class FakeArxiv:
    """Answers search_query (cat + submittedDate window) and id_list like arXiv."""

    def __init__(self) -> None:
        self.papers: list[FakePaper] = []

    def add(self, arxiv_id: str, published: str, category: str = "cs.CL",
            version: int = 1) -> FakePaper:
        paper = FakePaper(arxiv_id, datetime.fromisoformat(published), category, version)
        self.papers.append(paper)
        return paper

    def __call__(self, query: dict[str, str]) -> Reply:
        start = int(query.get("start", "0"))
        per_page = int(query.get("max_results", "10"))
        matches = self._match(query)
        if matches is None:
            return Reply(400, b"unsupported query in FakeArxiv")
        entries = [entry_xml(p) for p in matches[start:start + per_page]]
        return Reply(200, feed_xml(entries, total=len(matches), start=start, per_page=per_page))

    def _match(self, query: dict[str, str]) -> list[FakePaper] | None:
        if "id_list" in query:
            wanted = query["id_list"].split(",")
            return [p for p in self.papers
                    if p.arxiv_id in wanted or f"{p.arxiv_id}v{p.version}" in wanted]
        found = WINDOW_RE.match(query.get("search_query", ""))
        if not found or query.get("sortBy") != "submittedDate":
            return None
        category, low, high = found.groups()
        hits = [p for p in self.papers if p.category == category
                and low <= p.published.strftime("%Y%m%d%H%M") <= high]
        return sorted(hits, key=lambda p: p.published,
                      reverse=query.get("sortOrder") != "ascending")


class LocalServer:
    Reply = Reply  # tests build scripted replies as arxiv_server.Reply(...)

    def __init__(self) -> None:
        self.script: deque[Reply] = deque()
        self.arxiv = FakeArxiv()
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/api/query"

    def queue(self, *replies: Reply) -> None:
        self.script.extend(replies)

    @staticmethod
    def empty_feed(*, total: int, start: int, per_page: int) -> Reply:
        """arXiv's occasional empty page that still claims `total` results."""
        return Reply(200, feed_xml([], total=total, start=start, per_page=per_page))

    @property
    def starts(self) -> list[int]:
        return [int(s.query.get("start", "0")) for s in self.seen]

    def _next_reply(self, query: dict[str, str], headers: dict[str, str]) -> Reply:
        with self._lock:
            self.seen.append(Seen(query, headers))
            return self.script.popleft() if self.script else self.arxiv(query)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (http.server API)
                query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
                reply = server._next_reply(query, dict(self.headers.items()))
                if reply.drop:
                    self.close_connection = True
                    return
                time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    for name, value in {"Content-Type": "application/atom+xml",
                                        **reply.headers}.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except OSError:  # the client gave up (timeout test)
                    self.close_connection = True

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


@pytest.fixture
def arxiv_server():
    server = LocalServer()
    thread = threading.Thread(target=server.httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
        thread.join(timeout=5)
