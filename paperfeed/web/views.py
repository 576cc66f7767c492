"""Page data, computed once per request and rendered as HTML (pages.py) or as its
JSON twin (api.py). Nothing here knows about HTTP or templates."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from paperfeed.errors import InvalidInput, NotFound
from paperfeed.models import Paper, PaperFilter
from paperfeed.engine import SearchEngine
from paperfeed.search import SearchResults, related_papers, search
from paperfeed.store.rows import to_iso

MAX_PER_PAGE = 100
RELATED_PAPERS = 8


@dataclass(frozen=True)
class Pagination:
    page: int
    per_page: int
    has_next: bool
    total: int | None = None  # None where counting every match would cost too much

    def as_dict(self) -> dict[str, Any]:
        return {"page": self.page, "per_page": self.per_page, "has_next": self.has_next, "total": self.total}


def check_paging(page: int, per_page: int) -> None:
    if page < 1:
        raise InvalidInput(f"page must be 1 or more, got {page}.", field="page")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidInput(
            f"per_page must be between 1 and {MAX_PER_PAGE}, got {per_page}.", field="per_page"
        )


@dataclass(frozen=True)
class PaperList:
    papers: list[Paper]
    pagination: Pagination

    def as_dict(self) -> dict[str, Any]:
        return {"papers": [paper_dict(p) for p in self.papers], "pagination": self.pagination.as_dict()}


@dataclass(frozen=True)
class PaperPage:
    paper: Paper
    related: list[Paper]

    def as_dict(self) -> dict[str, Any]:
        return {"paper": paper_dict(self.paper, full=True), "related": [paper_dict(p) for p in self.related]}


@dataclass(frozen=True)
class SearchParams:
    """What the search box and its controls ask for; the same for page and JSON twin."""

    q: str = ""
    date_from: date | None = None
    date_to: date | None = None
    category: str | None = None
    has_code: bool | None = None
    sort: str = "relevance"
    mode: str = "hybrid"
    page: int = 1
    per_page: int = 20

    def filters(self) -> PaperFilter:
        return PaperFilter(date_from=self.date_from, date_to=self.date_to,
                           category=self.category or None, has_code=self.has_code)


@dataclass(frozen=True)
class SearchPage:
    params: SearchParams
    results: SearchResults
    pagination: Pagination

    @property
    def query(self) -> str:
        return self.params.q

    def as_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "sort": self.params.sort,
            "mode": self.params.mode,
            "notice": self.results.notice,
            "direct": self.results.direct,
            "hits": [
                {"rank": hit.rank, "score": round(hit.score, 6), "paper": paper_dict(paper)}
                for hit, paper in self.results
            ],
            "pagination": self.pagination.as_dict(),
        }


def newest_papers(engine: SearchEngine, *, page: int = 1, per_page: int = 20) -> PaperList:
    check_paging(page, per_page)
    offset = (page - 1) * per_page
    papers, total = engine.store.list_papers(filters=PaperFilter(), limit=per_page, offset=offset)
    return PaperList(papers, Pagination(page, per_page, offset + len(papers) < total, total))


def paper_page(engine: SearchEngine, paper_id: str) -> PaperPage:
    paper = engine.store.get_paper(paper_id)
    if paper is None:
        raise NotFound(f"No paper has the id {paper_id!r}.", hint="Search for it by title.", field="paper_id")
    return PaperPage(paper, related_papers(engine, paper.id, limit=RELATED_PAPERS))


def search_page(engine: SearchEngine, params: SearchParams) -> SearchPage:
    check_paging(params.page, params.per_page)
    offset = (params.page - 1) * params.per_page
    if not params.q.strip():
        return empty_search(params)
    # Ask for one more than a page to learn whether a next page exists without counting.
    results = search(engine, params.q, filters=params.filters(), limit=params.per_page + 1, offset=offset,
                     sort=params.sort, mode=params.mode)
    has_next = len(results.hits) > params.per_page
    trimmed = replace(results, hits=results.hits[: params.per_page], papers=results.papers[: params.per_page])
    return SearchPage(params, trimmed, Pagination(params.page, params.per_page, has_next))


def empty_search(params: SearchParams) -> SearchPage:
    return SearchPage(params, SearchResults(params.q, [], []), Pagination(1, params.per_page, False, 0))


def paper_dict(paper: Paper, *, full: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": paper.id,
        "title": paper.title,
        "authors": paper.authors,
        "categories": paper.categories,
        "published": to_iso(paper.published),
        "arxiv_id": paper.arxiv_id,
        "doi": paper.doi,
        "links": [{"kind": link.kind, "url": link.url} for link in paper.links],
        "has_code": paper.has_code,
    }
    if full:
        data.update(
            abstract=paper.abstract,
            arxiv_version=paper.arxiv_version,
            versions=[{"version": v.version, "created": to_iso(v.created)} for v in paper.versions],
            updated=to_iso(paper.updated),
            comments=paper.comments,
            journal_ref=paper.journal_ref,
            source=paper.source,
            source_id=paper.source_id,
        )
    else:
        data["abstract"] = paper.abstract
    return data
