"""Subscribers, link nonces and the outbox (migrations 0020_mail, docs/email.md).

One module serves both backends: the tables use the same types and ISO 8601 UTC text
times on SQLite and PostgreSQL, and the SQL below is the common subset of the two
(`ON CONFLICT`, `RETURNING`, partial indexes). The only difference is the parameter mark,
translated once per statement. Each backend exposes an instance as `store.mail`.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Sequence

from paperfeed.store.rows import from_iso, to_iso

Connect = Callable[[], AbstractContextManager[Any]]
ACTIVE_STATES = ("pending", "active", "paused")


@dataclass(frozen=True)
class Subscriber:
    id: int
    email: str
    status: str  # pending | active | paused | unsubscribed | bouncing
    frequency: str  # daily | weekly
    weekday: int | None
    trending_top_n: int
    next_due_at: datetime | None
    delivered_rev: int
    bounce_count: int
    links_valid_after: datetime
    confirmed_at: datetime | None
    user_id: int | None = None  # the account it was subscribed from, if any


@dataclass(frozen=True)
class SavedSearch:
    subscriber_id: int
    query: str
    filters: str  # canonical JSON of the search filters
    label: str
    query_key: str


@dataclass(frozen=True)
class Follow:
    subscriber_id: int
    kind: str  # author | category
    value: str


@dataclass(frozen=True)
class ComposedDigest:
    subscriber_id: int
    period_key: str  # 'daily:2026-11-27' | 'weekly:2026-W48'
    through_rev: int
    next_due_at: datetime
    recipient: str
    message: bytes | None  # packed wire bytes; None: nothing new, recorded as empty
    message_id: str
    paper_pks: tuple[int, ...]


@dataclass(frozen=True)
class OutboxRow:
    id: int
    kind: str
    subscriber_id: int | None
    digest_id: int | None
    recipient: str
    message: bytes
    message_id: str
    attempts: int
    first_attempt_at: datetime | None
    expires_at: datetime | None


def _subscriber(row: Any) -> Subscriber:
    return Subscriber(
        id=int(row["id"]), email=row["email"], status=row["status"], frequency=row["frequency"],
        weekday=row["weekday"], trending_top_n=int(row["trending_top_n"]),
        next_due_at=from_iso(row["next_due_at"]), delivered_rev=int(row["delivered_rev"]),
        bounce_count=int(row["bounce_count"]), links_valid_after=from_iso(row["links_valid_after"]),  # type: ignore[arg-type]
        confirmed_at=from_iso(row["confirmed_at"]), user_id=row["user_id"],
    )


class MailTables:
    def __init__(self, *, read: Connect, write: Connect, mark: str,
                 lock: Callable[[str], AbstractContextManager[bool]]) -> None:
        self._read = read  # a connection for reads (autocommit)
        self._write = write  # a connection inside one transaction
        self._mark = mark  # "?" (sqlite3) or "%s" (psycopg)
        self.try_lock = lock  # try_lock(name): `with` it; True while held, False if another holds it (store/locks.py)

    def _sql(self, sql: str) -> str:
        return sql if self._mark == "?" else sql.replace("?", self._mark)

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._read() as conn:
            return list(conn.execute(self._sql(sql), params).fetchall())

    # -- subscribers ----------------------------------------------------------------------
    def subscribe(self, *, email: str, now: datetime, user_id: int | None = None) -> tuple[Subscriber, bool]:
        """The subscriber for this address, created `pending` if new; an unsubscribed or
        bouncing address starts over as `pending` with its old links revoked. Returns
        (subscriber, needs_confirmation): False when it is already pending or confirmed.
        `user_id` links it to that account unless it is linked already."""
        stamp = to_iso(now)
        with self._write() as conn:
            if user_id is not None:
                conn.execute(self._sql("UPDATE subscribers SET user_id = ? WHERE email_key = ? AND user_id IS NULL"),
                             (user_id, email.lower()))
            conn.execute(self._sql(
                "INSERT INTO subscribers (email, email_key, status, links_valid_after, created_at, user_id) "
                "VALUES (?, ?, 'pending', ?, ?, ?) ON CONFLICT (email_key) DO NOTHING"),
                (email, email.lower(), stamp, stamp, user_id))
            conn.execute(self._sql(
                "UPDATE subscribers SET status = 'pending', email = ?, links_valid_after = ?, "
                "bounce_count = 0, next_due_at = NULL, unsubscribed_at = NULL "
                "WHERE email_key = ? AND status IN ('unsubscribed', 'bouncing')"),
                (email, stamp, email.lower()))
            row = conn.execute(self._sql("SELECT * FROM subscribers WHERE email_key = ?"), (email.lower(),)).fetchone()
        subscriber = _subscriber(row)
        return subscriber, subscriber.status == "pending"

    def add_active_subscribers(self, emails: Sequence[str], *, now: datetime, next_due_at: datetime,
                               searches: Sequence[tuple[str, str, str]] = ()) -> None:
        """Bulk-load confirmed subscribers, each with the saved search (query, filters, key)
        at index i % len(searches): for `paperfeed bench digest`, not for people."""
        stamp, due = to_iso(now), to_iso(next_due_at)
        with self._write() as conn:
            cursor = conn.cursor()
            cursor.executemany(self._sql(
                "INSERT INTO subscribers (email, email_key, status, next_due_at, links_valid_after, confirmed_at, "
                "created_at) VALUES (?, ?, 'active', ?, ?, ?, ?)"),
                [(e, e.lower(), due, stamp, stamp, stamp) for e in emails])
            if searches:
                ids = [int(r["id"]) for r in conn.execute(self._sql(
                    "SELECT id FROM subscribers WHERE created_at = ? ORDER BY id"), (stamp,)).fetchall()]
                cursor.executemany(self._sql(
                    "INSERT INTO subscriber_searches (subscriber_id, query, filters, label, query_key) "
                    "VALUES (?, ?, ?, ?, ?)"),
                    [(sid, *searches[i % len(searches)][:2], searches[i % len(searches)][0],
                      searches[i % len(searches)][2]) for i, sid in enumerate(ids)])

    def get_subscriber(self, subscriber_id: int) -> Subscriber | None:
        rows = self._rows("SELECT * FROM subscribers WHERE id = ?", (subscriber_id,))
        return _subscriber(rows[0]) if rows else None

    def find_subscriber(self, email: str) -> Subscriber | None:
        rows = self._rows("SELECT * FROM subscribers WHERE email_key = ?", (email.lower(),))
        return _subscriber(rows[0]) if rows else None

    def count_subscribers(self, status: str) -> int:
        return int(self._rows("SELECT count(*) AS n FROM subscribers WHERE status = ?", (status,))[0]["n"])

    def use_token(self, *, nonce_digest: str, purpose: str, now: datetime, expires_at: datetime | None) -> bool:
        """Record a single-use link as used; False if it already was."""
        with self._write() as conn:
            cursor = conn.execute(self._sql(
                "INSERT INTO used_tokens (nonce_digest, purpose, used_at, expires_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (nonce_digest) DO NOTHING"), (nonce_digest, purpose, to_iso(now), to_iso(expires_at)))
            return cursor.rowcount == 1

    def prune_tokens(self, *, now: datetime) -> int:
        with self._write() as conn:
            return int(conn.execute(self._sql("DELETE FROM used_tokens WHERE expires_at < ?"), (to_iso(now),)).rowcount)

    def activate(self, subscriber_id: int, *, now: datetime, next_due_at: datetime, delivered_rev: int) -> bool:
        """pending -> active; False if it was not pending. `delivered_rev` starts at the
        store's current rev, so the first digest holds papers that arrive after confirming."""
        with self._write() as conn:
            cursor = conn.execute(self._sql(
                "UPDATE subscribers SET status = 'active', confirmed_at = ?, next_due_at = ?, delivered_rev = ? "
                "WHERE id = ? AND status = 'pending'"),
                (to_iso(now), to_iso(next_due_at), delivered_rev, subscriber_id))
            return cursor.rowcount == 1

    def unsubscribe(self, subscriber_id: int, *, now: datetime) -> None:
        """At once: no digest is composed for it and pending mail to it is expired unsent."""
        with self._write() as conn:
            conn.execute(self._sql(
                "UPDATE subscribers SET status = 'unsubscribed', unsubscribed_at = ?, next_due_at = NULL "
                "WHERE id = ? AND status <> 'unsubscribed'"), (to_iso(now), subscriber_id))
            conn.execute(self._sql(
                "UPDATE outbox SET status = 'expired', message = NULL "
                "WHERE subscriber_id = ? AND status = 'pending'"), (subscriber_id,))

    def set_preferences(
        self, subscriber_id: int, *, status: str, frequency: str, weekday: int | None, trending_top_n: int,
        next_due_at: datetime | None, searches: Sequence[SavedSearch], follows: Sequence[Follow],
    ) -> None:
        """Replace the preferences of a confirmed subscriber in one transaction."""
        assert status in ("active", "paused")
        with self._write() as conn:
            conn.execute(self._sql(
                "UPDATE subscribers SET status = ?, frequency = ?, weekday = ?, trending_top_n = ?, next_due_at = ? "
                "WHERE id = ? AND status IN ('active', 'paused')"),
                (status, frequency, weekday, trending_top_n, to_iso(next_due_at), subscriber_id))
            conn.execute(self._sql("DELETE FROM subscriber_searches WHERE subscriber_id = ?"), (subscriber_id,))
            conn.execute(self._sql("DELETE FROM subscriber_follows WHERE subscriber_id = ?"), (subscriber_id,))
            for search in searches:
                conn.execute(self._sql(
                    "INSERT INTO subscriber_searches (subscriber_id, query, filters, label, query_key) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (subscriber_id, query_key) DO NOTHING"),
                    (subscriber_id, search.query, search.filters, search.label, search.query_key))
            for follow in follows:
                conn.execute(self._sql(
                    "INSERT INTO subscriber_follows (subscriber_id, kind, value) VALUES (?, ?, ?) "
                    "ON CONFLICT DO NOTHING"), (subscriber_id, follow.kind, follow.value))

    def searches(self, subscriber_ids: Sequence[int]) -> list[SavedSearch]:
        found: list[SavedSearch] = []
        for chunk in _chunks(list(subscriber_ids)):
            marks = ", ".join("?" * len(chunk))
            found += [SavedSearch(int(r["subscriber_id"]), r["query"], r["filters"], r["label"], r["query_key"])
                      for r in self._rows(f"SELECT * FROM subscriber_searches WHERE subscriber_id IN ({marks}) "
                                          "ORDER BY id", chunk)]
        return found

    def follows(self, subscriber_ids: Sequence[int]) -> list[Follow]:
        found: list[Follow] = []
        for chunk in _chunks(list(subscriber_ids)):
            marks = ", ".join("?" * len(chunk))
            found += [Follow(int(r["subscriber_id"]), r["kind"], r["value"])
                      for r in self._rows(f"SELECT * FROM subscriber_follows WHERE subscriber_id IN ({marks}) "
                                          "ORDER BY kind, value", chunk)]
        return found

    # -- digests --------------------------------------------------------------------------
    def due_subscribers(self, *, now: datetime, limit: int) -> list[Subscriber]:
        """Active subscribers whose digest is due, oldest due first (the partial index)."""
        rows = self._rows("SELECT * FROM subscribers WHERE status = 'active' AND next_due_at <= ? "
                          "ORDER BY next_due_at, id LIMIT ?", (to_iso(now), limit))
        return [_subscriber(r) for r in rows]

    def due_ids(self, *, now: datetime) -> list[int]:
        """Every due subscriber's id, oldest due first: a run with composing workers hands
        them out in batches."""
        return [int(r["id"]) for r in self._rows("SELECT id FROM subscribers WHERE status = 'active' AND "
                                                 "next_due_at <= ? ORDER BY next_due_at, id", (to_iso(now),))]

    def due_among(self, ids: Sequence[int], *, now: datetime) -> list[Subscriber]:
        """Those of `ids` still due now (one may have unsubscribed since), oldest due first."""
        found: list[Subscriber] = []
        for chunk in _chunks(list(ids)):
            found += [_subscriber(r) for r in self._rows(
                f"SELECT * FROM subscribers WHERE id IN ({', '.join('?' * len(chunk))}) AND status = 'active' "
                "AND next_due_at <= ? ORDER BY next_due_at, id", [*chunk, to_iso(now)])]
        return found

    def count_due(self, *, now: datetime) -> int:
        return int(self._rows("SELECT count(*) AS n FROM subscribers WHERE status = 'active' AND next_due_at <= ?",
                              (to_iso(now),))[0]["n"])

    def due_searches(self, *, now: datetime) -> list[SavedSearch]:
        """One saved search per distinct query key among the subscribers due now (the
        subscriber id is any one of them): what a run searches before composing."""
        rows = self._rows(
            "SELECT min(ss.subscriber_id) AS subscriber_id, ss.query, ss.filters, ss.query_key FROM subscriber_searches ss "
            "JOIN subscribers s ON s.id = ss.subscriber_id WHERE s.status = 'active' AND s.next_due_at <= ? "
            "GROUP BY ss.query_key, ss.query, ss.filters ORDER BY ss.query_key", (to_iso(now),))
        return [SavedSearch(int(r["subscriber_id"]), r["query"], r["filters"], r["query"], r["query_key"]) for r in rows]

    def papers_after(self, *, rev: int, limit: int) -> dict[str, tuple[int, int]]:
        """{paper id: (pk, rev)} of the newest `limit` papers written after `rev`."""
        rows = self._rows("SELECT id, pk, rev FROM papers WHERE rev > ? ORDER BY rev DESC, pk DESC LIMIT ?",
                          (rev, limit))
        return {r["id"]: (int(r["pk"]), int(r["rev"])) for r in rows}

    def sent_papers(self, subscriber_ids: Sequence[int], pks: Sequence[int]) -> set[tuple[int, int]]:
        """(subscriber id, paper pk) pairs already in a digest: never a paper twice."""
        found: set[tuple[int, int]] = set()
        pk_list = sorted(set(pks))
        for subs in _chunks(list(subscriber_ids), 200):
            for chunk in _chunks(pk_list, 500):
                sql = (f"SELECT subscriber_id, paper_pk FROM digest_items WHERE subscriber_id IN "
                       f"({', '.join('?' * len(subs))}) AND paper_pk IN ({', '.join('?' * len(chunk))})")
                found |= {(int(r["subscriber_id"]), int(r["paper_pk"])) for r in self._rows(sql, [*subs, *chunk])}
        return found

    def record_digests(self, composed: Sequence["ComposedDigest"], *, now: datetime, priority: int = 1) -> int:
        """One transaction for a batch: digest rows (the (subscriber, period) key makes a
        repeat a no-op), their items, the outbox rows, and next_due_at moved on. Returns how
        many digests were queued."""
        stamp = to_iso(now)
        items: list[tuple[int, int, int]] = []
        outbox: list[tuple[Any, ...]] = []
        with self._write() as conn:
            for digest in composed:
                status = "queued" if digest.message is not None else "empty"
                row = conn.execute(self._sql(
                    "INSERT INTO digests (subscriber_id, period_key, status, through_rev, created_at) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (subscriber_id, period_key) DO NOTHING RETURNING id"),
                    (digest.subscriber_id, digest.period_key, status, digest.through_rev, stamp)).fetchone()
                if row is None or digest.message is None:
                    continue  # composed by an earlier run, or nothing new
                digest_id = int(row["id"])
                items += [(digest_id, digest.subscriber_id, pk) for pk in digest.paper_pks]
                outbox.append((digest.subscriber_id, digest_id, digest.recipient, digest.message, digest.message_id,
                               priority, stamp, stamp))
            # The rest in bulk: a batch is one transaction either way, and a run records its
            # batches beside a sending thread that waits for this process's write lock and the GIL.
            cursor = conn.cursor()
            cursor.executemany(self._sql("UPDATE subscribers SET next_due_at = ? WHERE id = ? AND status = 'active'"),
                               [(to_iso(d.next_due_at), d.subscriber_id) for d in composed])
            cursor.executemany(self._sql("INSERT INTO digest_items (digest_id, subscriber_id, paper_pk) "
                                         "VALUES (?, ?, ?) ON CONFLICT DO NOTHING"), items)
            cursor.executemany(self._sql(
                "INSERT INTO outbox (kind, subscriber_id, digest_id, recipient, message, message_id, priority, "
                "status, next_attempt_at, created_at) VALUES ('digest', ?, ?, ?, ?, ?, ?, 'pending', ?, ?)"), outbox)
        return len(outbox)

    # -- outbox ---------------------------------------------------------------------------
    def enqueue(
        self, *, kind: str, subscriber_id: int | None, recipient: str, message: bytes, message_id: str,
        priority: int, now: datetime, expires_at: datetime | None = None, digest_id: int | None = None,
    ) -> int:
        with self._write() as conn:
            row = conn.execute(self._sql(
                "INSERT INTO outbox (kind, subscriber_id, digest_id, recipient, message, message_id, priority, "
                "expires_at, status, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?) "
                "RETURNING id"),
                (kind, subscriber_id, digest_id, recipient, message, message_id, priority,
                 to_iso(expires_at), to_iso(now), to_iso(now))).fetchone()
            if kind == "confirm" and subscriber_id is not None:
                conn.execute(self._sql("UPDATE subscribers SET confirm_sent_at = ? WHERE id = ?"),
                             (to_iso(now), subscriber_id))
            return int(row["id"])

    def due_mail(self, *, now: datetime, limit: int) -> list[OutboxRow]:
        """Pending rows whose time has come, most urgent first. The subscriber's status is
        read in the same query: an unconfirmed address gets only its confirm mail, and an
        unsubscribed or bouncing one gets nothing."""
        rows = self._rows(
            "SELECT o.* FROM outbox o LEFT JOIN subscribers s ON s.id = o.subscriber_id "
            "WHERE o.status = 'pending' AND o.next_attempt_at <= ? AND (o.subscriber_id IS NULL "
            "OR (o.kind = 'confirm' AND s.status = 'pending') OR (o.kind <> 'confirm' AND s.status = 'active')) "
            "ORDER BY o.priority, o.id LIMIT ?", (to_iso(now), limit))
        return [OutboxRow(int(r["id"]), r["kind"], r["subscriber_id"], r["digest_id"], r["recipient"],
                          bytes(r["message"]), r["message_id"], int(r["attempts"]),
                          from_iso(r["first_attempt_at"]), from_iso(r["expires_at"])) for r in rows]

    def outbox_counts(self) -> dict[str, int]:
        return {r["status"]: int(r["n"]) for r in self._rows("SELECT status, count(*) AS n FROM outbox GROUP BY status")}

    def mark_sent(self, row: OutboxRow, *, now: datetime) -> None:
        with self._write() as conn:
            conn.execute(self._sql(
                "UPDATE outbox SET status = 'sent', sent_at = ?, message = NULL, attempts = attempts + 1, "
                "first_attempt_at = coalesce(first_attempt_at, ?) WHERE id = ?"), (to_iso(now), to_iso(now), row.id))
            if row.digest_id is not None:  # papers count as received only once delivered
                conn.execute(self._sql(
                    "UPDATE subscribers SET bounce_count = 0, delivered_rev = "
                    "(SELECT through_rev FROM digests WHERE id = ?) WHERE id = ?"), (row.digest_id, row.subscriber_id))

    def mark_retry(self, row: OutboxRow, *, now: datetime, next_attempt_at: datetime | None,
                   code: int | None, error: str) -> None:
        """Try again at `next_attempt_at`, or give up (None): the row expires and a digest's
        items are forgotten, so those papers come in the next digest."""
        status = "pending" if next_attempt_at is not None else "expired"
        with self._write() as conn:
            conn.execute(self._sql(
                "UPDATE outbox SET status = ?, attempts = attempts + 1, first_attempt_at = coalesce(first_attempt_at, ?), "
                "next_attempt_at = coalesce(?, next_attempt_at), last_code = ?, last_error = ? WHERE id = ?"),
                (status, to_iso(now), to_iso(next_attempt_at), code, error[:500], row.id))
            if status == "expired":
                self._forget(conn, row)

    def mark_failed(self, row: OutboxRow, *, now: datetime, code: int | None, error: str, max_bounces: int) -> None:
        """A permanent refusal: counted; at `max_bounces` the address gets no more mail."""
        with self._write() as conn:
            conn.execute(self._sql(
                "UPDATE outbox SET status = 'failed', attempts = attempts + 1, message = NULL, "
                "first_attempt_at = coalesce(first_attempt_at, ?), last_code = ?, last_error = ? WHERE id = ?"),
                (to_iso(now), code, error[:500], row.id))
            self._forget(conn, row)
            if row.subscriber_id is None:
                return
            conn.execute(self._sql("UPDATE subscribers SET bounce_count = bounce_count + 1 WHERE id = ?"),
                         (row.subscriber_id,))
            conn.execute(self._sql(
                "UPDATE subscribers SET status = 'bouncing', next_due_at = NULL "
                "WHERE id = ? AND bounce_count >= ? AND status IN ('active', 'paused')"), (row.subscriber_id, max_bounces))

    def expire(self, row: OutboxRow) -> None:
        with self._write() as conn:
            conn.execute(self._sql("UPDATE outbox SET status = 'expired', message = NULL WHERE id = ?"), (row.id,))
            self._forget(conn, row)

    def _forget(self, conn: Any, row: OutboxRow) -> None:
        conn.execute(self._sql("UPDATE outbox SET message = NULL WHERE id = ? AND status <> 'pending'"), (row.id,))
        if row.digest_id is not None:
            conn.execute(self._sql("DELETE FROM digest_items WHERE digest_id = ?"), (row.digest_id,))


def _chunks(values: list[Any], size: int = 500) -> list[list[Any]]:
    return [values[start:start + size] for start in range(0, len(values), size)]
