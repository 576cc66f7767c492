"""Subscribing, confirming, preferences and unsubscribing (issue 7, docs/email.md).

The web routes call these; they hold no HTTP. Every link carries a signed token
(tokens.py): confirm links are single use (their nonce is recorded in `used_tokens`), and
preference and unsubscribe links stop working when an address subscribes again after
leaving (`links_valid_after`). Nothing but the confirmation mail goes to an unconfirmed
address: the outbox's due query enforces it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from email.utils import make_msgid
from typing import Callable

from paperfeed.addresses import parse_address
from paperfeed.config import Settings
from paperfeed.errors import InvalidInput
from paperfeed.mail.message import sender_mailbox, unsubscribe_links, wire_bytes
from paperfeed.mail.outbox import pack
from paperfeed.mail.render import render_confirmation
from paperfeed.mail.transport import sender_from_settings
from paperfeed.mail.urls import SiteUrls
from paperfeed.store import Store
from paperfeed.store.community.models import User
from paperfeed.store.mail_tables import Follow, SavedSearch, Subscriber
from paperfeed.tokens import RULES, InvalidToken, Purpose, TokenSigner, nonce_digest, signing_key, utc_now

SEND_HOUR = time(7, 0)  # digests fall due at 07:00 UTC: after arXiv's 00:00 UTC announcement
MAX_TOP_N = 50
MAX_SEARCHES = 10
MAX_FOLLOWS = 50
FREQUENCIES = ("daily", "weekly", "paused")


def next_due(frequency: str, weekday: int | None, *, after: datetime) -> datetime:
    """The next send time strictly after `after`. Daily digests follow arXiv's
    announcement days (Monday to Friday); weekly ones go on the chosen weekday."""
    day = after.astimezone(timezone.utc).date()
    for step in range(0, 9):
        candidate = datetime.combine(day + timedelta(days=step), SEND_HOUR, tzinfo=timezone.utc)
        if candidate <= after:
            continue
        if frequency == "daily" and candidate.weekday() < 5:
            return candidate
        if frequency == "weekly" and candidate.weekday() == (weekday or 0):
            return candidate
    raise ValueError(f"no next send time for {frequency!r}")


@dataclass(frozen=True)
class Preferences:
    """What the preferences form submits, validated."""

    frequency: str  # daily | weekly | paused
    weekday: int | None
    trending_top_n: int
    searches: tuple[tuple[str, str], ...]  # (query, category filter or "")
    authors: tuple[str, ...]
    categories: tuple[str, ...]


class Subscriptions:
    def __init__(self, store: Store, settings: Settings, *, clock: Callable[[], datetime] = utc_now) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.signer = TokenSigner(signing_key(settings), clock=clock)
        self.urls = SiteUrls(settings.public_url)
        self.sender = sender_from_settings(settings)

    # -- subscribe and confirm --------------------------------------------------------------
    def subscribe(self, email: str, *, account: User | None = None) -> Subscriber:
        """Record the address (once, whatever its case) and queue the confirmation mail
        if it is not confirmed yet. InvalidInput(field='email') for a bad address.
        Subscribed by a signed-in `account` to its own address (proven by its sign-in link),
        the subscription is linked to the account; to another address, it is not (anyone may
        type any address, and only its owner's confirmation may tie it to someone)."""
        address = parse_address(email.strip(), field="email")
        if address.display_name:
            raise InvalidInput("Give the address alone, without a name.", hint="Use one like you@example.org.",
                               field="email")
        now = self.clock()
        own = account is not None and account.email.lower() == address.addr_spec.lower()
        subscriber, needs_confirmation = self.store.mail.subscribe(email=address.addr_spec, now=now,
                                                                   user_id=account.id if own and account else None)
        if needs_confirmation:
            self._queue_confirmation(subscriber, now)
        return subscriber

    def _queue_confirmation(self, subscriber: Subscriber, now: datetime) -> None:
        token = self.signer.issue(Purpose.CONFIRM, str(subscriber.id))
        rendered = render_confirmation(email=subscriber.email, confirm_url=self.urls.confirm(token), urls=self.urls,
                                       valid_for=RULES[Purpose.CONFIRM].lifetime or timedelta(days=7))
        message_id = make_msgid(domain=sender_mailbox(self.sender).domain)
        message = wire_bytes(rendered.to(subscriber.email, message_id=message_id), sender=self.sender, now=now)
        self.store.mail.enqueue(kind="confirm", subscriber_id=subscriber.id, recipient=subscriber.email,
                                message=pack(message), message_id=message_id, priority=0, now=now,
                                expires_at=now + timedelta(days=7))

    def check_confirm(self, token: str) -> Subscriber:
        """The subscriber a confirm link names, without using it (the GET page)."""
        claims = self.signer.verify(token, Purpose.CONFIRM)
        return self._subscriber(claims.subject, claims.issued_at)

    def confirm(self, token: str) -> Subscriber:
        claims = self.signer.verify(token, Purpose.CONFIRM)
        subscriber = self._subscriber(claims.subject, claims.issued_at)
        now = self.clock()
        if not self.store.mail.use_token(nonce_digest=nonce_digest(claims), purpose=claims.purpose.value,
                                         now=now, expires_at=claims.expires_at):
            if subscriber.status in ("active", "paused"):
                return subscriber  # a second click on the same link: already done, say so kindly
            raise InvalidToken("confirm link already used")
        self.store.mail.activate(subscriber.id, now=now, next_due_at=next_due("daily", None, after=now),
                                 delivered_rev=self.store.max_rev())
        return self.store.mail.get_subscriber(subscriber.id) or subscriber

    # -- links in every mail ----------------------------------------------------------------
    def link_tokens(self, subscriber: Subscriber) -> tuple[str, str]:
        """(preferences token, unsubscribe token) for a mail to this subscriber."""
        return (self.signer.issue(Purpose.PREFERENCES, str(subscriber.id)),
                self.signer.issue(Purpose.UNSUBSCRIBE, str(subscriber.id)))

    def unsubscribe_headers(self, unsubscribe_token: str):  # type: ignore[no-untyped-def]
        return unsubscribe_links(self.urls.unsubscribe(unsubscribe_token), mailbox=sender_mailbox(
            self.sender).addr_spec, token=unsubscribe_token)

    def from_link(self, token: str, purpose: Purpose) -> Subscriber:
        claims = self.signer.verify(token, purpose)
        return self._subscriber(claims.subject, claims.issued_at)

    def unsubscribe(self, token: str) -> Subscriber:
        subscriber = self.from_link(token, Purpose.UNSUBSCRIBE)
        self.store.mail.unsubscribe(subscriber.id, now=self.clock())
        return self.store.mail.get_subscriber(subscriber.id) or subscriber

    def save_preferences(self, token: str, preferences: Preferences) -> Subscriber:
        subscriber = self.from_link(token, Purpose.PREFERENCES)
        if subscriber.status not in ("active", "paused"):
            raise InvalidInput("This address is not subscribed.", hint="Subscribe again from the site's header.",
                               field="token")
        paused = preferences.frequency == "paused"
        frequency = subscriber.frequency if paused else preferences.frequency
        searches = [SavedSearch(subscriber.id, query, json.dumps({"category": category} if category else {}),
                                query, _query_key(query, category)) for query, category in preferences.searches]
        follows = [Follow(subscriber.id, "author", a) for a in preferences.authors] + [
            Follow(subscriber.id, "category", c) for c in preferences.categories]
        self.store.mail.set_preferences(
            subscriber.id, status="paused" if paused else "active", frequency=frequency,
            weekday=preferences.weekday if frequency == "weekly" else None,
            trending_top_n=preferences.trending_top_n,
            next_due_at=None if paused else next_due(frequency, preferences.weekday, after=self.clock()),
            searches=searches, follows=follows)
        return self.store.mail.get_subscriber(subscriber.id) or subscriber

    def _subscriber(self, subject: str, issued_at: datetime) -> Subscriber:
        subscriber = self.store.mail.get_subscriber(int(subject)) if subject.isdigit() else None
        if subscriber is None:
            raise InvalidToken("unknown subscriber")
        if issued_at < subscriber.links_valid_after.replace(microsecond=0):
            raise InvalidToken("revoked: issued before the address subscribed again")
        return subscriber


def _query_key(query: str, category: str) -> str:
    """Canonical (query, filters): one search per distinct key per digest run."""
    canonical = json.dumps([" ".join(query.lower().split()), category], separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def parse_preferences(form: dict[str, list[str]]) -> Preferences:
    """The preferences form, each bad field a 400 naming it and the fix."""
    def one(name: str, default: str = "") -> str:
        return (form.get(name) or [default])[0].strip()

    frequency = one("frequency", "daily")
    if frequency not in FREQUENCIES:
        raise InvalidInput(f"Frequency {frequency!r} is not offered.", hint="Choose daily, weekly or paused.",
                           field="frequency")
    weekday_text = one("weekday", "0")
    if not weekday_text.isdigit() or int(weekday_text) > 6:
        raise InvalidInput("Weekday must be 0 (Monday) to 6 (Sunday).", hint="Pick a day from the list.",
                           field="weekday")
    top_text = one("trending_top_n", "10")
    if not top_text.isdigit() or int(top_text) > MAX_TOP_N:
        raise InvalidInput(f"Trending papers must be a number from 0 to {MAX_TOP_N}.", hint="0 turns the section off.",
                           field="trending_top_n")
    queries = form.get("search_query", [])
    categories = form.get("search_category", [])
    searches = tuple((q.strip()[:200], (categories[i] if i < len(categories) else "").strip()[:40])
                     for i, q in enumerate(queries) if q.strip())
    if len(searches) > MAX_SEARCHES:
        raise InvalidInput(f"At most {MAX_SEARCHES} saved searches.", hint="Remove some.", field="search_query")
    authors = tuple(dict.fromkeys(a.strip()[:100] for a in one("authors").splitlines() if a.strip()))
    follow_categories = tuple(dict.fromkeys(c.strip()[:40] for c in one("categories").replace(",", " ").split()))
    if len(authors) + len(follow_categories) > MAX_FOLLOWS:
        raise InvalidInput(f"At most {MAX_FOLLOWS} followed authors and categories.", hint="Remove some.",
                           field="authors")
    return Preferences(frequency, int(weekday_text), int(top_text), searches, authors, follow_categories)
