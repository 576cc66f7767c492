"""One `paperfeed digest run`: compose what is due, and send what is due (docs/email.md,
"Scheduling" and "A large run"). Cron, a systemd timer and the optional scheduler in
`serve` all call this; a run with nothing due does nothing.

Two locks keep runs apart, on every host sharing one store (`store.mail.try_lock`: a
PostgreSQL advisory lock, or a file lock beside a SQLite database): one process composes at
a time, and one sends at a time. A run that finds either taken leaves that part to its holder.

A large run (PAPERFEED_DIGEST_WORKERS > 1 and at least PARALLEL_FROM subscribers due)
composes in worker processes, each taking the due subscribers with `id % n = k`, while this
process sends what they queue: the outbox is the hand-over, and each batch is committed with
its outbox rows, so a worker killed mid-batch leaves nothing half done.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from paperfeed.config import Settings
from paperfeed.digest import BATCH, ComposeReport, DigestComposer
from paperfeed.engine import SearchEngine
from paperfeed.mail.outbox import SendReport, send_due
from paperfeed.mail.pacing import Throttle
from paperfeed.mail.transport import Mailer, mailer_from_settings
from paperfeed.store import open_store
from paperfeed.subscriptions import Subscriptions
from paperfeed.tokens import utc_now

log = logging.getLogger("paperfeed.digest")
COMPOSE_LOCK = "digest-compose"
PARALLEL_FROM = 2 * BATCH  # fewer due than this: workers would cost more to start than they save
IDLE_WAIT_S = 0.2  # nothing to send yet: how long to wait for the workers before looking again


@dataclass(frozen=True)
class RunReport:
    composed: ComposeReport
    sent: SendReport
    compose_busy: bool = False  # another process held the compose lock
    workers: int = 1
    compose_wall_s: float = 0.0  # from the start until every digest was queued

    def summary(self) -> str:
        c, s = self.composed, self.sent
        composing = "; another process is composing, left to it" if self.compose_busy else ""
        busy = "; another process is sending, left to it" if s.busy else ""
        return (f"due {c.due}, queued {c.queued}, empty {c.empty}, searches {c.searches_run}{composing}; "
                f"sent {s.sent}, retry later {s.retried}, refused {s.failed}, expired {s.expired}{busy}")


def run_digests(engine: SearchEngine, settings: Settings, *, clock: Callable[[], datetime] = utc_now) -> RunReport:
    """MailerUnusable (a ConfigError) propagates: the run stops, every message still due."""
    store = engine.store
    subscriptions = Subscriptions(store, settings, clock=clock)
    mailer = mailer_from_settings(settings)  # before composing: a bad mail setup fails first
    throttle = Throttle(settings.mail.rate_per_second)
    sent = SendReport()
    started = time.perf_counter()

    def send_some() -> int:
        report = _send(store, mailer, subscriptions.sender, clock, throttle, settings)
        sent.add(report)
        return report.sent + report.retried + report.failed + report.expired

    try:
        with store.mail.try_lock(COMPOSE_LOCK) as composing:
            composed, workers = ComposeReport(), 1
            if composing:
                now = clock()
                composer = DigestComposer(engine, subscriptions, lambda: now)
                workers = settings.mail.digest_workers if store.mail.count_due(now=now) >= PARALLEL_FROM else 1
                composed = composer.run() if workers == 1 else _compose_in_workers(composer, settings, now, workers,
                                                                                   send_some)
        compose_wall_s = time.perf_counter() - started
        send_some()
    finally:
        mailer.close()
    return RunReport(composed, sent, compose_busy=not composing, workers=workers, compose_wall_s=compose_wall_s)


def _send(store, mailer: Mailer, sender: str, clock: Callable[[], datetime], throttle: Throttle,  # type: ignore[no-untyped-def]
          settings: Settings) -> SendReport:
    return send_due(store, mailer, sender=sender, clock=clock, throttle=throttle, max_bounces=settings.mail.max_bounces)


def _compose_in_workers(composer: DigestComposer, settings: Settings, now: datetime, workers: int,
                        send_some: Callable[[], int]) -> ComposeReport:
    """Search once here, compose in `workers` processes, send meanwhile."""
    searches = composer.search_all_due()
    composer.store.mail.prune_tokens(now=now)
    total = ComposeReport(searches_run=composer.searches_run)
    # spawn, not fork: this process holds threads (the store's pool, torch) that a fork would copy mid-state
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(compose_share, settings, now, (k, workers), searches, os.getpid())
                   for k in range(workers)]
        while not all(future.done() for future in futures):
            if not send_some():
                wait(futures, timeout=IDLE_WAIT_S, return_when=FIRST_COMPLETED)
        for future in futures:
            total.add(future.result())  # a worker that died raises BrokenProcessPool here: the run fails loudly
    return total


def compose_share(settings: Settings, now: datetime, share: tuple[int, int], searches: dict[str, list[str]],
                  parent_pid: int) -> ComposeReport:
    """A worker process: compose the due subscribers of `share` with the run's search
    results. It stops after its current batch if the run's process is gone (killed), so a
    re-run does not race an orphan for long; the (subscriber, period) key keeps even that safe."""
    store = open_store(settings.database_url)
    try:
        composer = DigestComposer(None, Subscriptions(store, settings, clock=lambda: now), lambda: now,
                                  _search_cache=dict(searches))
        return composer.run(share=share, stop=lambda: os.getppid() != parent_pid)
    finally:
        store.close()


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
