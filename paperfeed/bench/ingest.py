"""`paperfeed bench ingest`: bulk-load throughput of the arXiv-snapshot source into SQLite.

Baseline, measured in the same run on the same file: parsing alone (no store). The ratio
ingest/parse shows what dedup, normalisation and SQLite writes cost on top of reading.
Building the keyword index from the store is timed separately (it follows the store).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from paperfeed.bench.corpus import write_snapshot
from paperfeed.index.keyword import KeywordIndex
from paperfeed.ingest import run_ingest
from paperfeed.models import Paper
from paperfeed.progress import counter
from paperfeed.sources.arxiv_snapshot import parse_arxiv_snapshot
from paperfeed.store import open_store

TARGET_RECORDS_PER_S = 5000


def run_ingest_bench(records: int, *, progress: bool = True) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="paperfeed-bench-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        source = write_snapshot(folder / "snapshot.jsonl", records)
        generate_s = time.perf_counter() - started

        started, cpu_started = time.perf_counter(), time.process_time()
        with source.open("rb") as stream:
            parsed = sum(1 for item in parse_arxiv_snapshot(stream) if isinstance(item, Paper))
        parse_s, parse_cpu = time.perf_counter() - started, time.process_time() - cpu_started

        store = open_store(f"sqlite:///{folder / 'bench.sqlite3'}")
        store.migrate()
        started, cpu_started = time.perf_counter(), time.process_time()
        with source.open("rb") as stream:
            report = run_ingest(store, parse_arxiv_snapshot(stream), on_progress=counter("ingested", records) if progress else None)
        ingest_s, ingest_cpu = time.perf_counter() - started, time.process_time() - cpu_started

        started = time.perf_counter()
        keyword = KeywordIndex(folder / "keyword", store_identity=store.identity())
        indexed = keyword.sync(store)
        index_s = time.perf_counter() - started

        started = time.perf_counter()
        with source.open("rb") as stream:
            rerun = run_ingest(store, parse_arxiv_snapshot(stream))
        rerun_s = time.perf_counter() - started
        stored = store.count_papers()
        db_bytes = (folder / "bench.sqlite3").stat().st_size
        store.close()
    ingest_rate = records / ingest_s
    return {
        "records": records,
        "generate_s": round(generate_s, 2),
        "parse_only_records_per_s": round(parsed / parse_s),
        "ingest_s": round(ingest_s, 2),
        "ingest_records_per_s": round(ingest_rate),
        "ingest_vs_parse_ratio": round(ingest_rate / (parsed / parse_s), 3),
        # Ingest runs on one thread: records per CPU-second is what an idle core would do,
        # and it is not skewed by other load on a shared machine.
        "parse_records_per_cpu_s": round(parsed / parse_cpu),
        "ingest_records_per_cpu_s": round(records / ingest_cpu),
        "keyword_index_papers_per_s": round(indexed / index_s),
        "ingest_and_index_papers_per_s": round(records / (ingest_s + index_s)),
        "rerun_records_per_s": round(records / rerun_s),
        "rerun_added": rerun.added,
        "papers_stored": stored,
        "report": report.summary(),
        "db_mb": round(db_bytes / 1e6, 1),
        "target_records_per_s": TARGET_RECORDS_PER_S,
        "meets_target_wall": ingest_rate >= TARGET_RECORDS_PER_S,
        "meets_target_cpu": records / ingest_cpu >= TARGET_RECORDS_PER_S,
    }
