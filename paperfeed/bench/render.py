"""`paperfeed bench render`: server-side render time of the pages at N papers.

Builds (or reuses) the same N-paper store as `bench latency` (generated arXiv-like
records, indexed with the bundled static embedder), then calls the ASGI app directly
for each page in one event loop, as uvicorn would after reading the request (routing,
the thread hop of sync routes, data function, template, body; no socket, no HTTP
client), and reports p50/p95 wall time per page kind, plus CPU time per request (process CPU,
all threads) and the HTML size. Papers and days are drawn at random with a fixed seed.
"""

from __future__ import annotations

import asyncio
import random
import time
from datetime import date
from pathlib import Path
from typing import Awaitable, Callable

from paperfeed.bench.latency import _settings, build, queries
from paperfeed.engine import SearchEngine
from paperfeed.store import open_store

REQUESTS = 200
WARMUP = 20


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    pick = lambda p: ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]  # noqa: E731
    return {"p50": round(pick(50), 2), "p95": round(pick(95), 2)}


async def _time(get: Callable[[str], Awaitable[tuple[int, int]]], urls: list[str]) -> dict[str, object]:
    for url in urls[:WARMUP]:
        await get(url)
    wall, cpu, sizes = [], [], []
    for url in urls[WARMUP:]:
        started, started_cpu = time.perf_counter(), time.process_time()
        status, size = await get(url)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        if status != 200:
            raise RuntimeError(f"{url} answered {status}")
        sizes.append(size)
    return {"wall_ms": _percentiles(wall), "cpu_ms": _percentiles(cpu),
            "html_kb_median": round(sorted(sizes)[len(sizes) // 2] / 1024, 1)}


def _page_urls(engine: SearchEngine, rng: random.Random) -> dict[str, list[str]]:
    total = REQUESTS + WARMUP
    store = engine.store
    count = store.count_papers()
    found = store.ids_for_pks(rng.sample(range(1, count + 1), min(count, 2 * total)))  # row numbers are 1..N
    ids = list(found.values())[:total]
    days = sorted({p.published.date() for pid in ids[:60] if (p := store.get_paper(pid)) and p.published})
    day_of = lambda: rng.choice(days) if days else date.today()  # noqa: E731
    words = queries(total, seed=5)
    return {
        "home_day": [f"/?date={day_of().isoformat()}&page={rng.randint(1, 20)}" for _ in range(total)],
        "home_week": [f"/?view=week&date={day_of().isoformat()}" for _ in range(total)],
        "paper": [f"/papers/{pid}" for pid in ids],
        "search": [f"/search?q={w.replace(' ', '+')}" for w in words],
        "feed_atom_newest": [f"/feeds/papers.atom?limit={rng.randint(45, 50)}" for _ in range(total)],
        "feed_atom_category": [f"/feeds/category/{c}.atom" for c in rng.choices(["cs.CL", "cs.LG", "cs.CV"], k=total)],
    }


async def _call(app: Callable[..., Awaitable[None]], url: str) -> tuple[int, int]:
    """One GET through the ASGI interface; returns (status, body bytes)."""
    path, _, query = url.partition("?")
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
             "query_string": query.encode(), "headers": [(b"host", b"bench")],
             "client": ("127.0.0.1", 1), "server": ("bench", 80)}
    status, size = 0, 0

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        nonlocal status, size
        if message["type"] == "http.response.start":
            status = int(message["status"])  # type: ignore[call-overload]
        elif message["type"] == "http.response.body":
            size += len(message.get("body", b""))  # type: ignore[arg-type]

    await app(scope, receive, send)
    return status, size


def measure(data_dir: Path) -> dict[str, object]:
    from paperfeed.web.app import create_app

    settings = _settings(data_dir)
    store = open_store(settings.database_url)
    engine = SearchEngine.open(settings, store)
    urls = _page_urls(engine, random.Random(3))
    result: dict[str, object] = {"papers": store.count_papers(), "requests_per_kind": REQUESTS}
    app = create_app(settings, engine=engine)
    try:
        result.update(time_pages(app, urls))
    finally:
        store.close()
    return result


def time_pages(app: Callable[..., Awaitable[None]], urls: dict[str, list[str]]) -> dict[str, object]:
    """Timings of each kind's URLs through `app`, in one long-lived event loop and thread
    pool, as under uvicorn."""
    timings: dict[str, object] = {}

    async def run_all() -> None:
        for kind, kind_urls in urls.items():
            timings[kind] = await _time(lambda url: _call(app, url), kind_urls)

    asyncio.run(run_all())
    return timings


def run_render_bench(papers: int, data_dir: Path, *, progress: bool = True) -> dict[str, object]:
    timings = build(data_dir, papers, progress=progress)
    return {**measure(data_dir), "build": timings}
