"""Sign-in by emailed magic link, sign-out, display name, profile pages.

Following a link only shows a button: the POST behind it signs in. Mail scanners that
fetch every link in a message would otherwise use up the single-use link (or sign in
on the user's behalf). The link's nonce is stored hashed when used, so it works once.
"""

from __future__ import annotations

from datetime import datetime, timezone

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from urllib.parse import quote

from paperfeed.errors import InvalidInput, NotFound
from paperfeed.mail.message import build_message
from paperfeed.mail.render import render_sign_in
from paperfeed.mail.transport import mailer_from_settings, sender_from_settings
from paperfeed.mail.urls import SiteUrls
from paperfeed.tokens import RULES, InvalidToken, Purpose, TokenSigner, nonce_digest, signing_key
from paperfeed.web.pages import _form, _render
from paperfeed.web.session import (
    check_csrf, current_user, end_session, require_user, start_session, utc_now,
)

router = APIRouter(include_in_schema=False)
MAX_NAME = 60


def _signer(request: Request) -> TokenSigner:
    settings = request.app.state.settings
    return TokenSigner(signing_key(settings), clock=lambda: datetime.now(timezone.utc))


def clean_email(value: str) -> str:
    email = value.strip().lower()
    local, _, domain = email.partition("@")
    if not local or "." not in domain or len(email) > 254 or any(c.isspace() or c in "<>\"," for c in email):
        raise InvalidInput("That does not look like an email address.", field="email",
                           hint="Use one like you@example.org.")
    return email


def limit_sign_ins(request: Request, email: str, *, kind: str, what: str) -> None:
    """Count one sign-in attempt of `kind` against the address and against the client, each
    limited to `sign_in_limit` an hour; RateLimited (a 429) once either is spent."""
    limit = request.app.state.settings.community.sign_in_limit
    client = request.client.host if request.client else "?"
    for key in (f"{kind}:{email}", f"{kind}-ip:{client}"):
        request.app.state.rate_limiter.hit(key, limit=limit, window_s=3600, what=what)


def clean_name(value: str) -> str:
    name = " ".join(value.split())
    if not name or len(name) > MAX_NAME:
        raise InvalidInput(f"A display name has 1 to {MAX_NAME} characters.", field="display_name",
                           hint="Pick a shorter (or non-empty) name.")
    return name


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(request: Request) -> HTMLResponse:
    return _render(request, "sign_in.html", email="", error=None, sent=False)


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in_request(request: Request) -> HTMLResponse:
    form = await _form(request)
    check_csrf(request, form)
    try:
        email = clean_email(form.get("email", ""))
        limit_sign_ins(request, email, kind="sign-in", what="sign-in links")
    except InvalidInput as exc:
        return _render(request, "sign_in.html", exc.status, email=form.get("email", ""), error=str(exc), sent=False)
    await run_in_threadpool(_send_link, request, email)
    return _render(request, "sign_in.html", email=email, error=None, sent=True)


def _send_link(request: Request, email: str) -> None:
    settings = request.app.state.settings
    token = _signer(request).issue(Purpose.SIGN_IN, email)
    urls = SiteUrls(settings.public_url)
    link = f"{settings.public_url}/sign-in/verify?token={quote(token)}"
    mail = render_sign_in(email=email, sign_in_url=link, urls=urls, valid_for=RULES[Purpose.SIGN_IN].lifetime)
    message = build_message(mail.to(email), sender=sender_from_settings(settings), now=utc_now())
    mailer = request.app.state.mailer
    if mailer is None:  # the configured one (console in development), opened per message
        mailer = mailer_from_settings(settings)
        try:
            mailer.send(message)
        finally:
            mailer.close()
        return
    mailer.send(message)


@router.get("/sign-in/verify", response_class=HTMLResponse)
def sign_in_confirm(request: Request, token: str = "") -> HTMLResponse:
    return _render(request, "sign_in_confirm.html", token=token)


@router.post("/sign-in/verify")
async def sign_in_finish(request: Request) -> Response:
    form = await _form(request)
    check_csrf(request, form)
    community = request.app.state.engine.store.community
    try:
        claims = _signer(request).verify(form.get("token", ""), Purpose.SIGN_IN)
    except InvalidToken as exc:
        why = "has expired" if exc.expired else "is not valid"
        return _render(request, "sign_in.html", 400, email="", sent=False,
                       error=f"This sign-in link {why}. Ask for a new one below.")
    if not community.use_nonce(nonce_digest(claims), now=utc_now()):
        return _render(request, "sign_in.html", 400, email="", sent=False,
                       error="This sign-in link was already used. Ask for a new one below.")
    email = claims.subject
    user = community.get_or_create_user(email, display_name=email.split("@")[0][:MAX_NAME], now=utc_now())
    if user.suspended:
        return _render(request, "sign_in.html", 403, email="", sent=False, error="This account is suspended.")
    response = RedirectResponse("/", status_code=303)
    start_session(request, response, user)
    return response


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    check_csrf(request, await _form(request))
    response = RedirectResponse("/", status_code=303)
    end_session(request, response)
    return response


@router.post("/account/name")
async def rename(request: Request) -> Response:
    form = await _form(request)
    check_csrf(request, form)
    user = require_user(request)
    request.app.state.engine.store.community.set_display_name(user.id, clean_name(form.get("display_name", "")))
    return RedirectResponse(f"/users/{user.id}", status_code=303)


@router.get("/users/{user_id}", response_class=HTMLResponse)
def profile(request: Request, user_id: int) -> HTMLResponse:
    engine = request.app.state.engine
    community = engine.store.community
    user = community.get_user(user_id)
    if user is None:
        raise NotFound(f"No user {user_id}.", hint="Check the link.")
    me = current_user(request)
    own = me is not None and me.id == user.id
    papers = engine.store.get_papers(community.submissions_by(user.id))
    collections = community.collections_of(user.id, public_only=not own)
    return _render(request, "profile.html", user=user, own=own, papers=papers, collections=collections)
