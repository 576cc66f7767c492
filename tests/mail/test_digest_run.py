"""`run_digests` beyond one process, on both stores: composing workers with the run sending
meanwhile (each subscriber composed and delivered once), and the compose and send locks
that keep two runs (two cron hosts, cron and `serve`) apart, dying with their holder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pytest

from paperfeed.config import Settings
from paperfeed.digest_run import COMPOSE_LOCK, run_digests
from paperfeed.engine import SearchEngine
from paperfeed.ingest import run_ingest
from paperfeed.mail.outbox import SEND_LOCK
from paperfeed.startup import prepare_engine
from paperfeed.store import open_store
from paperfeed.subscriptions import _query_key

from tests.conftest import make_paper
from tests.mail.smtp_sink import SmtpServer

READERS = 40
QUERIES = ("diffusion", "graph", "retrieval")


@pytest.fixture
def world(tmp_path: Path, store_url: str, smtp_server: SmtpServer) -> Iterator[tuple[SearchEngine, Settings]]:
    settings = Settings.load({
        "data_dir": str(tmp_path / "data"), "load_demo": "false", "database_url": store_url,
        "public_url": "https://papers.example.org", "smtp_host": "127.0.0.1", "smtp_port": str(smtp_server.port),
        "smtp_security": "none", "mail_from": "paperfeed <digest@example.org>", "mail_rate": "0",
        "secret_key": "s" * 40, "digest_workers": "2",
    }, environ={}, dotenv=tmp_path / ".env")
    store = open_store(store_url)
    store.migrate()
    run_ingest(store, [make_paper(f"{q.title()} paper number {n}") for q in QUERIES for n in range(2)])
    now = datetime.now(timezone.utc)
    store.mail.add_active_subscribers([f"reader{n}@example.org" for n in range(READERS)], now=now,
                                      next_due_at=now - timedelta(minutes=1),
                                      searches=[(q, "{}", _query_key(q, "")) for q in QUERIES])
    yield prepare_engine(store, settings), settings
    store.close()


def test_workers_compose_while_the_run_sends_each_digest_once(world: tuple[SearchEngine, Settings],
                                                               smtp_server: SmtpServer) -> None:
    engine, settings = world
    report = run_digests(engine, settings, parallel_from=10)
    assert report.workers == 2 and not report.compose_busy
    assert (report.composed.due, report.composed.queued, report.sent.sent) == (READERS, READERS, READERS)
    assert report.composed.searches_run == len(QUERIES)  # searched once, in the run's process
    received = sorted(m["To"] for m in smtp_server.handler.messages())
    assert received == sorted(f"reader{n}@example.org" for n in range(READERS))  # nobody twice, nobody skipped
    assert engine.store.mail.outbox_counts() == {"sent": READERS}
    again = run_digests(engine, settings, parallel_from=10)
    assert (again.composed.due, again.sent.sent) == (0, 0)


def test_a_lock_is_held_by_one_holder_across_processes_or_hosts(world: tuple[SearchEngine, Settings],
                                                                 store_url: str) -> None:
    engine, _ = world
    other = open_store(store_url)  # another process or host: its own connections and file handles
    try:
        with engine.store.mail.try_lock(COMPOSE_LOCK) as first:
            assert first
            with other.mail.try_lock(COMPOSE_LOCK) as second, other.mail.try_lock(SEND_LOCK) as other_name:
                assert not second and other_name  # names are independent
        with other.mail.try_lock(COMPOSE_LOCK) as after_release:
            assert after_release
    finally:
        other.close()


def test_a_second_run_leaves_composing_and_sending_to_the_holders(world: tuple[SearchEngine, Settings],
                                                                    store_url: str, smtp_server: SmtpServer) -> None:
    engine, settings = world
    other = open_store(store_url)
    try:
        with other.mail.try_lock(COMPOSE_LOCK) as held:
            assert held
            report = run_digests(engine, settings)
        assert report.compose_busy and report.composed.due == 0 and smtp_server.handler.messages() == []
        assert "another process is composing" in report.summary()
        with other.mail.try_lock(SEND_LOCK) as held:
            assert held
            report = run_digests(engine, settings)
        assert report.composed.queued == READERS and report.sent.busy and report.sent.sent == 0
        assert "another process is sending" in report.summary()
    finally:
        other.close()
    assert run_digests(engine, settings).sent.sent == READERS


HOLD = """
import sys, time
from paperfeed.store import open_store
store = open_store(sys.argv[1])
with store.mail.try_lock(sys.argv[2]) as held:
    print("held" if held else "busy", flush=True)
    time.sleep(600)
"""


def test_a_killed_holder_releases_its_lock(world: tuple[SearchEngine, Settings], store_url: str) -> None:
    engine, _ = world
    holder = subprocess.Popen([sys.executable, "-c", HOLD, store_url, COMPOSE_LOCK], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with engine.store.mail.try_lock(COMPOSE_LOCK) as mine:
            assert not mine
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        deadline = time.monotonic() + 30  # PostgreSQL ends the session when it sees the socket close
        while True:
            with engine.store.mail.try_lock(COMPOSE_LOCK) as mine:
                if mine:
                    break
            assert time.monotonic() < deadline, "the killed holder's lock was never released"
            time.sleep(0.05)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
