"""Search: a query string -> ranked papers.

Every ranker returns list[SearchHit] and fusion takes lists of them; `search()` is the one
entry point the web pages, the JSON API and the CLI call, so adding a ranker touches no
edge. Rankers: `keyword_hits` (BM25), `semantic_hits` (embeddings), `hybrid_hits`
(weighted reciprocal-rank fusion of the two). `SearchEngine` (engine.py) bundles the
store with the indexes that follow it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

from paperfeed.engine import SearchEngine
from paperfeed.errors import InvalidInput
from paperfeed.identity import normalise_title
from paperfeed.models import Paper, PaperFilter, SearchHit
from paperfeed.query import ParsedQuery, parse_query, plain_query

MAX_RESULTS = 1000
SORTS = ("relevance", "newest")
MODES = ("hybrid", "bm25", "dense")
CANDIDATES = 100  # per ranker, before fusion
NEWEST_POOL = 200  # "newest" re-sorts this many of the most relevant papers by date
# Reciprocal-rank fusion: score = w_bm25 / (k + rank_bm25) + w_dense / (k + rank_dense), with
# w_bm25 = 1. (dense weight, k) per embedder, tuned on SciFact train and NFCorpus dev only
# (docs/search.md). The distilled static model is a weak ranker on its own (0.41 nDCG@10 on
# SciFact train vs BM25's 0.70): at equal weight it drags BM25 down, at 0.1 it only breaks
# ties and adds papers that share no word with the query.
RRF_K = 60
DENSE_WEIGHTS: dict[str, tuple[float, int]] = {
    "minilm-static-256": (0.1, 10),
    "all-MiniLM-L6-v2": (0.7, 10),
}
DEFAULT_DENSE_WEIGHT = (1.0, RRF_K)


@dataclass(frozen=True)
class SearchResults:
    query: str
    hits: list[SearchHit]
    papers: list[Paper]  # the papers of `hits`, same order
    direct: bool = False  # the query named one paper exactly (arXiv id or full title)
    notice: str | None = None  # e.g. semantic search is off

    def __iter__(self) -> Iterator[tuple[SearchHit, Paper]]:
        return iter(zip(self.hits, self.papers))


# -- rankers ---------------------------------------------------------------------------
def keyword_hits(
    engine: SearchEngine, parsed: ParsedQuery, *, filters: PaperFilter, limit: int, newest: bool = False
) -> list[SearchHit]:
    """BM25 hits; a query of filters only (`cat:cs.CL year:2024`) lists matches newest first."""
    if hasattr(engine.keyword, "search_parsed"):  # PostgreSQL ranks inside the database
        return engine.keyword.search_parsed(parsed, filters=filters, limit=limit, newest=newest)
    text = parsed.to_tantivy()  # user words only ever appear quoted: never read as syntax
    query = engine.keyword.parse(text) if text else None
    return engine.keyword.search(query, filters=filters, limit=limit, newest=newest or query is None)


def semantic_hits(
    engine: SearchEngine, parsed: ParsedQuery, *, filters: PaperFilter, limit: int,
    within: Sequence[str] | None = None,
) -> list[SearchHit]:
    """Papers whose embedding is nearest the query's; `within` restricts to these ids."""
    if engine.vectors is None or engine.embedder is None or not parsed.free_text.strip():
        return []
    allowed = None
    if within is not None:
        allowed = list(engine.store.pks_for_ids(within).values())
    elif not filters.is_empty():
        allowed = engine.store.pks_matching(filters)
    if allowed is not None and not len(allowed):
        return []
    query_vector = engine.embedder.encode_query(parsed.free_text)
    found = engine.vectors.search(query_vector, limit=limit, allowed_pks=allowed)
    ids = engine.store.ids_for_pks([pk for pk, _ in found])
    return [
        SearchHit(paper_id=ids[pk], score=score, rank=rank, source="dense")
        for rank, (pk, score) in enumerate(((pk, s) for pk, s in found if pk in ids), start=1)
    ]


def fuse(rankings: Sequence[tuple[list[SearchHit], float]], *, k: int = RRF_K) -> list[SearchHit]:
    """Weighted reciprocal-rank fusion; ties keep the order of the first ranking."""
    scores: dict[str, float] = {}
    for hits, weight in rankings:
        for hit in hits:
            scores[hit.paper_id] = scores.get(hit.paper_id, 0.0) + weight / (k + hit.rank)
    ordered = sorted(scores, key=lambda pid: -scores[pid])
    return [SearchHit(pid, scores[pid], rank, "hybrid") for rank, pid in enumerate(ordered, start=1)]


def hybrid_hits(engine: SearchEngine, parsed: ParsedQuery, *, filters: PaperFilter, limit: int) -> list[SearchHit]:
    """BM25 and dense candidates fused. A query with constraints (fields, +, -) keeps
    the keyword matches as the candidate set: meaning re-ranks them, never adds papers
    that break what the user asked for."""
    depth = max(limit, CANDIDATES)
    keyword = keyword_hits(engine, parsed, filters=filters, limit=depth)
    within = [hit.paper_id for hit in keyword] if parsed.has_constraints() else None
    dense = semantic_hits(engine, parsed, filters=filters, limit=depth, within=within)
    if not dense:
        return keyword[:limit]
    weight, k = DENSE_WEIGHTS.get(engine.embedder.name if engine.embedder else "", DEFAULT_DENSE_WEIGHT)
    return fuse([(keyword, 1.0), (dense, weight)], k=k)[:limit]


