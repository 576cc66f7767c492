"""Static files with validators: Starlette sends an ETag (and Last-Modified) for each
file and answers If-None-Match with 304; we add a short max-age so browsers reuse the
file for a while and then revalidate it cheaply."""

from __future__ import annotations

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

CACHE_CONTROL = "public, max-age=3600"


class CachedStatic(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            response.headers["Cache-Control"] = CACHE_CONTROL
        return response
