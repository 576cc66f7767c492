"""Email subscription pages (docs/email.md, "Site routes"): subscribe, confirm,
preferences and one-click unsubscribe, all without signing in. Nothing changes state on
GET: mail software and scanners fetch links in mail, so every GET is a page with a button.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qs

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from paperfeed.errors import PaperfeedError
from paperfeed.mail.outbox import send_due
from paperfeed.mail.pacing import Throttle
from paperfeed.mail.transport import mailer_from_settings
from paperfeed.subscriptions import Subscriptions, parse_preferences
from paperfeed.tokens import Purpose
from paperfeed.web.api import engine_of
from paperfeed.web.session import current_user

log = logging.getLogger("paperfeed.web")

router = APIRouter(include_in_schema=False)
MAX_FORM_BYTES = 16384
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
URGENT_BATCH = 5  # after a subscribe, send the confirm mail now (it sorts first in the outbox)


def subscriptions_of(request: Request) -> Subscriptions:
    state = request.app.state
    if getattr(state, "subscriptions", None) is None:
        state.subscriptions = Subscriptions(engine_of(request).store, state.settings)
    return state.subscriptions  # type: ignore[no-any-return]


def _render(request: Request, template: str, status: int = 200, **context: object) -> HTMLResponse:
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(request, template, context, status_code=status)


async def _form(request: Request) -> dict[str, list[str]]:
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return {}
    return parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)


def send_urgent(subscriptions: Subscriptions) -> None:
    """Deliver the just-queued confirmation mail; a failure stays in the outbox for
    `paperfeed digest run` to retry."""
    settings = subscriptions.settings
    try:
        mailer = mailer_from_settings(settings)
        try:
            send_due(subscriptions.store, mailer, sender=subscriptions.sender, clock=subscriptions.clock,
                     throttle=Throttle(settings.mail.rate_per_second),
                     max_bounces=settings.mail.max_bounces, limit=URGENT_BATCH)
        finally:
            mailer.close()
    except PaperfeedError as exc:  # e.g. the relay refuses our login: the mail waits in the outbox
        log.error("confirmation mail not sent now: %s", exc)


@router.post("/subscribe", response_class=HTMLResponse)
async def subscribe(request: Request, background: BackgroundTasks) -> HTMLResponse:
    email = ((await _form(request)).get("email") or [""])[0].strip()
    subscriptions = subscriptions_of(request)
    try:
        await run_in_threadpool(lambda: subscriptions.subscribe(email, account=current_user(request)))
    except PaperfeedError as exc:
        return _render(request, "subscribe.html", exc.status, email=email, error=str(exc))
    background.add_task(send_urgent, subscriptions)
    # The same answer whether the address was new, pending or confirmed: the page does not
    # tell a stranger who is subscribed.
    return _render(request, "subscribe.html", email=email, error=None)


@router.get("/subscribe/confirm/{token}", response_class=HTMLResponse)
def confirm_page(request: Request, token: str) -> HTMLResponse:
    subscriber = subscriptions_of(request).check_confirm(token)
    return _render(request, "subscription_step.html", step="confirm", email=subscriber.email, done=False)


@router.post("/subscribe/confirm/{token}", response_class=HTMLResponse)
def confirm(request: Request, token: str) -> HTMLResponse:
    subscriptions = subscriptions_of(request)
    subscriber = subscriptions.confirm(token)
    preferences_token, _ = subscriptions.link_tokens(subscriber)
    return _render(request, "subscription_step.html", step="confirm", email=subscriber.email, done=True,
                   preferences_url=subscriptions.urls.preferences(preferences_token))


@router.get("/subscription/{token}", response_class=HTMLResponse)
def preferences_page(request: Request, token: str) -> HTMLResponse:
    return _preferences(request, token, saved=False)


@router.post("/subscription/{token}", response_class=HTMLResponse)
async def save_preferences(request: Request, token: str) -> HTMLResponse:
    subscriptions = subscriptions_of(request)
    form = await _form(request)
    try:
        preferences = parse_preferences(form)
    except PaperfeedError as exc:
        return _preferences(request, token, saved=False, error=str(exc), status=exc.status)
    await run_in_threadpool(subscriptions.save_preferences, token, preferences)
    return _preferences(request, token, saved=True)


def _preferences(request: Request, token: str, *, saved: bool, error: str | None = None,
                 status: int = 200) -> HTMLResponse:
    subscriptions = subscriptions_of(request)
    subscriber = subscriptions.from_link(token, Purpose.PREFERENCES)
    searches = subscriptions.store.mail.searches([subscriber.id])
    follows = subscriptions.store.mail.follows([subscriber.id])
    _, unsubscribe_token = subscriptions.link_tokens(subscriber)
    return _render(
        request, "subscription.html", status, subscriber=subscriber, saved=saved, error=error, weekdays=WEEKDAYS,
        searches=[(s.query, _category(s.filters)) for s in searches],
        authors="\n".join(f.value for f in follows if f.kind == "author"),
        categories=" ".join(f.value for f in follows if f.kind == "category"),
        unsubscribe_url=subscriptions.urls.unsubscribe(unsubscribe_token))


def _category(filters: str) -> str:
    import json

    return str(json.loads(filters).get("category", ""))


@router.get("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe_page(request: Request, token: str) -> HTMLResponse:
    subscriber = subscriptions_of(request).from_link(token, Purpose.UNSUBSCRIBE)
    return _render(request, "subscription_step.html", step="unsubscribe", email=subscriber.email,
                   done=subscriber.status == "unsubscribed")


@router.post("/unsubscribe/{token}")
def unsubscribe(request: Request, token: str) -> Response:
    """RFC 8058 one-click target and the page's button: takes effect at once, no redirect."""
    subscriber = subscriptions_of(request).unsubscribe(token)
    return _render(request, "subscription_step.html", step="unsubscribe", email=subscriber.email, done=True)
