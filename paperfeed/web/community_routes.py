"""Wires the community parts into the app: routers, template helpers, the CSRF cookie."""

from __future__ import annotations

from typing import Awaitable, Callable, Sequence

from fastapi import FastAPI, Request, Response
from markupsafe import Markup

from paperfeed.models import Paper
from paperfeed.store.community import CardCounts, Comment

from paperfeed.web import accounts, collections, comments, passwords, sparkline, votes
from paperfeed.web.markdown import render_markdown
from paperfeed.web.session import RateLimiter, csrf_token, current_user, remember_csrf


def install_community(app: FastAPI) -> None:
    app.state.rate_limiter = RateLimiter()
    app.state.mailer = None  # None: mailer_from_settings per message; tests put a capturing one here
    env = app.state.templates.env
    env.globals["current_user"] = current_user
    env.globals["csrf_token"] = csrf_token
    env.globals["vote_counts"] = _vote_counts
    env.globals["card_counts"] = _card_counts
    env.globals["my_votes"] = _my_votes
    env.globals["vote_sparklines"] = _vote_sparklines
    env.globals["submitters"] = _submitters
    env.globals["comments_of"] = _comments_of
    env.globals["markdown"] = render_markdown
    env.globals["my_collections"] = collections.my_collections
    app.include_router(accounts.router)
    app.include_router(passwords.router)
    app.include_router(votes.router)
    app.include_router(votes.api_router)
    app.include_router(comments.router)
    app.include_router(comments.api_router)
    app.include_router(collections.router)
    app.include_router(collections.api_router)

    @app.middleware("http")
    async def set_csrf_cookie(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        return remember_csrf(request, response)


# -- template helpers: one query per list, not per card ------------------------------------
def _vote_counts(request: Request, papers: Sequence[Paper]) -> dict[str, int]:
    return request.app.state.engine.store.community.vote_counts([p.id for p in papers])  # type: ignore[no-any-return]


def _card_counts(request: Request, papers: Sequence[Paper]) -> dict[str, CardCounts]:
    return request.app.state.engine.store.community.card_counts([p.id for p in papers])  # type: ignore[no-any-return]


def _vote_sparklines(request: Request, papers: Sequence[Paper]) -> dict[str, Markup]:
    now = votes.clock_now(request)
    per_paper = request.app.state.engine.store.community.votes_per_day(
        [p.id for p in papers], since=sparkline.window_start(now))
    return {pid: sparkline.sparkline_svg(sparkline.running_totals(days, now.date())) for pid, days in per_paper.items()}


def _my_votes(request: Request, papers: Sequence[Paper]) -> set[str]:
    user = current_user(request)
    if user is None:
        return set()
    return request.app.state.engine.store.community.voted_by(user.id, [p.id for p in papers])  # type: ignore[no-any-return]


def _submitters(request: Request, papers: Sequence[Paper]) -> dict[str, str]:
    return request.app.state.engine.store.community.submitters([p.id for p in papers])  # type: ignore[no-any-return]


def _comments_of(request: Request, paper_id: str) -> list[Comment]:
    return request.app.state.engine.store.community.comments_for(paper_id)  # type: ignore[no-any-return]
