"""Search: a query string -> ranked papers.

Every ranker returns list[SearchHit] and fusion takes lists of them; `search()` is the one
entry point the web pages, the JSON API and the CLI call, so adding a ranker touches no
edge. Rankers: `keyword_hits` (BM25), `semantic_hits` (embeddings), `hybrid_hits`
(the two fused, paperfeed/fusion.py). `SearchEngine` (engine.py) bundles the
store with the indexes that follow it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

from paperfeed.engine import SearchEngine
from paperfeed.errors import InvalidInput
from paperfeed.fusion import rrf, zscore_fuse
from paperfeed.identity import normalise_title
from paperfeed.models import Paper, PaperFilter, SearchHit
from paperfeed.query import ParsedQuery, parse_query, plain_query

MAX_RESULTS = 1000
SORTS = ("relevance", "newest")
MODES = ("hybrid", "bm25", "dense")
CANDIDATES = 100  # per ranker, before fusion
NEWEST_POOL = 200  # "newest" re-sorts this many of the most relevant papers by date
RRF_K = 60


@dataclass(frozen=True)
class Fusion:
    """How `hybrid_hits` fuses BM25 with one embedder: `zscore` (z-scores of both rankers'
    scores over all candidates, summed with the dense side weighted) or `rrf` (weighted
    reciprocal-rank fusion with constant `k`). BM25's weight is always 1."""

    method: str
    dense_weight: float
    k: int = RRF_K


# Chosen on SciFact train and NFCorpus dev only (docs/search.md). z-score fusion at equal
# weights beat the best tuned RRF on both sets with MiniLM, so it is also the default for
# any other transformer. The distilled static model is a weak ranker on its own (0.41
# nDCG@10 on SciFact train vs BM25's 0.70): fused by rank at 0.1 it only breaks ties and
# adds papers that share no word with the query.
FUSION: dict[str, Fusion] = {
    "minilm-static-256": Fusion("rrf", 0.1, 10),
    "all-MiniLM-L6-v2": Fusion("zscore", 1.0),
}
DEFAULT_FUSION = Fusion("zscore", 1.0)


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


def query_vector(engine: SearchEngine, parsed: ParsedQuery) -> np.ndarray | None:
    """The query's embedding, or None when there is no embedder or no free text."""
    if engine.vectors is None or engine.embedder is None or not parsed.free_text.strip():
        return None
    return engine.embedder.encode_query(parsed.free_text)


def semantic_hits(
    engine: SearchEngine, parsed: ParsedQuery, *, filters: PaperFilter, limit: int,
    within: Sequence[str] | None = None, vector: np.ndarray | None = None,
) -> list[SearchHit]:
    """Papers whose embedding is nearest the query's; `within` restricts to these ids.
    `vector` is the query's embedding when the caller already has it."""
    if vector is None:
        vector = query_vector(engine, parsed)
    if vector is None or engine.vectors is None:
        return []
    allowed = None
    if within is not None:
        allowed = list(engine.store.pks_for_ids(within).values())
    elif not filters.is_empty():
        allowed = engine.store.pks_matching(filters)
    if allowed is not None and not len(allowed):
        return []
    found = engine.vectors.search(vector, limit=limit, allowed_pks=allowed)
    ids = engine.store.ids_for_pks([pk for pk, _ in found])
    return [
        SearchHit(paper_id=ids[pk], score=score, rank=rank, source="dense")
        for rank, (pk, score) in enumerate(((pk, s) for pk, s in found if pk in ids), start=1)
    ]


def fuse(rankings: Sequence[tuple[list[SearchHit], float]], *, k: int = RRF_K) -> list[SearchHit]:
    """Weighted reciprocal-rank fusion (kept under this name for callers and tests)."""
    return rrf(rankings, k=k)


def hybrid_hits(engine: SearchEngine, parsed: ParsedQuery, *, filters: PaperFilter, limit: int) -> list[SearchHit]:
    """BM25 and dense candidates fused. A query with constraints (fields, +, -) keeps
    the keyword matches as the candidate set: meaning re-ranks them, never adds papers
    that break what the user asked for."""
    depth = max(limit, CANDIDATES)
    keyword = keyword_hits(engine, parsed, filters=filters, limit=depth)
    within = [hit.paper_id for hit in keyword] if parsed.has_constraints() else None
    vector = query_vector(engine, parsed)
    dense = semantic_hits(engine, parsed, filters=filters, limit=depth, within=within, vector=vector)
    if not dense or vector is None:
        return keyword[:limit]
    fusion = FUSION.get(engine.embedder.name if engine.embedder else "", DEFAULT_FUSION)
    if fusion.method == "rrf" or not _can_complete_scores(engine):
        return rrf([(keyword, 1.0), (dense, fusion.dense_weight)], k=fusion.k)[:limit]
    bm25, cosine = complete_scores(engine, parsed, keyword, dense, vector)
    return zscore_fuse([(bm25, 1.0), (cosine, fusion.dense_weight)])[:limit]


def _can_complete_scores(engine: SearchEngine) -> bool:
    """Score fusion needs exact scores for any candidate. The file indexes give them; the
    PostgreSQL rankers do not yet, so hybrid search there falls back to rank fusion."""
    return hasattr(engine.keyword, "scores_for") and hasattr(engine.vectors, "scores_for")


def complete_scores(
    engine: SearchEngine, parsed: ParsedQuery, keyword: list[SearchHit], dense: list[SearchHit], vector: np.ndarray,
) -> tuple[dict[str, float], dict[str, float]]:
    """Both rankers' scores for every candidate of either: the exact BM25 score of each
    dense-only paper (0 when it matches no query word) and the exact cosine of each
    BM25-only paper. Score fusion needs them; guessing a floor would bias the z-scores."""
    assert engine.vectors is not None
    bm25 = {hit.paper_id: hit.score for hit in keyword}
    cosine = {hit.paper_id: hit.score for hit in dense}
    dense_only = [pid for pid in cosine if pid not in bm25]
    if dense_only and (text := parsed.to_tantivy()):
        found = engine.keyword.scores_for(engine.keyword.parse(text), dense_only)
        bm25.update({pid: found.get(pid, 0.0) for pid in dense_only})
    keyword_only = [pid for pid in bm25 if pid not in cosine]
    if keyword_only:
        pks = engine.store.pks_for_ids(keyword_only)
        by_pk = engine.vectors.scores_for(vector, list(pks.values()))
        cosine.update({pid: by_pk.get(pk, 0.0) for pid, pk in pks.items()})
    return bm25, cosine


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
