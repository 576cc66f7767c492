"""Search: a query string -> ranked papers.

Every ranker returns list[SearchHit]; `search()` is the one entry point the web pages,
the JSON API and the CLI call, so swapping or adding rankers touches no edge.
`SearchEngine` bundles the store with the indexes that follow it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterator

from paperfeed.config import Settings
from paperfeed.errors import InvalidInput
from paperfeed.index.keyword import KeywordIndex
from paperfeed.models import Paper, PaperFilter, SearchHit
from paperfeed.store import Store

MAX_QUERY_CHARS = 1000
MAX_RESULTS = 1000
SORTS = ("relevance", "newest")
_WORD = re.compile(r"\w+", re.UNICODE)


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


def query_terms(query: str) -> list[str]:
    """Words of a free-text query, lower-cased, duplicates dropped, order kept."""
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidInput(
            f"The query is {len(query)} characters long; the limit is {MAX_QUERY_CHARS}.",
            hint="Shorten the query.",
            field="q",
        )
    return list(dict.fromkeys(word.lower() for word in _WORD.findall(query)))


def keyword_hits(
    engine: SearchEngine, query: str, *, filters: PaperFilter, limit: int, newest: bool = False
) -> list[SearchHit]:
    terms = query_terms(query)
    if not terms:
        return []
    # Each word quoted: user text can never be read as query syntax.
    parsed = engine.keyword.parse(" ".join(f'"{term}"' for term in terms))
    return engine.keyword.search(parsed, filters=filters, limit=limit, newest=newest)


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
) -> SearchResults:
    """Ranked papers for `query`, `offset` hits skipped, at most `limit` returned."""
    _check_window(limit, offset, sort)
    hits = keyword_hits(
        engine, query, filters=filters or PaperFilter(), limit=offset + limit, newest=sort == "newest"
    )[offset:]
    by_id = {paper.id: paper for paper in engine.store.get_papers([hit.paper_id for hit in hits])}
    kept = [hit for hit in hits if hit.paper_id in by_id]
    return SearchResults(query=query, hits=kept, papers=[by_id[hit.paper_id] for hit in kept])
