"""`paperfeed bench mail`: what one digest costs to render, build and deliver.

A 30-paper digest (10 "trending" + 20 "saved search" papers from the bundled demo corpus,
real titles and abstracts) is rendered and built N times, then delivered N times over one
reused SMTP connection to a sink in another process on loopback: `fast` (paperfeed's
minimal sink) or `aiosmtpd` (needs the test extra). CPU times are this process's only, so
the sink's work shows in wall time alone. These are the per-message parts of the digest
benchmark issue 7 asks for (`docs/email.md`).
"""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import time
import zlib
from datetime import datetime, timezone
from importlib import resources
from typing import Callable

from paperfeed.mail.message import build_message, to_bytes, unsubscribe_links
from paperfeed.mail.render import DigestSection, RenderedMail, paper_entry, render_digest
from paperfeed.mail.transport import Outcome, SmtpConfig, SmtpMailer
from paperfeed.mail.urls import SiteUrls
from paperfeed.models import Paper
from paperfeed.sources.jsonl import parse_jsonl

URLS = SiteUrls("https://papers.example.org")
TOKEN = "v1." + "a" * 100 + "." + "b" * 43  # the length of a real unsubscribe token
SENDER = "paperfeed <digest@example.org>"
SINKS = ("fast", "aiosmtpd")


def run_mail_bench(messages: int, *, sink: str = "fast") -> dict[str, object]:
    sections = _sample_sections()

    def render() -> RenderedMail:
        return render_digest(email="reader@example.org", heading="Your daily papers", sections=sections, urls=URLS,
                             preferences_url=URLS.preferences(TOKEN), unsubscribe_url=URLS.unsubscribe(TOKEN))

    rendered = render()
    data = _wire(rendered)
    render_cpu, render_wall = _timed(render, messages)
    build_cpu, build_wall = _timed(lambda: _wire(rendered), messages)
    delivered, deliver_cpu, deliver_wall, sink_count = _deliver(data, messages, sink)
    return {
        "messages": messages,
        "message_bytes": len(data),
        "message_bytes_zlib": len(zlib.compress(data, 6)),
        "render_ms_cpu": _ms(render_cpu, messages), "render_ms_wall": _ms(render_wall, messages),
        "build_ms_cpu": _ms(build_cpu, messages), "build_ms_wall": _ms(build_wall, messages),
        "sink": sink,
        "delivered": delivered,
        "sink_received": sink_count,
        "deliver_ms_cpu": _ms(deliver_cpu, messages), "deliver_ms_wall": _ms(deliver_wall, messages),
        "deliver_per_s": round(messages / deliver_wall, 1) if deliver_wall else None,
    }


def _sample_sections() -> list[DigestSection]:
    with (resources.files("paperfeed.demo") / "hf-papers-search-page.jsonl").open("rb") as stream:
        papers = [item for item in parse_jsonl(stream, source="demo") if isinstance(item, Paper)][:30]
    for index, paper in enumerate(papers):
        paper.id = paper.id or f"2401.{index:05d}"
    entries = tuple(paper_entry(paper, URLS) for paper in papers)
    return [DigestSection("Trending", entries[:10]), DigestSection("Saved search: knowledge", entries[10:])]


def _wire(rendered: RenderedMail) -> bytes:
    links = unsubscribe_links(URLS.unsubscribe(TOKEN), mailbox="digest@example.org", token=TOKEN)
    mail = rendered.to("reader@example.org", unsubscribe=links)
    return to_bytes(build_message(mail, sender=SENDER, now=datetime.now(timezone.utc)))


def _timed(work: Callable[[], object], times: int) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(times):
        work()
    return time.process_time() - cpu, time.perf_counter() - wall


def _deliver(data: bytes, messages: int, sink: str) -> tuple[int, float, float, int | None]:
    port = _free_port()
    command = _sink_command(sink, port)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        _wait_for(port)
        mailer = SmtpMailer(SmtpConfig(host="127.0.0.1", port=port, security="none", timeout=30))
        wall, cpu = time.perf_counter(), time.process_time()
        delivered = sum(
            mailer.send_bytes(sender="digest@example.org", recipient=f"r{i}@example.org", data=data).outcome
            is Outcome.DELIVERED for i in range(messages))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        mailer.close()
        # The sink prints its count when it sees the session end; wait for that line, or a
        # loaded machine can terminate it first and the count is lost.
        received = _read_counts(process, expected=delivered) if sink == "fast" else None
    finally:
        process.terminate()
        process.communicate(timeout=30)
    return delivered, cpu, wall, received


def _read_counts(process: subprocess.Popen[bytes], *, expected: int, timeout: float = 20.0) -> int:
    """Sum the sink's per-session `received N` lines (the readiness probe is a session too)
    until they reach `expected` or the sink falls silent for `timeout` seconds. Reads the raw
    pipe: a buffered text reader would hide lines from select()."""
    assert process.stdout is not None
    fd, pending, total = process.stdout.fileno(), b"", 0
    while total < expected and select.select([fd], [], [], timeout)[0]:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        *lines, pending = (pending + chunk).split(b"\n")
        total += sum(int(line.split()[1]) for line in lines if line.startswith(b"received "))
    return total


def _sink_command(sink: str, port: int) -> list[str]:
    if sink == "fast":
        return [sys.executable, "-m", "paperfeed.bench.smtp_sink", str(port)]
    return [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c", "aiosmtpd.handlers.Sink"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _ms(seconds: float, count: int) -> float:
    return round(seconds / count * 1000, 3)
