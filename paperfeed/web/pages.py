"""HTML pages, server-rendered; each renders the same data its /api/v1 twin returns."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from paperfeed.errors import PaperfeedError, QuerySyntaxError
from paperfeed.web import views
from paperfeed.web.api import engine_of, home_params, map_params, newest_of, search_params, today_of
from paperfeed.web.mapview import map_page
from paperfeed.web.session import community_submitter, utc_now
from paperfeed.web.submit import submit_arxiv

router = APIRouter(include_in_schema=False)
MAX_FORM_BYTES = 4096


def _render(request: Request, template: str, status: int = 200, **context: object) -> HTMLResponse:
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(request, template, context, status_code=status)


async def _form(request: Request) -> dict[str, str]:
    """A small url-encoded form body (no multipart dependency for two text fields)."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return {}
    fields = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


@router.get("/", response_class=HTMLResponse)
def home(request: Request, params: dict[str, Any] = Depends(home_params)) -> HTMLResponse:
    data = views.home_page(engine_of(request), today=today_of(request), newest_of=newest_of(request), **params)
    return _render(request, "home.html", data=data)


@router.get("/papers/{paper_id:path}", response_class=HTMLResponse)
def paper(request: Request, paper_id: str) -> HTMLResponse:
    data = views.paper_page(engine_of(request), paper_id)
    return _render(request, "paper.html", data=data, today=today_of(request))


@router.get("/search", response_class=HTMLResponse)
def search(request: Request, params: views.SearchParams = Depends(search_params)) -> Response:
    try:
        data = views.search_page(engine_of(request), params)
    except QuerySyntaxError as exc:  # show the box again with the problem, not an error page
        return _render(request, "search.html", exc.status, data=views.empty_search(params), error=str(exc))
    if data.results.direct:  # an exact arXiv id or title: straight to the paper
        return RedirectResponse(f"/papers/{data.results.papers[0].id}", status_code=303)
    return _render(request, "search.html", data=data, today=today_of(request))


@router.get("/map", response_class=HTMLResponse)
def paper_map(request: Request, params: dict[str, Any] = Depends(map_params)) -> HTMLResponse:
    return _render(request, "map.html", data=map_page(engine_of(request), newest_of=newest_of(request), **params))


@router.get("/submit", response_class=HTMLResponse)
def submit_form(request: Request) -> HTMLResponse:
    return _render(request, "submit.html", value="", error=None)


@router.post("/submit", response_class=HTMLResponse)
async def submit(request: Request) -> Response:
    form = await _form(request)
    value = form.get("arxiv_id", "")
    user = community_submitter(request, form)  # signed in: CSRF-checked, rate-limited, credited
    try:
        # fetching blocks: run it off the event loop, as FastAPI does for sync routes
        done = await run_in_threadpool(submit_arxiv, engine_of(request), request.app.state.settings, value,
                                       limiter=request.app.state.arxiv_limiter)
    except PaperfeedError as exc:  # the form again, with what went wrong, never a bare error page
        return _render(request, "submit.html", exc.status, value=value, error=str(exc))
    if user is not None:
        engine_of(request).store.community.record_submission(user.id, done.paper.id, now=utc_now())
    return RedirectResponse(f"/papers/{done.paper.id}?submitted={int(done.added)}", status_code=303)
