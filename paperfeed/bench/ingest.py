"""`paperfeed bench ingest`: bulk-load throughput of the arXiv-snapshot source into SQLite.

Baselines, measured in the same run on the same file: parsing alone (no store), and the
whole ingest in one process (`workers=0`). The ratios show what dedup, normalisation and
SQLite writes cost on top of reading, and what the worker processes buy. Bringing the
keyword and vector indexes (bundled static embedder) up to the store is timed after it,
as `paperfeed ingest` does it; load plus indexes is the end-to-end rate.

CPU time counts the worker processes too (they are reaped when a load ends), so records
per CPU-second is comparable between the one-process and the parallel runs, and is less
skewed than wall time when other jobs share the machine.
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from paperfeed.bench.corpus import write_snapshot
from paperfeed.bulk import default_workers, run_bulk_ingest
from paperfeed.engine import SearchEngine
from paperfeed.index.embed import DEFAULT_EMBEDDER, load_embedder
from paperfeed.index.keyword import KeywordIndex
from paperfeed.index.vectors import VectorIndex
from paperfeed.ingest import IngestReport
from paperfeed.models import Paper
from paperfeed.progress import counter
from paperfeed.sources.arxiv_snapshot import parse_arxiv_snapshot, parse_line
from paperfeed.store import Store, open_store

TARGET_RECORDS_PER_S = 5000
TARGET_END_TO_END_PER_S = 2000  # stored, keyword-indexed and embedded (issue 3's fast path)


def _cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _timed(work: Callable[[], object]) -> tuple[object, float, float, float]:
    """(result, wall seconds, CPU seconds of this process, CPU seconds of the worker
    processes it started and reaped) of one call."""
    started = time.perf_counter()
    own, children = _cpu_seconds(resource.RUSAGE_SELF), _cpu_seconds(resource.RUSAGE_CHILDREN)
    result = work()
    return (
        result,
        time.perf_counter() - started,
        _cpu_seconds(resource.RUSAGE_SELF) - own,
        _cpu_seconds(resource.RUSAGE_CHILDREN) - children,
    )


def _note(phase: str, records: int, wall: float, cpu: float) -> None:
    """One line per finished phase on stderr, so a long run under load shows its figures as
    they come (the full result is printed at the end)."""
    print(f"  {phase}: {records / wall:,.0f} records/s wall, {records / cpu:,.0f} per CPU-second",
          file=sys.stderr, flush=True)


def _load(store: Store, source: Path, workers: int, records: int, progress: bool) -> IngestReport:
    with source.open("rb") as stream:
        show = counter(f"ingested ({workers} workers)", records) if progress else None
        return run_bulk_ingest(store, stream, parse_line, workers=workers, on_progress=show)


def _index(store: Store, folder: Path) -> int:
    """Bring both indexes up to the store the way `paperfeed ingest` does (`SearchEngine.sync`:
    keyword and vectors side by side), vectors from the bundled static embedder."""
    embedder = load_embedder(DEFAULT_EMBEDDER)
    identity = store.identity()
    engine = SearchEngine(
        store=store,
        keyword=KeywordIndex(folder / "keyword", store_identity=identity),
        vectors=VectorIndex(folder / "vectors", store_identity=identity, model_name=embedder.name, dim=embedder.dim),
        embedder=embedder,
    )
    return engine.sync()


def run_ingest_bench(records: int, *, progress: bool = True, workers: int | None = None) -> dict[str, object]:
    workers = default_workers() if workers is None else workers
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="paperfeed-bench-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        source = write_snapshot(folder / "snapshot.jsonl", records)
        generate_s = time.perf_counter() - started

        def parse_all() -> int:
            with source.open("rb") as stream:
                return sum(1 for item in parse_arxiv_snapshot(stream) if isinstance(item, Paper))

        parsed, parse_s, parse_cpu, _ = _timed(parse_all)
        _note("parse only", records, parse_s, parse_cpu)

        one_store = open_store(f"sqlite:///{folder / 'one-process.sqlite3'}")
        one_store.migrate()
        _, single_s, single_cpu, _ = _timed(lambda: _load(one_store, source, 0, records, progress))
        _note("ingest in one process", records, single_s, single_cpu)
        one_store.close()

        store = open_store(f"sqlite:///{folder / 'bench.sqlite3'}")
        store.migrate()
        report, ingest_s, main_cpu, workers_cpu = _timed(lambda: _load(store, source, workers, records, progress))
        _note(f"ingest with {workers} workers", records, ingest_s, main_cpu + workers_cpu)

        indexed, index_s, index_main_cpu, index_child_cpu = _timed(lambda: _index(store, folder))
        index_cpu = index_main_cpu + index_child_cpu  # a bulk keyword sync runs in a child process
        _note("keyword + vector indexes", records, index_s, index_cpu)

        rerun, rerun_s, _, _ = _timed(lambda: _load(store, source, workers, records, False))
        stored = store.count_papers()
        store.close()  # checkpoints the WAL into the file, so its size is the store's
        db_bytes = sum(f.stat().st_size for f in folder.glob("bench.sqlite3*"))
    assert isinstance(report, IngestReport) and isinstance(rerun, IngestReport)
    assert isinstance(parsed, int) and indexed == records
    parse_rate, single_rate, ingest_rate = parsed / parse_s, records / single_s, records / ingest_s
    return {
        "records": records,
        "workers": workers,
        "load_avg_before": [round(x, 2) for x in load_before],
        "load_avg_after": [round(x, 2) for x in os.getloadavg()],
        "generate_s": round(generate_s, 2),
        "parse_only_records_per_s": round(parse_rate),
        "parse_records_per_cpu_s": round(parsed / parse_cpu),
        "one_process_ingest_records_per_s": round(single_rate),
        "one_process_ingest_records_per_cpu_s": round(records / single_cpu),
        "ingest_s": round(ingest_s, 2),
        "ingest_records_per_s": round(ingest_rate),
        "ingest_records_per_cpu_s": round(records / (main_cpu + workers_cpu)),
        # Per record: the main process (reading, dedup, SQLite) and the workers (parsing,
        # normalising, building rows). On idle cores wall time is at least the larger of
        # main CPU and total CPU / cores.
        "ingest_main_cpu_us_per_record": round(main_cpu / records * 1e6),
        "ingest_workers_cpu_us_per_record": round(workers_cpu / records * 1e6),
        "ingest_vs_parse_ratio": round(ingest_rate / parse_rate, 3),
        "ingest_vs_one_process_ratio": round(ingest_rate / single_rate, 3),
        # keyword index + static embedding + (past 50k) the HNSW graph, both indexes at once
        "index_s": round(index_s, 2),
        "index_cpu_us_per_paper": round(index_cpu / records * 1e6),
        "index_papers_per_s": round(records / index_s),
        "end_to_end_papers_per_s": round(records / (ingest_s + index_s)),
        "target_end_to_end_papers_per_s": TARGET_END_TO_END_PER_S,
        "rerun_records_per_s": round(records / rerun_s),
        "rerun_added": rerun.added,
        "papers_stored": stored,
        "report": report.summary(),
        "db_mb": round(db_bytes / 1e6, 1),
        "target_records_per_s": TARGET_RECORDS_PER_S,
        "meets_target_wall": ingest_rate >= TARGET_RECORDS_PER_S,
    }
