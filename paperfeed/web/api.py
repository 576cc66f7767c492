"""JSON API under /api/v1: each route returns the JSON twin of a page's data."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request

from paperfeed.search import SearchEngine
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


@router.get("/search", summary="Search papers")
def search(
    request: Request,
    q: str = Query("", description="Search query"),
    page: int = Query(1, description="1-based page number"),
    per_page: int = Query(20, description=f"Hits per page, 1..{views.MAX_PER_PAGE}"),
) -> dict[str, Any]:
    return views.search_page(engine_of(request), q, page=page, per_page=per_page).as_dict()
