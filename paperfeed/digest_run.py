"""One `paperfeed digest run`: compose what is due, then send what is due (docs/email.md,
"Scheduling"). Cron, a systemd timer and the optional scheduler in `serve` all call this;
a run with nothing due does nothing, and the outbox lock keeps overlapping runs apart."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from paperfeed.config import Settings
from paperfeed.digest import ComposeReport, DigestComposer
from paperfeed.engine import SearchEngine
from paperfeed.mail.outbox import SendReport, send_due
from paperfeed.mail.pacing import Throttle
from paperfeed.mail.transport import mailer_from_settings
from paperfeed.subscriptions import Subscriptions
from paperfeed.tokens import utc_now

log = logging.getLogger("paperfeed.digest")


@dataclass(frozen=True)
class RunReport:
    composed: ComposeReport
    sent: SendReport

    def summary(self) -> str:
        c, s = self.composed, self.sent
        busy = "; another process is sending, left to it" if s.busy else ""
        return (f"due {c.due}, queued {c.queued}, empty {c.empty}, searches {c.searches_run}; "
                f"sent {s.sent}, retry later {s.retried}, refused {s.failed}, expired {s.expired}{busy}")


def run_digests(engine: SearchEngine, settings: Settings, *, clock: Callable[[], datetime] = utc_now) -> RunReport:
    """MailerUnusable (a ConfigError) propagates: the run stops, every message still due."""
    subscriptions = Subscriptions(engine.store, settings, clock=clock)
    mailer = mailer_from_settings(settings)  # before composing: a bad mail setup fails first
    try:
        composed = DigestComposer(engine, subscriptions, clock).run()
        sent = send_due(engine.store, mailer, sender=subscriptions.sender, clock=clock, data_dir=settings.data_dir,
                        throttle=Throttle(settings.mail.rate_per_second), max_bounces=settings.mail.max_bounces)
    finally:
        mailer.close()
    return RunReport(composed, sent)


def start_scheduler(engine: SearchEngine, settings: Settings, *, every_s: float) -> threading.Event:
    """`serve`'s optional in-process scheduler: a daemon thread running `run_digests` every
    `every_s` seconds until the returned event is set."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every_s):
            try:
                log.info("digest run: %s", run_digests(engine, settings).summary())
            except Exception:  # noqa: BLE001 - keep serving; the next tick tries again
                log.exception("digest run failed")

    threading.Thread(target=loop, name="paperfeed-digests", daemon=True).start()
    return stop
