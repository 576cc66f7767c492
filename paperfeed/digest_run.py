"""One `paperfeed digest run`: compose what is due, and send what is due (docs/email.md,
"Scheduling" and "A large run"). Cron, a systemd timer and the optional scheduler in
`serve` all call this; a run with nothing due does nothing.

Two locks keep runs apart, on every host sharing one store (`store.mail.try_lock`: a
PostgreSQL advisory lock, or a file lock beside a SQLite database): one process composes at
a time, and one sends at a time. A run that finds either taken leaves that part to its holder.

A large run (PAPERFEED_DIGEST_WORKERS > 1 and at least PARALLEL_FROM subscribers due)
builds digests in worker processes, a batch of subscribers at a time, while this process
records each returned batch in one transaction (digests, items, outbox rows) and sends
between batches: the outbox is the hand-over. A worker killed mid-batch has written nothing;
a run killed mid-way leaves whole batches, which the next run does not compose again.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from paperfeed.config import Settings
from paperfeed.digest import BATCH, ComposeReport, DigestComposer
from paperfeed.engine import SearchEngine
from paperfeed.mail.outbox import SEND_LOCK, SendReport, send_held
from paperfeed.mail.pacing import Throttle
from paperfeed.mail.transport import mailer_from_settings
from paperfeed.store import open_store
from paperfeed.store.mail_tables import ComposedDigest
from paperfeed.subscriptions import Subscriptions
from paperfeed.tokens import utc_now

log = logging.getLogger("paperfeed.digest")
COMPOSE_LOCK = "digest-compose"
PARALLEL_FROM = 2 * BATCH  # fewer due than this: workers would cost more to start than they save
IDLE_WAIT_S = 0.2  # nothing to send yet: how long to wait for the workers before looking again
SEND_SLICE = 50  # messages sent between looks at the workers' finished batches


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


def run_digests(engine: SearchEngine, settings: Settings, *, clock: Callable[[], datetime] = utc_now,
                parallel_from: int = PARALLEL_FROM) -> RunReport:
    """MailerUnusable (a ConfigError) propagates: the run stops, every message still due.
    Composing workers start when `parallel_from` or more subscribers are due."""
    store = engine.store
    subscriptions = Subscriptions(store, settings, clock=clock)
    mailer = mailer_from_settings(settings)  # before composing: a bad mail setup fails first
    throttle = Throttle(settings.mail.rate_per_second)
    sent = SendReport()
    started = time.perf_counter()
    composed, workers = ComposeReport(), 1
    try:
        with store.mail.try_lock(SEND_LOCK) as sending, store.mail.try_lock(COMPOSE_LOCK) as composing:
            def send_some(limit: int | None = SEND_SLICE) -> int:
                if not sending:
                    return 0
                report = send_held(store, mailer, sender=subscriptions.sender, clock=clock, throttle=throttle,
                                   max_bounces=settings.mail.max_bounces, limit=limit)
                sent.add(report)
                return len(report.outcomes) + report.expired

            if composing:
                now = clock()
                composer = DigestComposer(engine, subscriptions, lambda: now)
                due = store.mail.count_due(now=now)
                workers = settings.mail.digest_workers if due >= parallel_from else 1
                composed = composer.run() if workers == 1 else _compose_in_workers(composer, settings, now, workers,
                                                                                   send_some)
            compose_wall_s = time.perf_counter() - started
            send_some(None)
            sent.busy = not sending
    finally:
        mailer.close()
    return RunReport(composed, sent, compose_busy=not composing, workers=workers, compose_wall_s=compose_wall_s)


def _compose_in_workers(composer: DigestComposer, settings: Settings, now: datetime, workers: int,
                        send_some: Callable[[], int]) -> ComposeReport:
    """Search once here; workers build batches of digests (the CPU work); this thread
    records each batch in one transaction as it comes back, while a sending thread sends.
    Only this process writes, so SQLite's one write lock is never fought over between
    processes (the store's own lock queues the two threads)."""
    store = composer.store
    store.mail.prune_tokens(now=now)
    searches = composer.search_all_due()
    ids = store.mail.due_ids(now=now)
    batches = [ids[start:start + BATCH] for start in range(0, len(ids), BATCH)]
    total = ComposeReport(searches_run=composer.searches_run)
    sender = _Sender(send_some)
    sender.start()
    try:
        # spawn, not fork: this process holds threads (the store's pool, the sender) that a fork would copy mid-state
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=start_worker,
                                 initargs=(settings, now, searches, os.getpid())) as pool:
            running: set[Future[list[ComposedDigest]]] = set()
            while batches or running:
                while batches and len(running) < 2 * workers:  # enough queued to keep every worker busy
                    running.add(pool.submit(compose_batch, batches.pop(0)))
                done, _ = wait(running, timeout=IDLE_WAIT_S, return_when=FIRST_COMPLETED)
                for future in done:  # a worker that died raises BrokenProcessPool here: the run fails loudly
                    total.add(composer.record(future.result(), now))
                running -= done
                sender.check()
    finally:
        sender.finish()
    return total


class _Sender(threading.Thread):
    """Sends while batches are recorded. Its error (e.g. MailerUnusable) is raised in the
    composing thread at the next batch, and by `finish`."""

    def __init__(self, send_some: Callable[[], int]) -> None:
        super().__init__(name="paperfeed-digest-sender", daemon=True)
        self._send_some = send_some
        self._stop_when_idle = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while True:
                finishing = self._stop_when_idle.is_set()
                if not self._send_some():
                    if finishing:
                        return
                    self._stop_when_idle.wait(IDLE_WAIT_S)
        except BaseException as exc:  # noqa: BLE001 - handed to the composing thread
            self.error = exc

    def check(self) -> None:
        if self.error is not None:
            raise self.error

    def finish(self) -> None:
        self._stop_when_idle.set()
        self.join()
        self.check()


_worker: DigestComposer | None = None


def start_worker(settings: Settings, now: datetime, searches: dict[str, list[str]], parent_pid: int) -> None:
    """A composing worker's set-up: its own store connection and the run's search results.
    A watcher ends it if the run's process dies (SIGKILL leaves no one to stop the pool)."""
    global _worker
    store = open_store(settings.database_url)
    _worker = DigestComposer(None, Subscriptions(store, settings, clock=lambda: now), lambda: now,
                             _search_cache=dict(searches))

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1)
        os._exit(1)  # nothing of ours is half written: batches are recorded by the run's process

    threading.Thread(target=watch, name="paperfeed-parent-watch", daemon=True).start()


def compose_batch(ids: list[int]) -> list[ComposedDigest]:
    """In a worker: the digests of those of `ids` still due, built but not recorded."""
    assert _worker is not None, "start_worker runs first"
    now = _worker.clock()
    return _worker.compose_batch(_worker.store.mail.due_among(ids, now=now), now)


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
