"""Search: a query string -> ranked papers.

Every ranker returns list[SearchHit]; `search()` is the one entry point the web pages,
the JSON API and the CLI call, so swapping or adding rankers touches no edge.
`SearchEngine` bundles the store with the indexes that follow it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

from paperfeed.config import Settings
from paperfeed.errors import InvalidInput
from paperfeed.index.keyword import KeywordIndex
from paperfeed.models import Paper, PaperFilter, SearchHit
from paperfeed.query import ParsedQuery, parse_query, plain_query
from paperfeed.store import Store

MAX_RESULTS = 1000
SORTS = ("relevance", "newest")


@dataclass
class SearchEngine:
    """The store plus the indexes that follow it."""

    store: Store
    keyword: KeywordIndex

    @classmethod
    def open(cls, settings: Settings, store: Store) -> "SearchEngine":
        folder = settings.data_dir / "index" / "keyword"
        return cls(store=store, keyword=KeywordIndex(folder, store_identity=store.identity()))

    def sync(self, *, on_progress: Callable[[int], None] | None = None) -> int:
        """Bring every index up to the store's newest write; returns papers indexed."""
        return self.keyword.sync(self.store, on_progress=on_progress)


@dataclass(frozen=True)
class SearchResults:
    query: str
    hits: list[SearchHit]
    papers: list[Paper]  # the papers of `hits`, same order

    def __iter__(self) -> Iterator[tuple[SearchHit, Paper]]:
        return iter(zip(self.hits, self.papers))


def keyword_hits(
    engine: SearchEngine, parsed: ParsedQuery, *, filters: PaperFilter, limit: int, newest: bool = False
) -> list[SearchHit]:
    """BM25 hits; a query of filters only (`cat:cs.CL year:2024`) lists matches newest first."""
    text = parsed.to_tantivy()  # user words only ever appear quoted: never read as syntax
    query = engine.keyword.parse(text) if text else None
    return engine.keyword.search(query, filters=filters, limit=limit, newest=newest or query is None)


def _check_window(limit: int, offset: int, sort: str) -> None:
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


def search(
    engine: SearchEngine,
    query: str,
    *,
    filters: PaperFilter | None = None,
    limit: int = 20,
    offset: int = 0,
    sort: str = "relevance",
    syntax: bool = True,
    mode: str = "bm25",
) -> SearchResults:
    """Ranked papers for `query`, `offset` hits skipped, at most `limit` returned.
    `syntax=False` reads the query as plain words (pasted passages, benchmarks)."""
    _check_window(limit, offset, sort)
    parsed = parse_query(query) if syntax else plain_query(query)
    if parsed.is_empty():
        return SearchResults(query=query, hits=[], papers=[])
    hits = keyword_hits(
        engine, parsed, filters=parsed.filters(filters), limit=offset + limit, newest=sort == "newest"
    )[offset:]
    by_id = {paper.id: paper for paper in engine.store.get_papers([hit.paper_id for hit in hits])}
    kept = [hit for hit in hits if hit.paper_id in by_id]
    return SearchResults(query=query, hits=kept, papers=[by_id[hit.paper_id] for hit in kept])
