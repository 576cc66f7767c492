"""`paperfeed bench latency`: end-to-end query latency at N papers.

Builds (or reuses) an N-paper store of generated arXiv-like records in a data dir,
indexes it (keyword + vectors from the bundled static embedder), then measures keyword,
vector and hybrid queries through `search()` in a fresh child process, so the reported
peak RSS is the serving process's, not the builder's. Query embedding is included.
"""

from __future__ import annotations

import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

from paperfeed.bench.corpus import TextMaker, snapshot_records
from paperfeed.config import Settings
from paperfeed.engine import SearchEngine
from paperfeed.ingest import run_ingest
from paperfeed.progress import counter
from paperfeed.sources.arxiv_snapshot import record_to_paper
from paperfeed.store import open_store

QUERIES = 300
WARMUP = 30
MODES = ("bm25", "dense", "hybrid")


def _settings(data_dir: Path, store_url: str | None = None) -> Settings:
    """A SQLite store in `data_dir`, or the database at `store_url` (e.g. postgresql://...)."""
    return Settings.load({"data_dir": str(data_dir), "load_demo": "false", "database_url": store_url or ""},
                         environ={}, dotenv=data_dir / ".env")


def build(data_dir: Path, papers: int, *, progress: bool = True, store_url: str | None = None) -> dict[str, float]:
    """Ingest and index `papers` generated records; skipped if the store already has them."""
    settings = _settings(data_dir, store_url)
    store = open_store(settings.database_url)
    store.migrate()
    timings: dict[str, float] = {}
    have = store.count_papers()
    if have < papers:
        started = time.perf_counter()
        records = snapshot_records(papers)
        items = (record_to_paper(r) for i, r in enumerate(records) if i >= have)
        run_ingest(store, items, on_progress=counter("ingested", papers, offset=have) if progress else None)
        timings["ingest_s"] = round(time.perf_counter() - started, 1)
    engine = SearchEngine.open(settings, store)
    started = time.perf_counter()
    engine.keyword.sync(store, on_progress=counter("keyword-indexed", papers) if progress else None)
    timings["keyword_index_s"] = round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    if engine.vectors is not None and engine.embedder is not None:
        engine.vectors.sync(store, engine.embedder, on_progress=counter("embedded", papers) if progress else None)
    timings["vector_index_s"] = round(time.perf_counter() - started, 1)
    store.close()
    return timings


def queries(count: int, seed: int = 11) -> list[str]:
    """2-4 word queries drawn from the same Zipf vocabulary as the corpus text."""
    maker = TextMaker(seed)
    rng = random.Random(seed)
    return [maker.words_(rng.randint(2, 4)) for _ in range(count)]


def measure(data_dir: Path, store_url: str | None = None) -> dict[str, object]:
    """Run in the serving-like child process: open, warm up, time each mode."""
    from paperfeed.search import search

    settings = _settings(data_dir, store_url)
    store = open_store(settings.database_url)
    engine = SearchEngine.open(settings, store)
    texts = queries(QUERIES + WARMUP)
    result: dict[str, object] = {"papers": store.count_papers(), "embedder": engine.embedder.name if engine.embedder else None}
    for mode in MODES:
        for text in texts[:WARMUP]:
            search(engine, text, limit=10, mode=mode, syntax=False)
        samples = []
        for text in texts[WARMUP:]:
            started = time.perf_counter()
            search(engine, text, limit=10, mode=mode, syntax=False)
            samples.append((time.perf_counter() - started) * 1000)
        samples.sort()
        result[mode] = {f"p{p}": round(samples[min(len(samples) - 1, int(len(samples) * p / 100))], 2) for p in (50, 95, 99)}
    result["serving_peak_rss_mb"] = round(_own_peak_rss_kb() / 1024, 1)
    return result


def _own_peak_rss_kb() -> int:
    """This process's peak RSS. Not getrusage's ru_maxrss: Linux carries that across
    fork + exec, so a probe started by the builder would report the builder's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run_latency_bench(papers: int, data_dir: Path, *, progress: bool = True,
                      store_url: str | None = None) -> dict[str, object]:
    timings = build(data_dir, papers, progress=progress, store_url=store_url)
    child = subprocess.run(
        [sys.executable, "-m", "paperfeed.bench.latency", str(data_dir), *([store_url] if store_url else [])],
        capture_output=True, text=True, check=False,
    )
    if child.returncode != 0:
        raise RuntimeError(f"latency probe failed: {child.stderr.strip()[-2000:]}")
    measured = json.loads(child.stdout.strip().splitlines()[-1])
    build_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {**measured, "build": timings, "build_peak_rss_mb": round(build_rss, 1)}


if __name__ == "__main__":  # the child process of run_latency_bench
    print(json.dumps(measure(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else None)))
