"""`paperfeed bench trending`: render time of the trending page at N papers and V votes.

Builds (or reuses) a SQLite store in a data dir: N generated arXiv-like records (the
corpus of the other benches) whose publication times are spread evenly over the three
years before the build, and V votes from V/10 users cast over the last month, loaded in
bulk through the store (`import_votes`, which computes each paper's heat). Votes are
skewed as on a real site: 90% go to papers of the last five weeks, drawn with Zipf weights
so a few papers collect hundreds of votes and most get one or none; 10% go to older papers.

Then, like `bench render`, it calls the ASGI app directly (routing, thread hop, data
function, template, body; no socket) with the clock pinned to the build time, and reports
p50/p95 wall and CPU time of the trending page, its JSON twin and its Atom feed for the
day, week and month views. The search indexes are not built: these pages do not use them.
"""

from __future__ import annotations

import itertools
import json
import random
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Iterator

from paperfeed.bench.corpus import TextMaker, snapshot_record
from paperfeed.bench.latency import _settings
from paperfeed.bench.render import REQUESTS, WARMUP, time_pages
from paperfeed.engine import SearchEngine
from paperfeed.ingest import run_ingest
from paperfeed.progress import counter
from paperfeed.sources.arxiv_snapshot import record_to_paper
from paperfeed.store import open_store
from paperfeed.store.rows import from_iso, to_iso

SPAN = timedelta(days=3 * 365)  # papers are published evenly over this span before the build
VOTE_WINDOW = timedelta(days=30)  # votes fall in the last month
RECENT = timedelta(days=35)  # "recent" papers: the ones that collect most votes
RECENT_SHARE = 0.9
ZIPF_S = 0.7  # weight of the k-th most popular recent paper: 1 / k ** s (top one ~1% of votes)
MANIFEST = "trending-bench.json"  # build time and sizes, so a rerun reuses the same store
VIEWS = ("day", "week", "month")


def dated_records(count: int, anchor: datetime, start: int = 0) -> Iterator[dict[str, object]]:
    """The bench corpus, newest first: record n is published (count - n) * SPAN / count
    before `anchor`, and the i-th one written is n = count - 1 - i. Newest first, so a
    build stopped early (or resumed from `start`) already holds the recent papers that
    trending reads, at the full corpus's papers-per-day density."""
    step = SPAN / count
    maker = TextMaker(seed=1009 + start)  # not the other benches' stream: titles stay distinct
    for i in range(start, count):
        n = count - 1 - i
        record = snapshot_record(n, maker)
        published = anchor - step * (count - n) + timedelta(seconds=1)
        created = [min(anchor, published + timedelta(days=3 * v)) for v in range(len(record["versions"]))]  # type: ignore[arg-type]
        record["versions"] = [{"version": f"v{v + 1}", "created": format_datetime(at, usegmt=True)}
                              for v, at in enumerate(created)]
        record["update_date"] = created[-1].date().isoformat()
        yield record


def _vote_time(rng: random.Random, published: datetime | None, anchor: datetime) -> datetime:
    """Most votes come within a day or two of publication, none before it or in the future;
    votes on old papers (`published` None) fall anywhere in the window."""
    if published is None:
        return anchor - VOTE_WINDOW * rng.random()
    earliest = max(published, anchor - VOTE_WINDOW)
    at = earliest + timedelta(days=rng.expovariate(1 / 1.5))
    return at if at <= anchor else earliest + (anchor - earliest) * rng.random()


