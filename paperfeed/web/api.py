"""JSON API under /api/v1: each route returns the JSON twin of a page's data."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, BeforeValidator, Field

from paperfeed.engine import SearchEngine
from paperfeed.web import views
from paperfeed.web.mapview import map_page
from paperfeed.web.periods import VIEWS
from paperfeed.web.submit import MAX_INPUT_CHARS, submit_arxiv

router = APIRouter(prefix="/api/v1", tags=["api"])
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Bad parameter: `{\"error\": {\"code\", \"message\", \"field\"}}`"},
}


def _blank_is_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


# HTML forms send empty fields as `name=`: for optional parameters that means "not given".
BLANK_IS_NONE = BeforeValidator(_blank_is_none)
DAY_HELP = "A day in the period (YYYY-MM-DD); default: the newest day with papers"


def engine_of(request: Request) -> SearchEngine:
    return request.app.state.engine  # type: ignore[no-any-return]


def today_of(request: Request) -> date:
    return request.app.state.today()  # type: ignore[no-any-return]


def newest_of(request: Request) -> views.NewestDay:
    return request.app.state.newest_day  # type: ignore[no-any-return]


async def home_params(
    view: str = Query("day", description=f"One of {', '.join(VIEWS)}"),
    day: Annotated[date | None, BLANK_IS_NONE, Query(alias="date", description=DAY_HELP)] = None,
    page: int = Query(1, description="1-based page number"),
    per_page: int = Query(20, description=f"Papers per page, 1..{views.MAX_PER_PAGE}"),
) -> dict[str, Any]:
    return {"view": view, "day": day, "page": page, "per_page": per_page}


@router.get("/papers", summary="Papers of a day, week or month (the home page)", responses=ERRORS)
def list_papers(request: Request, params: dict[str, Any] = Depends(home_params)) -> dict[str, Any]:
    engine = engine_of(request)
    page = views.home_page(engine, today=today_of(request), newest_of=newest_of(request), **params)
    return page.as_dict(views.card_counts(engine, page.papers))


@router.get("/papers/{paper_id:path}", summary="One paper, its related papers and BibTeX",
            responses={**ERRORS, 404: {"description": "No such paper"}})
def get_paper(request: Request, paper_id: str) -> dict[str, Any]:
    engine = engine_of(request)
    page = views.paper_page(engine, paper_id)
    return page.as_dict(views.card_counts(engine, [page.paper, *page.related]))


async def search_params(
    q: str = Query("", description="Query: words, \"phrases\", ti:/au:/abs:/cat:/year: fields, -exclusions"),
    date_from: Annotated[date | None, BLANK_IS_NONE, Query(description="Published on or after (YYYY-MM-DD)")] = None,
    date_to: Annotated[date | None, BLANK_IS_NONE, Query(description="Published on or before (YYYY-MM-DD)")] = None,
    category: str | None = Query(None, description="arXiv category, e.g. cs.CL"),
    has_code: Annotated[bool | None, BLANK_IS_NONE,
                        Query(description="Only papers with (true) or without (false) a code link")] = None,
    sort: str = Query("relevance", description="relevance or newest"),
    mode: str = Query("hybrid", description="hybrid, bm25 (keywords only) or dense (meaning only)"),
    page: int = Query(1, description="1-based page number"),
    per_page: int = Query(20, description=f"Hits per page, 1..{views.MAX_PER_PAGE}"),
) -> views.SearchParams:
    """Query parameters shared by the search page, its JSON twin and its feed."""
    return views.SearchParams(q, date_from, date_to, category, has_code, sort, mode, page, per_page)


@router.get("/search", summary="Search papers", responses=ERRORS)
def search(request: Request, params: views.SearchParams = Depends(search_params)) -> dict[str, Any]:
    engine = engine_of(request)
    page = views.search_page(engine, params)
    return page.as_dict(views.card_counts(engine, page.results.papers))


async def map_params(
    view: str = Query("month", description=f"One of {', '.join(VIEWS)}"),
    day: Annotated[date | None, BLANK_IS_NONE, Query(alias="date", description=DAY_HELP)] = None,
) -> dict[str, Any]:
    return {"view": view, "day": day}


@router.get("/map", summary="Papers of a period on a 2D map of their embeddings", responses=ERRORS)
def paper_map(request: Request, params: dict[str, Any] = Depends(map_params)) -> dict[str, Any]:
    return map_page(engine_of(request), newest_of=newest_of(request), **params).as_dict()


class SubmitRequest(BaseModel):
    arxiv_id: str = Field(description="An arXiv id or abs/pdf URL, e.g. 1706.03762", max_length=MAX_INPUT_CHARS)


@router.post("/submit", summary="Add a paper by arXiv id or URL (fetched from the arXiv API)",
             responses={**ERRORS, 404: {"description": "arXiv has no such paper"},
                        502: {"description": "arXiv could not be reached"}})
def submit(request: Request, body: SubmitRequest) -> dict[str, Any]:
    done = submit_arxiv(engine_of(request), request.app.state.settings, body.arxiv_id,
                        limiter=request.app.state.arxiv_limiter)
    return done.as_dict()
