"""JSON API under /api/v1: each route returns the JSON twin of a page's data."""

from __future__ import annotations

from typing import Any

from datetime import date

from fastapi import APIRouter, Depends, Query, Request

from paperfeed.engine import SearchEngine
from paperfeed.web import views

router = APIRouter(prefix="/api/v1", tags=["api"])


def engine_of(request: Request) -> SearchEngine:
    return request.app.state.engine  # type: ignore[no-any-return]


@router.get("/papers", summary="Newest papers, paginated")
def list_papers(
    request: Request,
    page: int = Query(1, description="1-based page number"),
    per_page: int = Query(20, description=f"Papers per page, 1..{views.MAX_PER_PAGE}"),
) -> dict[str, Any]:
    return views.newest_papers(engine_of(request), page=page, per_page=per_page).as_dict()


@router.get("/papers/{paper_id:path}", summary="One paper")
def get_paper(request: Request, paper_id: str) -> dict[str, Any]:
    return views.paper_page(engine_of(request), paper_id).as_dict()


def search_params(
    q: str = Query("", description="Query: words, \"phrases\", ti:/au:/abs:/cat:/year: fields, -exclusions"),
    date_from: date | None = Query(None, description="Published on or after (YYYY-MM-DD)"),
    date_to: date | None = Query(None, description="Published on or before (YYYY-MM-DD)"),
    category: str | None = Query(None, description="arXiv category, e.g. cs.CL"),
    has_code: bool | None = Query(None, description="Only papers with (true) or without (false) a code link"),
    sort: str = Query("relevance", description="relevance or newest"),
    mode: str = Query("hybrid", description="hybrid, bm25 (keywords only) or dense (meaning only)"),
    page: int = Query(1, description="1-based page number"),
    per_page: int = Query(20, description=f"Hits per page, 1..{views.MAX_PER_PAGE}"),
) -> views.SearchParams:
    """Query parameters shared by the search page and its JSON twin."""
    return views.SearchParams(q, date_from, date_to, category, has_code, sort, mode, page, per_page)


@router.get("/search", summary="Search papers")
def search(request: Request, params: views.SearchParams = Depends(search_params)) -> dict[str, Any]:
    return views.search_page(engine_of(request), params).as_dict()
