"""`paperfeed bench quality`: nDCG@10 and Recall@100 on a BEIR-format directory, through
the real ingest and search code (a temporary store built from the corpus file)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator

from paperfeed.bench.beir import BeirSet, load_beir
from paperfeed.bench.metrics import evaluate
from paperfeed.config import Settings
from paperfeed.ingest import run_ingest
from paperfeed.engine import SearchEngine
from paperfeed.search import search
from paperfeed.sources.jsonl import open_maybe_gzip, parse_jsonl
from paperfeed.store import open_store

DEPTH = 100  # Recall@100 needs the top 100


def build_engine(beir: BeirSet, data_dir: Path) -> SearchEngine:
    settings = Settings.load({"data_dir": str(data_dir), "load_demo": "false"}, environ={}, dotenv=data_dir / ".env")
    store = open_store(settings.database_url)
    store.migrate()
    with open_maybe_gzip(beir.corpus) as stream:
        report = run_ingest(store, parse_jsonl(stream, source=f"beir-{beir.name}"))
    if report.rejected_count:
        raise RuntimeError(f"corpus rejected {report.rejected_count} records: {report.rejected[:3]}")
    engine = SearchEngine.open(settings, store)
    engine.sync()
    return engine


def run_method(engine: SearchEngine, beir: BeirSet, mode: str) -> dict[str, object]:
    started = time.perf_counter()
    ranked = {
        qid: [paper.id for paper in search(engine, text, limit=DEPTH, syntax=False, mode=mode).papers]
        for qid, text in beir.queries.items()
    }
    elapsed = time.perf_counter() - started
    return {"dataset": beir.name, "method": mode, **evaluate(ranked, beir.qrels),
            "ms_per_query": round(1000 * elapsed / max(1, len(beir.queries)), 2)}


def run_quality_bench(dataset: Path, *, split: str = "test", methods: tuple[str, ...] = ("bm25",),
                      report: Callable[[dict[str, object]], None] = print) -> Iterator[dict[str, object]]:
    beir = load_beir(dataset, split)
    with tempfile.TemporaryDirectory(prefix="paperfeed-quality-") as tmp:
        started = time.perf_counter()
        engine = build_engine(beir, Path(tmp))
        build_s = time.perf_counter() - started
        for mode in methods:
            row = run_method(engine, beir, mode)
            row["build_s"] = round(build_s, 1)
            yield row
        engine.store.close()
