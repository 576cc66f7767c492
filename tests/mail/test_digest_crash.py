"""SIGKILL `paperfeed digest run` mid-run against a real SMTP server on 127.0.0.1, re-run,
and check every due subscriber got exactly one digest (docs/email.md, "What exactly once
means"). The kill points are ones where the relay has not accepted the message: while the
relay holds its reply to DATA (the relay then drops that transaction, as RFC 5321 has it
for a client that vanishes before its reply), and during the throttle's sleep between
messages. The one window this cannot cover, between the relay's 250 and the local commit,
is documented rather than tested here."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from aiosmtpd.smtp import SMTP, Envelope, Session

from paperfeed.ingest import run_ingest
from paperfeed.store import open_store
from tests.conftest import make_paper
from tests.mail.smtp_sink import RecordingHandler, ServerFactory

SUBSCRIBERS = 12


@dataclass
class HoldingHandler(RecordingHandler):
    """Delays its reply to the `hold_at`-th message until released, then refuses it
    unrecorded: the relay never accepted it."""

    hold_at: int = 0
    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.hold_at and len(self.received) + 1 == self.hold_at and not self.release.is_set():
            self.reached.set()
            while not self.release.is_set():
                await asyncio.sleep(0.01)
            return "451 4.3.0 not accepted"
        return await super().handle_DATA(server, session, envelope)


def _wait(condition, timeout: float = 120.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_sigkill_mid_run_then_rerun_delivers_each_digest_once(
        tmp_path: Path, store_url: str, start_smtp: ServerFactory) -> None:
    handler = HoldingHandler(hold_at=4)
    server = start_smtp(handler)
    env = {**os.environ, "PAPERFEED_DATA_DIR": str(tmp_path / "data"), "PAPERFEED_LOAD_DEMO": "false",
           "PAPERFEED_DATABASE_URL": store_url, "PAPERFEED_PUBLIC_URL": "https://papers.example.org",
           "PAPERFEED_SMTP_HOST": "127.0.0.1", "PAPERFEED_SMTP_PORT": str(server.port),
           "PAPERFEED_SMTP_SECURITY": "none", "PAPERFEED_MAIL_FROM": "paperfeed <digest@example.org>",
           "PAPERFEED_MAIL_RATE": "2", "PAPERFEED_SECRET_KEY": "k" * 40}
    store = open_store(store_url)
    store.migrate()
    now = datetime.now(timezone.utc)
    for n in range(SUBSCRIBERS):
        subscriber, _ = store.mail.subscribe(email=f"reader{n}@example.org", now=now)
        store.mail.activate(subscriber.id, now=now, next_due_at=now - timedelta(hours=1), delivered_rev=0)
    run_ingest(store, [make_paper(f"Paper number {n} on graphs") for n in range(3)])
    command = [sys.executable, "-m", "paperfeed", "digest", "run"]

    # Run 1: killed while the relay holds its reply to the 4th message.
    first = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait(handler.reached.is_set)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    handler.release.set()
    assert len(handler.received) == 3
    assert store.mail.outbox_counts() == {"sent": 3, "pending": SUBSCRIBERS - 3}  # composed once, all of it

    # Run 2: killed in the throttle's sleep after the 8th delivery (0.5 s between messages).
    second = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait(lambda: len(handler.received) >= 8)
    time.sleep(0.25)
    second.send_signal(signal.SIGKILL)
    second.wait(timeout=30)
    assert len(handler.received) == 8

    # Run 3: finishes; nobody is composed again, nobody is skipped, nobody gets two.
    third = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert third.returncode == 0, third.stderr
    assert "due 0" in third.stdout and f"sent {SUBSCRIBERS - 8}" in third.stdout
    recipients = sorted(m["To"] for m in handler.messages())
    assert recipients == sorted(f"reader{n}@example.org" for n in range(SUBSCRIBERS))
    assert len({m["Message-ID"] for m in handler.messages()}) == SUBSCRIBERS
    assert store.mail.outbox_counts() == {"sent": SUBSCRIBERS}
    store.close()
