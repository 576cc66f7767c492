"""The web application: `create_app(settings)` builds it; nothing happens at import.

Errors are translated here, once: API paths get the JSON envelope
`{"error": {"code", "message", "field"}}`, pages get an HTML error page, both with the
status the core error names. Bad query parameters are 400s, never 500s.
"""

from __future__ import annotations

import logging
import threading
from contextlib import asynccontextmanager
from datetime import date, datetime, timezone
from pathlib import Path
from typing import AsyncIterator, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from paperfeed.config import Settings
from paperfeed.errors import PaperfeedError
from paperfeed.engine import SearchEngine
from paperfeed.sources.arxiv_api import RateLimiter
from paperfeed.store import open_store
from paperfeed.web import api, feed_routes, pages, subscribe_routes
from paperfeed.web.community_routes import install_community
from paperfeed.web.highlight import highlight, snippet
from paperfeed.web.static import CachedStatic
from paperfeed.web.views import NewestDay
from paperfeed.startup import prepare_engine

log = logging.getLogger("paperfeed.web")
HERE = Path(__file__).parent


def utc_today() -> date:
    return datetime.now(timezone.utc).date()


def create_app(
    settings: Settings, *, engine: SearchEngine | None = None, today: Callable[[], date] = utc_today
) -> FastAPI:
    """Build the app. Pass a prepared `engine` to share one already open (serve, tests);
    otherwise the store is opened, migrated and indexed at start-up. `today` is the clock
    behind "new" badges and day navigation (tests pin it)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if engine is not None:
            app.state.engine = engine
            yield
            return
        store = open_store(settings.database_url)
        app.state.engine = prepare_engine(store, settings)
        stop = _digest_scheduler(app.state.engine, settings)
        yield
        stop.set()
        store.close()

    app = FastAPI(
        title="paperfeed",
        summary="Research-paper discovery: search, feeds and papers as JSON.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served below from local files: no CDN, works offline
        redoc_url=None,
    )
    if engine is not None:
        app.state.engine = engine  # usable before start-up too (in-process fuzzing, benchmarks)
    app.state.settings = settings
    app.state.today = today
    app.state.newest_day = NewestDay()
    app.state.arxiv_limiter = RateLimiter(3.0)  # arXiv asks for one request per 3 s
    app.state.templates = _templates()
    app.mount("/static", CachedStatic(directory=HERE / "static"), name="static")
    _install_docs(app)
    app.include_router(api.router)
    app.include_router(feed_routes.router)
    install_community(app)  # before pages: its routes are more specific
    app.include_router(pages.router)
    app.include_router(subscribe_routes.router)  # email subscriptions (docs/email.md)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Content-Type"], max_age=3600)
    _install_error_handlers(app)
    return app


def _digest_scheduler(engine: SearchEngine, settings: Settings) -> threading.Event:
    """PAPERFEED_DIGEST_INTERVAL: digest runs on a thread of this process (docs/email.md)."""
    if not settings.mail.digest_interval_s:
        return threading.Event()
    from paperfeed.digest_run import start_scheduler

    return start_scheduler(engine, settings, every_s=settings.mail.digest_interval_s)


def app_from_environment() -> FastAPI:
    """The app from PAPERFEED_* variables: what each `serve --workers N` process runs."""
    return create_app(Settings.load())


def _install_docs(app: FastAPI) -> None:
    """/docs: Swagger UI from the swagger-ui-bundle package's files, not from a CDN."""
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/docs-assets", CachedStatic(directory=swagger_ui_path), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> Response:
        return get_swagger_ui_html(
            openapi_url="/openapi.json", title="paperfeed API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon-32x32.png",
        )


def _templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=HERE / "templates")
    # The templates ship with the package and never change under a running server: skip
    # Jinja's per-render os.stat of every template and include (one per card on lists).
    templates.env.auto_reload = False
    templates.env.filters["highlight"] = highlight
    templates.env.filters["snippet"] = snippet
    return templates


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(("/api/", "/feeds/"))


def error_response(request: Request, *, status: int, code: str, message: str, field: str | None) -> Response:
    if _is_api(request):
        return JSONResponse(
            {"error": {"code": code, "message": message, "field": field}}, status_code=status
        )
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(
        request, "error.html", {"status": status, "message": message}, status_code=status
    )


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(PaperfeedError)
    async def on_paperfeed_error(request: Request, exc: PaperfeedError) -> Response:
        if exc.status >= 500:
            log.error("%s: %s", exc.code, exc)
        return error_response(request, status=exc.status, code=exc.code, message=str(exc), field=exc.field)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        location = [str(part) for part in first.get("loc", ()) if part not in ("query", "path", "body")]
        field = ".".join(location) or None
        message = f"Parameter '{field}': {first.get('msg', 'invalid value')}." if field else "Invalid request."
        return error_response(request, status=400, code="invalid", message=message, field=field)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = "not_found" if exc.status_code == 404 else "http_error"
        message = "Nothing lives at this address." if exc.status_code == 404 else str(exc.detail)
        return error_response(request, status=exc.status_code, code=code, message=message, field=None)

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s", request.url.path)
        return error_response(
            request, status=500, code="internal", message="Something went wrong on our side.", field=None
        )
