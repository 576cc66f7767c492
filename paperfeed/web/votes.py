"""Voting (form and API) and the trending page, its JSON twin and its feeds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from paperfeed.web import feeds
from paperfeed.web.api import engine_of
from paperfeed.web.feed_routes import FEED_RESPONSES, _answer
from paperfeed.web.pages import _form, _render
from paperfeed.web.session import check_csrf, require_user, utc_now
from paperfeed.web.trending_view import trending_page

router = APIRouter(include_in_schema=False)
api_router = APIRouter(tags=["community"])


def _vote(request: Request, paper_id: str) -> tuple[bool, int]:
    user = require_user(request)
    limit = request.app.state.settings.community.vote_limit
    request.app.state.rate_limiter.hit(f"vote:{user.id}", limit=limit, window_s=60, what="votes")
    return engine_of(request).store.community.toggle_vote(user.id, paper_id, now=utc_now())


def clock_now(request: Request) -> datetime:
    """Trending and sparkline time: real time, or one pinned by a benchmark (app.state.clock)."""
    clock = getattr(request.app.state, "clock", None)
    return clock() if clock is not None else utc_now()


def _safe_next(value: str) -> str:
    """Only paths on this site: never an open redirect."""
    return value if value.startswith("/") and not value.startswith("//") and "\\" not in value else "/"


@router.post("/vote")
async def vote_form(request: Request) -> Response:
    form = await _form(request)
    check_csrf(request, form)
    _vote(request, form.get("paper_id", ""))
    return RedirectResponse(_safe_next(form.get("next", "/")), status_code=303)


class VoteRequest(BaseModel):
    paper_id: str = Field(max_length=200, description="The paper's id")


@api_router.post("/api/v1/votes", summary="Toggle your upvote on a paper (needs a session and X-CSRF-Token)")
async def vote_api(request: Request, body: VoteRequest) -> dict[str, Any]:
    check_csrf(request, {})
    voted, count = _vote(request, body.paper_id)
    return {"paper_id": body.paper_id, "voted": voted, "votes": count}


VIEW = Query("day", description="day, week or month")
LIMIT = Query(30, description="Papers, 1..100")


@router.get("/trending", response_class=HTMLResponse)
def trending_html(request: Request, view: str = VIEW, limit: int = LIMIT) -> HTMLResponse:
    data = trending_page(engine_of(request), view=view, now=clock_now(request), limit=limit)
    return _render(request, "trending.html", data=data)


@api_router.get("/api/v1/trending", summary="Trending papers (votes with a 24 h half-life, docs/ranking.md)")
def trending_json(request: Request, view: str = VIEW, limit: int = LIMIT) -> dict[str, Any]:
    engine = engine_of(request)
    page = trending_page(engine, view=view, now=clock_now(request), limit=limit)
    counts = engine.store.community.card_counts([item.paper.id for item in page.items])
    return page.as_dict({paper_id: c.comments for paper_id, c in counts.items()})


@api_router.get("/feeds/trending.{fmt}", summary="Trending papers (Atom or RSS 2.0)", response_class=Response,
                responses=FEED_RESPONSES)
def trending_feed(request: Request, fmt: str, view: str = VIEW, limit: int = LIMIT) -> Response:
    feeds.check_format(fmt)
    data = trending_page(engine_of(request), view=view, now=clock_now(request), limit=limit)
    feed = feeds.Feed(f"trending?view={view}", f"paperfeed: trending {data.label}", f"/trending?view={view}",
                      [item.paper for item in data.items])
    return _answer(request, feed, fmt)