def generate_votes(store: object, votes: int, users: list[int], anchor: datetime,
                   seed: int = 17) -> list[tuple[int, str, datetime]]:
    """`votes` distinct (user, paper) votes with the skew described in the module doc."""
    rng = random.Random(seed)
    recent = [(r["id"], from_iso(r["published"])) for r in store._reader().execute(  # type: ignore[attr-defined]
        "SELECT id, published FROM papers WHERE published >= ?", [to_iso(anchor - RECENT)])]
    rng.shuffle(recent)  # popularity does not follow publication order
    cum_weights = list(itertools.accumulate(1 / (k + 1) ** ZIPF_S for k in range(len(recent))))
    total_papers = store.count_papers()  # type: ignore[attr-defined]
    chosen: dict[tuple[int, str], datetime] = {}
    while len(chosen) < votes:
        want = votes - len(chosen)
        n_recent = sum(1 for _ in range(want) if rng.random() < RECENT_SHARE)
        picks: list[tuple[str, datetime | None]] = rng.choices(recent, cum_weights=cum_weights, k=n_recent)
        old_ids = store.ids_for_pks(rng.sample(range(1, total_papers + 1), want - n_recent))  # type: ignore[attr-defined]
        picks += [(pid, None) for pid in old_ids.values()]
        for paper_id, published in picks:
            key = (rng.choice(users), paper_id)
            if key not in chosen and len(chosen) < votes:
                chosen[key] = _vote_time(rng, published, anchor)
    return [(user, paper, at) for (user, paper), at in chosen.items()]


def build(data_dir: Path, papers: int, votes: int, *, progress: bool = True) -> dict[str, object]:
    """Ingest `papers` dated records and load `votes` votes; reused when the manifest matches."""
    manifest_path = data_dir / MANIFEST
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    if manifest.get("papers") == papers and manifest.get("votes") == votes:
        return manifest
    data_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(_settings(data_dir).database_url)
    store.migrate()
    anchor = datetime.fromisoformat(manifest["anchor"]) if "anchor" in manifest else \
        datetime.now(timezone.utc).replace(microsecond=0)
    have = store.count_papers()
    if have and "anchor" not in manifest:
        raise RuntimeError(f"{data_dir} holds papers not built by this bench; use an empty --data-dir.")
    manifest_path.write_text(json.dumps({"anchor": anchor.isoformat()}))
    timings: dict[str, object] = {"anchor": anchor.isoformat()}
    started = time.perf_counter()
    items = (record_to_paper(r) for r in dated_records(papers, anchor, start=have))
    run_ingest(store, items, on_progress=counter("ingested", papers, offset=have) if progress else None)
    timings["ingest_s"] = round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    community = store.community
    users = [community.get_or_create_user(f"bench{u}@example.org", display_name=f"reader {u}", now=anchor).id
             for u in range(max(10, votes // 10))]
    loaded = community.import_votes(generate_votes(store, votes, users, anchor))
    timings["votes_s"] = round(time.perf_counter() - started, 1)
    store.close()
    manifest = {**timings, "papers": papers, "votes": loaded, "users": len(users)}
    manifest_path.write_text(json.dumps(manifest))
    return manifest


def _urls(rng: random.Random) -> dict[str, list[str]]:
    total = REQUESTS + WARMUP
    kinds = {"html": "/trending", "json": "/api/v1/trending", "atom": "/feeds/trending.atom"}
    # limit varies a little (29-30) so no layer can answer from a one-entry cache
    return {f"{kind}_{view}": [f"{path}?view={view}&limit={rng.randint(29, 30)}" for _ in range(total)]
            for kind, path in kinds.items() for view in VIEWS}


def measure(data_dir: Path, anchor: datetime) -> dict[str, object]:
    from paperfeed.web.app import create_app

    settings = _settings(data_dir)
    store = open_store(settings.database_url)
    engine = SearchEngine.open(settings, store)
    app = create_app(settings, engine=engine)
    app.state.clock = lambda: anchor  # the votes are relative to the build time
    result: dict[str, object] = {"papers": store.count_papers(), "requests_per_kind": REQUESTS}
    try:
        result.update(time_pages(app, _urls(random.Random(5))))
    finally:
        store.close()
    return result


def run_trending_bench(papers: int, votes: int, data_dir: Path, *, progress: bool = True) -> dict[str, object]:
    manifest = build(data_dir, papers, votes, progress=progress)
    return {**measure(data_dir, datetime.fromisoformat(str(manifest["anchor"]))), "build": manifest}
