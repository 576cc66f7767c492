"""`paperfeed bench digest --subscribers N`: compose and deliver N digests (docs/benchmarks.md).

A fresh store holds the demo corpus and N confirmed subscribers, all due, each with a
trending section (top 10) and one of 50 saved searches, with every paper new to them. The
run composes (bulk queries, one search per distinct query, render, build, one transaction
per batch of 500) and then sends everything over one SMTP connection to the minimal sink
(bench/smtp_sink.py) in another process with no rate limit. CPU is this process's; the
sink's is not counted.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from paperfeed.bench.mail import _free_port, _read_counts, _wait_for
from paperfeed.config import Settings
from paperfeed.digest import DigestComposer
from paperfeed.mail.outbox import send_due
from paperfeed.mail.pacing import Throttle
from paperfeed.mail.transport import mailer_from_settings
from paperfeed.startup import load_demo_corpus, prepare_engine
from paperfeed.store import open_store
from paperfeed.subscriptions import Subscriptions, _query_key

QUERIES = ("transformer", "diffusion", "reinforcement learning", "graph neural network", "retrieval",
           "language model", "image segmentation", "speech recognition", "robotics", "optimization")


def run_digest_bench(subscribers: int, *, store_url: str | None = None) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="paperfeed-bench-digest-") as folder:
        port = _free_port()
        sink = subprocess.Popen([sys.executable, "-m", "paperfeed.bench.smtp_sink", str(port)],
                                stdout=subprocess.PIPE)
        try:
            _wait_for(port)
            return _run(Path(folder), port, subscribers, store_url, sink)
        finally:
            sink.terminate()
            sink.communicate(timeout=30)


def _run(folder: Path, port: int, count: int, store_url: str | None, sink: subprocess.Popen[bytes]) -> dict[str, object]:
    overrides = {"data_dir": str(folder / "data"), "load_demo": "false", "public_url": "https://papers.example.org",
                 "smtp_host": "127.0.0.1", "smtp_port": str(port), "smtp_security": "none",
                 "mail_from": "paperfeed <digest@example.org>", "mail_rate": "0", "secret_key": "b" * 40}
    if store_url:
        overrides["database_url"] = store_url
    settings = Settings.load(overrides, environ={}, dotenv=folder / ".env")
    store = open_store(settings.database_url)
    store.migrate()
    load_demo_corpus(store)
    engine = prepare_engine(store, settings)
    now = datetime.now(timezone.utc)
    searches = [(f"{q} {n}" if n else q, "{}", _query_key(f"{q} {n}" if n else q, ""))
                for n in range(5) for q in QUERIES]
    started = time.perf_counter()
    store.mail.add_active_subscribers([f"reader{n}@example.org" for n in range(count)], now=now,
                                      next_due_at=now - timedelta(minutes=1), searches=searches)
    load_s = time.perf_counter() - started
    subscriptions = Subscriptions(store, settings)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    composed = DigestComposer(engine, subscriptions, lambda: now).run()
    cpu1, wall1 = time.process_time(), time.perf_counter()
    mailer = mailer_from_settings(settings)
    try:
        sent = send_due(store, mailer, sender=subscriptions.sender, clock=lambda: datetime.now(timezone.utc),
                        data_dir=settings.data_dir, throttle=Throttle(0), max_bounces=3)
    finally:
        mailer.close()
    cpu2, wall2 = time.process_time(), time.perf_counter()
    received = _read_counts(sink, expected=sent.sent)
    store.close()
    return {
        "subscribers": count, "papers": store_papers(settings), "backend": settings.database_url.split(":")[0],
        "load_subscribers_s": round(load_s, 1), "queued": composed.queued, "empty": composed.empty,
        "searches_run": composed.searches_run,
        "compose_wall_s": round(wall1 - wall0, 1), "compose_cpu_s": round(cpu1 - cpu0, 1),
        "send_wall_s": round(wall2 - wall1, 1), "send_cpu_s": round(cpu2 - cpu1, 1),
        "sent": sent.sent, "sink_received": received, "total_wall_s": round(wall2 - wall0, 1),
    }


def store_papers(settings: Settings) -> int:
    store = open_store(settings.database_url)
    try:
        return store.count_papers()
    finally:
        store.close()
