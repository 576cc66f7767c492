"""Page data, computed once per request and rendered as HTML (pages.py) or as its
JSON twin (api.py). Nothing here knows about HTTP or templates."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from types import MappingProxyType
from typing import Any, Mapping, Sequence
from urllib.parse import urlencode

from paperfeed.errors import InvalidInput, NotFound
from paperfeed.models import Paper, PaperFilter
from paperfeed.engine import SearchEngine
from paperfeed.search import SearchResults, related_papers, search
from paperfeed.store.community import NO_COUNTS, CardCounts
from paperfeed.store.rows import to_iso
from paperfeed.web.cite import bibtex
from paperfeed.web.highlight import query_terms
from paperfeed.web.periods import Period, check_day, is_new, period_of

MAX_PER_PAGE = 100
MAX_OFFSET = 10_000_000  # deeper than any store lists; also keeps SQL integers in range
RELATED_PAPERS = 8

Counts = Mapping[str, CardCounts]  # paper id -> its votes and comments (papers with none absent)
NONE: Counts = MappingProxyType({})


def card_counts(engine: SearchEngine, papers: Sequence[Paper]) -> dict[str, CardCounts]:
    """Votes and comments of a list of papers, one query (the JSON twins show them)."""
    return engine.store.community.card_counts([p.id for p in papers])


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
    if (page - 1) * per_page > MAX_OFFSET:
        raise InvalidInput(f"page {page} is past the end of any list (at most {MAX_OFFSET // per_page + 1} "
                           f"pages of {per_page}).", field="page")


# -- home: the papers of a day, week or month ------------------------------------------------
@dataclass(frozen=True)
class HomePage:
    """`period` is None when the store holds no dated paper (the demo corpus): then every
    paper is listed newest-added first, since there is no day to show."""

    period: Period | None
    papers: list[Paper]
    pagination: Pagination
    today: date
    newest: date | None  # the newest published day in the store

    @property
    def has_next_period(self) -> bool:
        return self.period is not None and self.period.next().start <= max(self.today, self.newest or self.today)

    def is_new(self, paper: Paper) -> bool:
        return is_new(paper.published.date() if paper.published else None, self.today)

    def as_dict(self, counts: Counts = NONE) -> dict[str, Any]:
        period = self.period
        return {
            "period": period.as_dict() if period else None,
            "previous": period.previous().as_dict() if period else None,
            "next": period.next().as_dict() if period and self.has_next_period else None,
            "papers": [{**paper_dict(p, counts=counts.get(p.id, NO_COUNTS)), "new": self.is_new(p)} for p in self.papers],
            "pagination": self.pagination.as_dict(),
        }


def newest_day(engine: SearchEngine) -> date | None:
    papers, _ = engine.store.list_papers(filters=PaperFilter(), limit=1)
    return papers[0].published.date() if papers and papers[0].published else None


@dataclass
class NewestDay:
    """The newest published day, found again only after the store changed (its newest
    write batch `rev` moved): finding it counts and sorts every paper, which at 100k
    papers costs more than the rest of the page."""

    rev: int = -1
    day: date | None = None

    def __call__(self, engine: SearchEngine) -> date | None:
        rev = engine.store.max_rev()
        if rev != self.rev:  # a race here only recomputes twice
            self.day, self.rev = newest_day(engine), rev
        return self.day


def home_page(engine: SearchEngine, *, view: str = "day", day: date | None = None, page: int = 1,
              per_page: int = 20, today: date, newest_of: NewestDay | None = None) -> HomePage:
    """Papers of the period holding `day` (default: the newest day that has papers)."""
    check_paging(page, per_page)
    period = period_of(view, check_day(day)) if day else None
    newest = (newest_of or NewestDay())(engine)
    if period is None and newest is not None:
        period = period_of(view, newest)
    filters = PaperFilter(date_from=period.start, date_to=period.end) if period else PaperFilter()
    offset = (page - 1) * per_page
    papers, total = engine.store.list_papers(filters=filters, limit=per_page, offset=offset)
    return HomePage(period, papers, Pagination(page, per_page, offset + len(papers) < total, total), today, newest)


# -- paper page ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class PaperPage:
    paper: Paper
    related: list[Paper]

    @property
    def bibtex(self) -> str:
        return bibtex(self.paper)

    def as_dict(self, counts: Counts = NONE) -> dict[str, Any]:
        return {"paper": paper_dict(self.paper, full=True, counts=counts.get(self.paper.id, NO_COUNTS)),
                "related": [paper_dict(p, counts=counts.get(p.id, NO_COUNTS)) for p in self.related],
                "bibtex": self.bibtex}


def paper_page(engine: SearchEngine, paper_id: str) -> PaperPage:
    paper = engine.store.get_paper(paper_id)
    if paper is None:
        raise NotFound(f"No paper has the id {paper_id!r}.", hint="Search for it by title.", field="paper_id")
    return PaperPage(paper, related_papers(engine, paper.id, limit=RELATED_PAPERS))


# -- search ---------------------------------------------------------------------------------------
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

    def query_string(self, *, paging: bool = True, **changes: Any) -> str:
        """This search as URL parameters (defaults left out), e.g. for the next page."""
        params = replace(self, **changes)
        pairs: list[tuple[str, Any]] = [("q", params.q)]
        for name, default in (("date_from", None), ("date_to", None), ("category", None), ("has_code", None),
                              ("sort", "relevance"), ("mode", "hybrid")):
            value = getattr(params, name)
            if value not in (default, ""):
                pairs.append((name, str(value).lower() if isinstance(value, bool) else value))
        if paging:
            pairs += [(n, v) for n, v, d in (("page", params.page, 1), ("per_page", params.per_page, 20)) if v != d]
        return urlencode(pairs)

    def feed_query(self) -> str:
        """The feed of this search: the same query and filters, newest first, no paging."""
        return self.query_string(paging=False, sort="relevance")


@dataclass(frozen=True)
class SearchPage:
    params: SearchParams
    results: SearchResults
    pagination: Pagination
    terms: list[str] = field(default_factory=list)  # words to highlight

    @property
    def query(self) -> str:
        return self.params.q

    def as_dict(self, counts: Counts = NONE) -> dict[str, Any]:
        return {
            "query": self.query,
            "sort": self.params.sort,
            "mode": self.params.mode,
            "filters": {
                "date_from": self.params.date_from.isoformat() if self.params.date_from else None,
                "date_to": self.params.date_to.isoformat() if self.params.date_to else None,
                "category": self.params.category or None,
                "has_code": self.params.has_code,
            },
            "notice": self.results.notice,
            "direct": self.results.direct,
            "terms": self.terms,
            "hits": [
                {"rank": hit.rank, "score": round(hit.score, 6), "paper": paper_dict(paper, counts=counts.get(paper.id, NO_COUNTS))}
                for hit, paper in self.results
            ],
            "pagination": self.pagination.as_dict(),
        }


def search_page(engine: SearchEngine, params: SearchParams) -> SearchPage:
    check_paging(params.page, params.per_page)
    for name in ("date_from", "date_to"):
        if (value := getattr(params, name)) is not None:
            check_day(value, field=name)
    offset = (params.page - 1) * params.per_page
    if not params.q.strip():
        return empty_search(params)
    # Ask for one more than a page to learn whether a next page exists without counting.
    results = search(engine, params.q, filters=params.filters(), limit=params.per_page + 1, offset=offset,
                     sort=params.sort, mode=params.mode)
    has_next = len(results.hits) > params.per_page
    trimmed = replace(results, hits=results.hits[: params.per_page], papers=results.papers[: params.per_page])
    return SearchPage(params, trimmed, Pagination(params.page, params.per_page, has_next), query_terms(params.q))


def empty_search(params: SearchParams) -> SearchPage:
    return SearchPage(params, SearchResults(params.q, [], []), Pagination(1, params.per_page, False, 0))


# -- shared shapes ------------------------------------------------------------------------------
def paper_dict(paper: Paper, *, full: bool = False, counts: CardCounts = NO_COUNTS) -> dict[str, Any]:
    """A paper as the JSON API shows it; `counts` are its votes and visible comments
    (`comment_count`, since `comments` is arXiv's own comments field)."""
    data: dict[str, Any] = {
        "id": paper.id,
        "url": f"/papers/{paper.id}",
        "title": paper.title,
        "authors": paper.authors,
        "categories": paper.categories,
        "published": to_iso(paper.published),
        "arxiv_id": paper.arxiv_id,
        "doi": paper.doi,
        "links": [{"kind": link.kind, "url": link.url} for link in paper.links],
        "has_code": paper.has_code,
        "votes": counts.votes,
        "comment_count": counts.comments,
        "abstract": paper.abstract,
    }
    if full:
        data.update(
            arxiv_version=paper.arxiv_version,
            versions=[{"version": v.version, "created": to_iso(v.created)} for v in paper.versions],
            updated=to_iso(paper.updated),
            comments=paper.comments,
            journal_ref=paper.journal_ref,
            source=paper.source,
            source_id=paper.source_id,
        )
    return data
