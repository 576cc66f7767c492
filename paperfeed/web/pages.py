"""HTML pages, server-rendered; each renders the same data its /api/v1 twin returns."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from paperfeed.errors import QuerySyntaxError
from paperfeed.web import views
from paperfeed.web.api import engine_of, search_params

router = APIRouter(include_in_schema=False)


def _render(request: Request, template: str, **context: object) -> HTMLResponse:
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(request, template, context)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, page: int = Query(1), per_page: int = Query(20)) -> HTMLResponse:
    data = views.newest_papers(engine_of(request), page=page, per_page=per_page)
    return _render(request, "home.html", data=data)


@router.get("/papers/{paper_id:path}", response_class=HTMLResponse)
def paper(request: Request, paper_id: str) -> HTMLResponse:
    data = views.paper_page(engine_of(request), paper_id)
    return _render(request, "paper.html", data=data)


@router.get("/search", response_class=HTMLResponse)
def search(request: Request, params: views.SearchParams = Depends(search_params)) -> Response:
    try:
        data = views.search_page(engine_of(request), params)
    except QuerySyntaxError as exc:  # show the box again with the problem, not an error page
        response = _render(request, "search.html", data=views.empty_search(params), error=str(exc))
        response.status_code = exc.status
        return response
    if data.results.direct:  # an exact arXiv id or title: straight to the paper
        return RedirectResponse(f"/papers/{data.results.papers[0].id}", status_code=303)
    return _render(request, "search.html", data=data)
