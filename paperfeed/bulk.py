"""Bulk loads of JSON-lines files, with the per-record work spread over worker processes.

The main process reads lines (bounded, as `lines.iter_lines` does) and hands chunks of
them to worker processes, which parse, normalise and turn each record into the row the
store writes (`ingest.prepare_row`): about three quarters of ingest's CPU time, and none
of it needs the store. The rows come back in input order and go through `run_ingest`
like any other items, so dedup, merges and one-transaction-per-batch writes (and with
them idempotence and kill safety) stay in one place, in the main process.

Rows cross the process boundary, not Paper objects: pickling a Paper (nested dataclasses,
datetimes) costs more than building its row.
"""

from __future__ import annotations

import itertools
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import datetime, timezone
from multiprocessing import get_context
from typing import BinaryIO

from paperfeed.ingest import DEFAULT_BATCH_SIZE, IngestReport, prepare_row, run_ingest
from paperfeed.models import Rejected, SourceItem
from paperfeed.sources.lines import TooLong, iter_lines
from paperfeed.store import Store
from paperfeed.store.rows import PaperRow, to_iso

# (line number, line) -> Paper or Rejected; must be a module-level function (pickled by name).
LineParser = Callable[[int, bytes], SourceItem]
Chunk = list[tuple[int, bytes] | Rejected]

CHUNK_LINES = 1000  # per task: large enough that pickling overhead stays small
_IN_FLIGHT_PER_WORKER = 2  # chunks queued per worker: keeps workers busy, memory bounded


def default_workers() -> int:
    """One worker process per usable core (the main process's share is the smaller one)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 8))


def prepared_rows(
    stream: BinaryIO, parse_line: LineParser, *, now: datetime, workers: int, chunk_lines: int = CHUNK_LINES
) -> Iterator[PaperRow | Rejected]:
    """Rows (or rejections) for every line of `stream`, in input order.

    `workers=0`, or input that fits in one chunk, runs in this process: starting worker
    processes costs more than a small file.
    """
    stamp = to_iso(now) or ""
    chunks = _chunks(stream, chunk_lines)
    head = list(itertools.islice(chunks, 2))
    if workers < 1 or len(head) < 2:
        for chunk in itertools.chain(head, chunks):
            yield from prepare_chunk(parse_line, chunk, now, stamp)
        return
    yield from _in_workers(itertools.chain(head, chunks), parse_line, now, stamp, workers)


def prepare_chunk(parse_line: LineParser, chunk: Chunk, now: datetime, stamp: str) -> list[PaperRow | Rejected]:
    """What a worker does with one chunk of lines."""
    out: list[PaperRow | Rejected] = []
    for entry in chunk:
        item = entry if isinstance(entry, Rejected) else parse_line(*entry)
        out.append(item if isinstance(item, Rejected) else prepare_row(item, now=now, stamp=stamp))
    return out


def _chunks(stream: BinaryIO, size: int) -> Iterator[Chunk]:
    chunk: Chunk = []
    for line_no, content in iter_lines(stream):
        if isinstance(content, TooLong):
            chunk.append(Rejected(where=f"line {line_no}", reason=content.reason))
        else:
            chunk.append((line_no, content))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _in_workers(
    chunks: Iterator[Chunk], parse_line: LineParser, now: datetime, stamp: str, workers: int
) -> Iterator[PaperRow | Rejected]:
    pool = ProcessPoolExecutor(
        workers, mp_context=get_context("spawn"), initializer=_start_worker, initargs=(os.getpid(),)
    )
    pending: deque[Future[list[PaperRow | Rejected]]] = deque()
    try:
        for chunk in chunks:
            pending.append(pool.submit(prepare_chunk, parse_line, chunk, now, stamp))
            while len(pending) > _IN_FLIGHT_PER_WORKER * workers:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()
    finally:  # also when the consumer stops early (an error while writing)
        pool.shutdown(wait=True, cancel_futures=True)


def _start_worker(parent_pid: int) -> None:
    """Ctrl-C is the parent's to handle; and a worker outlives a killed parent by at most
    a second (a SIGKILLed parent cannot stop its workers, and they would wait forever)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def exit_when_orphaned() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=exit_when_orphaned, name="orphan-watch", daemon=True).start()


def run_bulk_ingest(
    store: Store,
    stream: BinaryIO,
    parse_line: LineParser,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    workers: int | None = None,
    chunk_lines: int = CHUNK_LINES,
    on_progress: Callable[[int], None] | None = None,
) -> IngestReport:
    """`run_ingest` over a JSON-lines stream, parsing in `workers` processes (default:
    one per core). Same outcomes, same guarantees, same report."""
    now = datetime.now(timezone.utc)
    count = default_workers() if workers is None else workers
    rows = prepared_rows(stream, parse_line, now=now, workers=count, chunk_lines=chunk_lines)
    return run_ingest(store, rows, batch_size=batch_size, clock=lambda: now, on_progress=on_progress)
