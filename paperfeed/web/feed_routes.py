"""Feed URLs: /feeds/papers.atom, /feeds/search.rss?q=..., /feeds/category/cs.CL.atom.

Each answer carries an ETag of its bytes, so a reader polling an unchanged feed gets a 304."""

from __future__ import annotations

import hashlib

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from paperfeed.web import feeds, views
from paperfeed.web.api import engine_of, search_params

router = APIRouter(prefix="/feeds", tags=["feeds"])
FEED_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"content": {"application/atom+xml": {}, "application/rss+xml": {}}, "description": "The feed"},
    400: {"description": "Bad parameter (JSON error envelope)"},
}
LIMIT = Query(feeds.FEED_SIZE, description=f"Entries, 1..{feeds.MAX_FEED_SIZE}")


def _answer(request: Request, feed: feeds.Feed, fmt: str) -> Response:
    body = feeds.render(feed, fmt, base_url=str(request.base_url), self_url=str(request.url))
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": "public, max-age=600"}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=feeds.MEDIA_TYPES[fmt], headers=headers)


@router.get("/papers.{fmt}", summary="Newest papers (Atom or RSS 2.0)", response_class=Response,
            responses=FEED_RESPONSES)
def newest(request: Request, fmt: str, limit: int = LIMIT) -> Response:
    feeds.check_format(fmt)
    return _answer(request, feeds.newest_feed(engine_of(request), limit=limit), fmt)


@router.get("/search.{fmt}", summary="Newest papers matching a search (Atom or RSS 2.0)",
            response_class=Response, responses=FEED_RESPONSES)
def search(request: Request, fmt: str, params: views.SearchParams = Depends(search_params),
           limit: int = LIMIT) -> Response:
    feeds.check_format(fmt)
    return _answer(request, feeds.search_feed(engine_of(request), params, limit=limit), fmt)


@router.get("/category/{category}.{fmt}", summary="Newest papers in an arXiv category (Atom or RSS 2.0)",
            response_class=Response, responses=FEED_RESPONSES)
def category(request: Request, category: str, fmt: str, limit: int = LIMIT) -> Response:
    feeds.check_format(fmt)
    return _answer(request, feeds.category_feed(engine_of(request), category, limit=limit), fmt)
