"""Comments on paper pages: post, reply (one level), edit and delete own, report;
moderators hide comments and suspend users. Every route is a CSRF-checked form post."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from urllib.parse import quote

from paperfeed.errors import Forbidden, InvalidInput, NotFound
from paperfeed.store.community import Comment, User
from paperfeed.web.api import engine_of
from paperfeed.web.pages import _form
from paperfeed.web.session import check_csrf, require_user, utc_now

router = APIRouter(include_in_schema=False)
api_router = APIRouter(tags=["community"])
MAX_COMMENT = 3000  # characters (the form body cap is 4 KiB)


def _poster(request: Request, form: dict[str, str]) -> User:
    check_csrf(request, form)
    user = require_user(request)
    limit = request.app.state.settings.community.post_limit
    request.app.state.rate_limiter.hit(f"post:{user.id}", limit=limit, window_s=60, what="posts")
    return user


def _body(form: dict[str, str]) -> str:
    body = form.get("body", "").strip()
    if not body or len(body) > MAX_COMMENT:
        raise InvalidInput(f"A comment has 1 to {MAX_COMMENT} characters.", field="body",
                           hint="Write something, or split a long comment.")
    return body


def _comment(request: Request, comment_id: int) -> Comment:
    comment = engine_of(request).store.community.get_comment(comment_id)
    if comment is None:
        raise NotFound(f"No comment {comment_id}.", hint="It may have been removed.")
    return comment


def _back(paper_id: str, comment_id: int | None = None) -> RedirectResponse:
    anchor = f"#c{comment_id}" if comment_id else "#comments"
    return RedirectResponse(f"/papers/{quote(paper_id, safe='/')}{anchor}", status_code=303)


@router.post("/comments")
async def post_comment(request: Request) -> Response:
    form = await _form(request)
    user = _poster(request, form)
    paper_id = form.get("paper_id", "")
    parent = form.get("parent_id", "")
    if parent and not parent.isdigit():
        raise InvalidInput("parent_id must be a comment number.", field="parent_id")
    comment_id = engine_of(request).store.community.add_comment(
        user.id, paper_id, _body(form), now=utc_now(), parent_id=int(parent) if parent else None)
    return _back(paper_id, comment_id)


@router.post("/comments/{comment_id}/edit")
async def edit_comment(request: Request, comment_id: int) -> Response:
    form = await _form(request)
    user = _poster(request, form)
    comment = _comment(request, comment_id)
    if not engine_of(request).store.community.edit_comment(comment_id, user.id, _body(form), now=utc_now()):
        raise Forbidden("You can edit only your own comments.")
    return _back(comment.paper_id, comment_id)


@router.post("/comments/{comment_id}/delete")
async def delete_comment(request: Request, comment_id: int) -> Response:
    form = await _form(request)
    user = _poster(request, form)
    comment = _comment(request, comment_id)
    if not engine_of(request).store.community.delete_comment(comment_id, user.id):
        raise Forbidden("You can delete only your own comments.")
    return _back(comment.paper_id)


@router.post("/comments/{comment_id}/report")
async def report_comment(request: Request, comment_id: int) -> Response:
    form = await _form(request)
    user = _poster(request, form)
    comment = _comment(request, comment_id)
    reason = form.get("reason", "").strip()[:500] or "no reason given"
    engine_of(request).store.community.report_comment(comment_id, user.id, reason, now=utc_now())
    return _back(comment.paper_id, comment_id)


def _moderator(request: Request, form: dict[str, str]) -> User:
    check_csrf(request, form)
    user = require_user(request)
    if not user.is_moderator:
        raise Forbidden("Only moderators can do this.")
    return user


@router.post("/comments/{comment_id}/hide")
async def hide_comment(request: Request, comment_id: int) -> Response:
    form = await _form(request)
    _moderator(request, form)
    comment = _comment(request, comment_id)
    engine_of(request).store.community.set_hidden(comment_id, form.get("hidden", "1") == "1")
    return _back(comment.paper_id, comment_id)


@router.post("/users/{user_id}/suspend")
async def suspend_user(request: Request, user_id: int) -> Response:
    form = await _form(request)
    _moderator(request, form)
    community = engine_of(request).store.community
    if community.get_user(user_id) is None:
        raise NotFound(f"No user {user_id}.")
    community.set_suspended(user_id, form.get("suspended", "1") == "1")
    return RedirectResponse(f"/users/{user_id}", status_code=303)


@api_router.get("/api/v1/comments", summary="Comments on a paper, threads in order (hidden ones withheld)")
def list_comments(request: Request, paper_id: str) -> dict[str, Any]:
    from paperfeed.web.markdown import render_markdown

    comments = engine_of(request).store.community.comments_for(paper_id)
    return {"paper_id": paper_id, "comments": [
        {"id": c.id, "parent_id": c.parent_id, "author": c.author, "author_id": c.user_id,
         "created_at": c.created_at.isoformat(), "edited_at": c.edited_at.isoformat() if c.edited_at else None,
         "deleted": c.deleted, "hidden": c.hidden,
         "body": "" if c.hidden else c.body, "html": "" if c.hidden or c.deleted else render_markdown(c.body)}
        for c in comments]}
