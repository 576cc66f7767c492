"""The mail tables on both stores: subscribe without duplicates, single-use nonces, the
outbox's due query honouring subscriber status, bounces stopping mail."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from paperfeed.store import Store
from paperfeed.store.mail_tables import Follow, SavedSearch

NOW = datetime(2026, 11, 27, 7, 0, tzinfo=timezone.utc)


def _enqueue(store: Store, subscriber_id: int, kind: str, n: int) -> int:
    return store.mail.enqueue(kind=kind, subscriber_id=subscriber_id, recipient="a@example.org",
                              message=b"data %d" % n, message_id=f"<{kind}{n}@example.org>",
                              priority=0 if kind == "confirm" else 1, now=NOW)


def test_resubscribing_never_duplicates_and_restarts_unsubscribed(store: Store) -> None:
    first, needs = store.mail.subscribe(email="Ada@Example.org", now=NOW)
    again, needs_again = store.mail.subscribe(email="ada@example.ORG", now=NOW)
    assert needs and needs_again and first.id == again.id and first.status == "pending"
    assert store.mail.count_subscribers("pending") == 1
    assert store.mail.activate(first.id, now=NOW, next_due_at=NOW, delivered_rev=3)
    assert not store.mail.activate(first.id, now=NOW, next_due_at=NOW, delivered_rev=3)
    active, needs = store.mail.subscribe(email="ada@example.org", now=NOW)
    assert (active.status, needs, active.delivered_rev) == ("active", False, 3)
    store.mail.unsubscribe(first.id, now=NOW)
    later = NOW + timedelta(days=1)
    back, needs = store.mail.subscribe(email="ada@example.org", now=later)
    assert (back.id, back.status, needs) == (first.id, "pending", True)
    assert back.links_valid_after == later  # links in old mails stop working


def test_token_nonce_is_single_use(store: Store) -> None:
    assert store.mail.use_token(nonce_digest="ab" * 32, purpose="confirm", now=NOW, expires_at=NOW)
    assert not store.mail.use_token(nonce_digest="ab" * 32, purpose="confirm", now=NOW, expires_at=NOW)
    assert store.mail.prune_tokens(now=NOW + timedelta(seconds=1)) == 1


def test_due_mail_respects_status_priority_and_bounces(store: Store) -> None:
    sub, _ = store.mail.subscribe(email="b@example.org", now=NOW)
    digest_row = _enqueue(store, sub.id, "digest", 1)
    confirm_row = _enqueue(store, sub.id, "confirm", 2)
    due = store.mail.due_mail(now=NOW, limit=10)
    assert [row.id for row in due] == [confirm_row]  # nothing but the confirm mail while pending
    assert due[0].message == b"data 2"
    store.mail.mark_sent(due[0], now=NOW)
    store.mail.activate(sub.id, now=NOW, next_due_at=NOW, delivered_rev=0)
    assert [row.id for row in store.mail.due_mail(now=NOW, limit=10)] == [digest_row]
    row = store.mail.due_mail(now=NOW, limit=10)[0]
    store.mail.mark_retry(row, now=NOW, next_attempt_at=NOW + timedelta(minutes=1), code=451, error="later")
    assert store.mail.due_mail(now=NOW, limit=10) == []
    row = store.mail.due_mail(now=NOW + timedelta(minutes=1), limit=10)[0]
    assert row.attempts == 1 and row.first_attempt_at == NOW
    store.mail.mark_failed(row, now=NOW, code=550, error="no such user", max_bounces=2)
    assert store.mail.get_subscriber(sub.id).status == "active"  # type: ignore[union-attr]
    store.mail.mark_failed(_row(store, sub.id), now=NOW, code=550, error="no such user", max_bounces=2)
    assert store.mail.get_subscriber(sub.id).status == "bouncing"  # type: ignore[union-attr]
    assert store.mail.outbox_counts() == {"sent": 1, "failed": 2}


def _row(store: Store, subscriber_id: int):  # type: ignore[no-untyped-def]
    _enqueue(store, subscriber_id, "digest", 9)
    return store.mail.due_mail(now=NOW, limit=1)[0]


def test_unsubscribe_expires_pending_mail_and_preferences_round_trip(store: Store) -> None:
    sub, _ = store.mail.subscribe(email="c@example.org", now=NOW)
    store.mail.activate(sub.id, now=NOW, next_due_at=NOW, delivered_rev=0)
    store.mail.set_preferences(
        sub.id, status="active", frequency="weekly", weekday=2, trending_top_n=5, next_due_at=NOW,
        searches=[SavedSearch(sub.id, "diffusion", '{"category":"cs.CV"}', "diffusion", "k1")],
        follows=[Follow(sub.id, "author", "Ada Lovelace"), Follow(sub.id, "category", "cs.CL")])
    got = store.mail.get_subscriber(sub.id)
    assert got is not None and (got.frequency, got.weekday, got.trending_top_n) == ("weekly", 2, 5)
    assert [s.query for s in store.mail.searches([sub.id])] == ["diffusion"]
    assert {(f.kind, f.value) for f in store.mail.follows([sub.id])} == {("author", "Ada Lovelace"), ("category", "cs.CL")}
    _enqueue(store, sub.id, "digest", 1)
    store.mail.unsubscribe(sub.id, now=NOW)
    assert store.mail.due_mail(now=NOW, limit=10) == []
    assert store.mail.outbox_counts() == {"expired": 1}
    assert store.mail.get_subscriber(sub.id).status == "unsubscribed"  # type: ignore[union-attr]
