"""`paperfeed bench digest --subscribers N`: compose and deliver N digests (docs/benchmarks.md).

A fresh store holds the demo corpus and N confirmed subscribers, all due, each with a
trending section (top 10) and one of 50 saved searches, with every paper new to them. The
run is the product's own `run_digests` (what `paperfeed digest run` does): one search per
distinct saved query, then composing (render, build, one transaction per batch of 500) in
PAPERFEED_DIGEST_WORKERS processes (or `--workers`) while this process sends everything
over one SMTP connection to the minimal sink (bench/smtp_sink.py, another process, not
counted) with no rate limit. CPU: this process's, and the composing workers' apart.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from paperfeed.bench.mail import _free_port, _read_counts, _wait_for
from paperfeed.config import Settings
from paperfeed.digest_run import run_digests
from paperfeed.startup import load_demo_corpus, prepare_engine
from paperfeed.store import open_store
from paperfeed.subscriptions import _query_key

QUERIES = ("transformer", "diffusion", "reinforcement learning", "graph neural network", "retrieval",
           "language model", "image segmentation", "speech recognition", "robotics", "optimization")


def run_digest_bench(subscribers: int, *, store_url: str | None = None, workers: int | None = None) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="paperfeed-bench-digest-") as folder:
        port = _free_port()
        sink = subprocess.Popen([sys.executable, "-m", "paperfeed.bench.smtp_sink", str(port)],
                                stdout=subprocess.PIPE)
        try:
            _wait_for(port)
            return _run(Path(folder), port, subscribers, store_url, workers, sink)
        finally:
            sink.terminate()
            sink.communicate(timeout=30)


def _run(folder: Path, port: int, count: int, store_url: str | None, workers: int | None,
         sink: subprocess.Popen[bytes]) -> dict[str, object]:
    overrides = {"data_dir": str(folder / "data"), "load_demo": "false", "public_url": "https://papers.example.org",
                 "smtp_host": "127.0.0.1", "smtp_port": str(port), "smtp_security": "none",
                 "mail_from": "paperfeed <digest@example.org>", "mail_rate": "0", "secret_key": "b" * 40}
    if store_url:
        overrides["database_url"] = store_url
    if workers is not None:
        overrides["digest_workers"] = str(workers)
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
    load_before = os.getloadavg()
    cpu0, wall0, workers0 = time.process_time(), time.perf_counter(), _children_cpu()
    report = run_digests(engine, settings)
    cpu1, wall1, workers1 = time.process_time(), time.perf_counter(), _children_cpu()
    received = _read_counts(sink, expected=report.sent.sent)
    store.close()
    composed, sent = report.composed, report.sent
    return {
        "subscribers": count, "papers": store_papers(settings), "backend": settings.database_url.split(":")[0],
        "load_subscribers_s": round(load_s, 1), "queued": composed.queued, "empty": composed.empty,
        "searches_run": composed.searches_run, "compose_workers": report.workers,
        "compose_wall_s": round(report.compose_wall_s, 1), "total_wall_s": round(wall1 - wall0, 1),
        "main_cpu_s": round(cpu1 - cpu0, 1),  # searches, sending (and composing, with one worker)
        "workers_cpu_s": round(workers1 - workers0, 1),
        "sent": sent.sent, "sink_received": received,
        "load_average_before": round(load_before[0], 2), "load_average_after": round(os.getloadavg()[0], 2),
    }


def _children_cpu() -> float:
    """User + system CPU of finished child processes (the composing workers; the sink is still running)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def store_papers(settings: Settings) -> int:
    store = open_store(settings.database_url)
    try:
        return store.count_papers()
    finally:
        store.close()