# -- the entry point ----------------------------------------------------------------------
def _check_window(limit: int, offset: int, sort: str, mode: str) -> None:
    if not 1 <= limit <= MAX_RESULTS:
        raise InvalidInput(f"limit must be between 1 and {MAX_RESULTS}, got {limit}.", field="limit")
    if offset < 0 or offset + limit > MAX_RESULTS:
        raise InvalidInput(
            f"offset must be between 0 and {MAX_RESULTS - limit} for limit {limit}, got {offset}.",
            hint="Narrow the query instead of paging this deep.",
            field="offset",
        )
    if sort not in SORTS:
        raise InvalidInput(f"sort must be one of {', '.join(SORTS)}, got {sort!r}.", field="sort")
    if mode not in MODES:
        raise InvalidInput(f"mode must be one of {', '.join(MODES)}, got {mode!r}.", field="mode")


def direct_match(engine: SearchEngine, query: str) -> Paper | None:
    """The paper an exact arXiv id, arXiv URL or full title pasted in the box names."""
    from paperfeed.sources.arxiv_atom import parse_arxiv_id

    text = query.strip()
    if not text or len(text) > 400:
        return None
    try:
        arxiv_id, _ = parse_arxiv_id(text)
    except InvalidInput:
        arxiv_id = None
    paper_id = engine.store.find_id(arxiv_id=arxiv_id) if arxiv_id else None
    if paper_id is None and len(text.split()) >= 3:
        paper_id = engine.store.find_id(title=normalise_title(text))
    return engine.store.get_paper(paper_id) if paper_id else None


def ranked_hits(
    engine: SearchEngine, parsed: ParsedQuery, *, filters: PaperFilter, limit: int, mode: str
) -> list[SearchHit]:
    if mode == "bm25" or not parsed.clauses:
        return keyword_hits(engine, parsed, filters=filters, limit=limit)
    if mode == "dense":
        return semantic_hits(engine, parsed, filters=filters, limit=limit)
    return hybrid_hits(engine, parsed, filters=filters, limit=limit)


def search(
    engine: SearchEngine,
    query: str,
    *,
    filters: PaperFilter | None = None,
    limit: int = 20,
    offset: int = 0,
    sort: str = "relevance",
    mode: str = "hybrid",
    syntax: bool = True,
) -> SearchResults:
    """Ranked papers for `query`, `offset` hits skipped, at most `limit` returned.
    `syntax=False` reads the query as plain words (pasted passages, benchmarks)."""
    _check_window(limit, offset, sort, mode)
    parsed = parse_query(query) if syntax else plain_query(query)
    if parsed.is_empty():
        return SearchResults(query=query, hits=[], papers=[], notice=engine.notice)
    if syntax and offset == 0 and (paper := direct_match(engine, query)) is not None:
        return SearchResults(query, [SearchHit(paper.id, 1.0, 1, "direct")], [paper], direct=True)
    merged_filters = parsed.filters(filters)
    if sort == "newest":
        pool = ranked_hits(engine, parsed, filters=merged_filters, limit=max(NEWEST_POOL, offset + limit), mode=mode)
        hits = _newest_first(engine, pool)[offset : offset + limit]
    else:
        hits = ranked_hits(engine, parsed, filters=merged_filters, limit=offset + limit, mode=mode)[offset:]
    by_id = {paper.id: paper for paper in engine.store.get_papers([hit.paper_id for hit in hits])}
    kept = [hit for hit in hits if hit.paper_id in by_id]
    return SearchResults(query, kept, [by_id[hit.paper_id] for hit in kept], notice=engine.notice)


def _newest_first(engine: SearchEngine, hits: list[SearchHit]) -> list[SearchHit]:
    papers = {p.id: p for p in engine.store.get_papers([hit.paper_id for hit in hits])}
    dated = sorted(
        (hit for hit in hits if hit.paper_id in papers),
        key=lambda hit: (papers[hit.paper_id].published is not None, papers[hit.paper_id].published),
        reverse=True,
    )
    return [SearchHit(h.paper_id, h.score, rank, h.source) for rank, h in enumerate(dated, start=1)]


def related_papers(engine: SearchEngine, paper_id: str, *, limit: int = 8) -> list[Paper]:
    """Nearest neighbours by embedding, excluding the paper itself (other versions of a
    paper are folded into it at ingest, so they cannot appear)."""
    if engine.vectors is None:
        return []
    pk = engine.store.pks_for_ids([paper_id]).get(paper_id)
    if pk is None:
        return []
    found = engine.vectors.neighbours(pk, limit=limit)
    ids = engine.store.ids_for_pks([other for other, _ in found])
    return engine.store.get_papers([ids[other] for other, _ in found if other in ids])
