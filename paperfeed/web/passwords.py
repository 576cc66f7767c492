"""Optional passwords: set or remove one on your profile page, sign in with email +
password as an alternative to the emailed link (docs/community.md).

Wrong password, unknown email and "this account has no password" all get the same answer,
so the form does not tell who has an account. Attempts are rate-limited per email and per
client like sign-in links. Hashing (argon2, ~tens of ms) runs off the event loop.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from paperfeed.errors import InvalidInput
from paperfeed.passwords import check_new_password, hash_password, verify_password
from paperfeed.web.accounts import clean_email, limit_sign_ins
from paperfeed.web.pages import _form, _render
from paperfeed.web.session import check_csrf, require_user, start_session

router = APIRouter(include_in_schema=False)
WRONG = "Wrong email or password (or this account has no password: use an emailed link)."


@router.post("/account/password")
async def set_password(request: Request) -> Response:
    form = await _form(request)
    check_csrf(request, form)
    user = require_user(request)
    password = check_new_password(form.get("password", ""), form.get("confirm", ""))
    hashed = await run_in_threadpool(hash_password, password)
    request.app.state.engine.store.community.set_password_hash(user.id, hashed)
    return RedirectResponse(f"/users/{user.id}?password=set", status_code=303)


@router.post("/account/password/remove")
async def remove_password(request: Request) -> Response:
    form = await _form(request)
    check_csrf(request, form)
    user = require_user(request)
    request.app.state.engine.store.community.set_password_hash(user.id, None)
    return RedirectResponse(f"/users/{user.id}?password=removed", status_code=303)


@router.post("/sign-in/password", response_class=HTMLResponse)
async def sign_in_with_password(request: Request) -> Response:
    form = await _form(request)
    check_csrf(request, form)

    def refuse(status: int, message: str) -> HTMLResponse:
        return _render(request, "sign_in.html", status, email=form.get("email", ""), error=message, sent=False)

    try:
        email = clean_email(form.get("email", ""))
        limit_sign_ins(request, email, kind="password", what="password sign-ins")
    except InvalidInput as exc:
        return refuse(exc.status, str(exc))
    user, stored = request.app.state.engine.store.community.password_hash_of(email)
    if not await run_in_threadpool(verify_password, stored, form.get("password", "")) or user is None:
        return refuse(400, WRONG)
    if user.suspended:
        return refuse(403, "This account is suspended.")
    response = RedirectResponse("/", status_code=303)
    start_session(request, response, user)
    return response
