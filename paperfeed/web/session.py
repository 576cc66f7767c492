"""Sessions, CSRF and rate limits for the community pages and API.

Session: a random 256-bit id in the `pf_session` cookie (HttpOnly, SameSite=Lax, Secure
when the site is served over https); the store keeps only its SHA-256, so a leaked
database holds no usable session. A new id is minted at every sign-in (no fixation).

CSRF: a random token in the `pf_csrf` cookie, repeated by every state-changing request in
a `csrf` form field or an `X-CSRF-Token` header (double submit). Another site can make a
browser send the cookie but cannot read it, so it cannot repeat it; SameSite=Lax is a
second lock. The token is replaced at sign-in and sign-out.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from datetime import datetime, timedelta, timezone
from typing import Callable

from fastapi import Request
from fastapi.responses import Response

from paperfeed.errors import Forbidden, RateLimited, SignInRequired
from paperfeed.store.community import User

SESSION_COOKIE = "pf_session"
CSRF_COOKIE = "pf_csrf"
CSRF_HEADER = "x-csrf-token"


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _secure(request: Request) -> bool:
    settings = request.app.state.settings
    return request.url.scheme == "https" or settings.public_url.startswith("https://")


def current_user(request: Request) -> User | None:
    """The signed-in user, or None (no cookie, unknown, expired, or suspended)."""
    if hasattr(request.state, "user"):
        return request.state.user  # type: ignore[no-any-return]
    raw = request.cookies.get(SESSION_COOKIE)
    store = request.app.state.engine.store
    user = store.community.session_user(digest(raw), now=utc_now()) if raw else None
    request.state.user = user
    return user


def require_user(request: Request) -> User:
    user = current_user(request)
    if user is None:
        raise SignInRequired("Sign in first.", hint="Use the sign-in link in the header; it emails you a link.")
    return user


def csrf_token(request: Request) -> str:
    """The token forms must repeat; minted (and set by `remember_csrf`) when missing."""
    token = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf", None)
    if not token:
        token = secrets.token_urlsafe(32)
        request.state.new_csrf = token
    return token


def remember_csrf(request: Request, response: Response) -> Response:
    """Set the CSRF cookie on a response whose page minted one."""
    token = getattr(request.state, "new_csrf", None)
    if token:
        response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="lax", secure=_secure(request), path="/")
    return response


def check_csrf(request: Request, form: dict[str, str]) -> None:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    sent = form.get("csrf") or request.headers.get(CSRF_HEADER, "")
    if not cookie or not sent or not hmac.compare_digest(cookie.encode(), sent.encode()):
        raise Forbidden("This request did not carry the page's security token (CSRF).",
                        field="csrf", hint="Reload the page and try again; API calls send X-CSRF-Token.")


def start_session(request: Request, response: Response, user: User) -> None:
    """Sign in: end any session this browser had, mint a new id and a new CSRF token."""
    store = request.app.state.engine.store
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        store.community.delete_session(digest(old))
    session_id = secrets.token_urlsafe(32)
    days = request.app.state.settings.community.session_days
    now = utc_now()
    store.community.create_session(digest(session_id), user.id, now=now, expires_at=now + timedelta(days=days))
    secure = _secure(request)
    response.set_cookie(SESSION_COOKIE, session_id, max_age=days * 86400, httponly=True, samesite="lax",
                        secure=secure, path="/")
    response.set_cookie(CSRF_COOKIE, secrets.token_urlsafe(32), httponly=True, samesite="lax", secure=secure, path="/")


def end_session(request: Request, response: Response) -> None:
    raw = request.cookies.get(SESSION_COOKIE)
    if raw:
        request.app.state.engine.store.community.delete_session(digest(raw))
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")


class RateLimiter:
    """Sliding-window counts per key, in this process's memory (docs/community.md: a
    multi-worker deployment gets one window per worker, a known limit)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self.clock = clock

    def hit(self, key: str, *, limit: int, window_s: float, what: str) -> None:
        now = self.clock()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - window_s:
                hits.popleft()
            if len(hits) >= limit:
                wait = int(hits[0] + window_s - now) + 1
                raise RateLimited(f"Too many {what}; try again in {wait} s.",
                                  hint=f"The limit is {limit} per {int(window_s)} s.")
            hits.append(now)


def community_submitter(request: Request, form: dict[str, str]) -> User | None:
    """For /submit: a signed-in user's submission is credited to them, so it needs the
    CSRF token and counts against their posting limit. Anonymous submits (the web
    issue's flow) stay open: they credit no one and change nothing a visitor could not."""
    user = current_user(request)
    if user is None:
        return None
    check_csrf(request, form)
    limit = request.app.state.settings.community.post_limit
    request.app.state.rate_limiter.hit(f"post:{user.id}", limit=limit, window_s=60, what="posts")
    return user
