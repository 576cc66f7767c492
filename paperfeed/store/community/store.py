"""Accounts, sessions, sign-in nonces, votes with heat, trending, submissions."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

from paperfeed.errors import InvalidInput
from paperfeed.store.community.db import Db, Tx
from paperfeed.store.community.models import CardCounts, TrendingEntry, User
from paperfeed.store.community.talk import TalkMixin
from paperfeed.store.rows import from_iso, to_iso
from paperfeed.trending import DEFAULT_PARAMS, TrendingParams, add_vote, heat


class CommunityError(InvalidInput):
    """A community action refused for a reason the user can fix (unknown paper, not yours)."""


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" * len(values))


def _chunks(values: list[Any], size: int = 500) -> list[list[Any]]:
    """IN-lists of bounded length (SQLite caps bound parameters)."""
    return [values[i:i + size] for i in range(0, len(values), size)]


_LISTED_SQL = ("SELECT p.pk, p.published, s.submitted_at FROM papers p "
               "LEFT JOIN submissions s ON s.paper_pk = p.pk WHERE p.pk IN ({marks})")


def _listed(row: dict[str, Any]) -> datetime | None:
    published, submitted = from_iso(row["published"]), from_iso(row["submitted_at"])
    if submitted is None:
        return published
    return submitted if published is None or submitted > published else published


def _user(row: dict[str, Any]) -> User:
    return User(id=int(row["id"]), email=row["email"], display_name=row["display_name"],
                created_at=from_iso(row["created_at"]),  # type: ignore[arg-type]
                is_moderator=bool(row["is_moderator"]), suspended=bool(row["suspended"]),
                has_password=bool(row.get("password_hash")))


class CommunityStore(TalkMixin):
    def __init__(self, db: Db, params: TrendingParams = DEFAULT_PARAMS) -> None:
        self.db = db
        self.params = params

    # -- papers ------------------------------------------------------------------------
    def _paper_pk(self, tx: Tx | None, paper_id: str) -> int:
        sql, args = "SELECT pk FROM papers WHERE id = ?", [paper_id]
        rows = tx.run(sql, args) if tx else self.db.read(sql, args)
        if not rows:
            raise CommunityError(f"No paper with id {paper_id!r}.", hint="Use the id shown in the paper's URL.")
        return int(rows[0]["pk"])

    def _pks(self, paper_ids: Sequence[str]) -> dict[int, str]:
        ids = list(dict.fromkeys(paper_ids))
        if not ids:
            return {}
        rows = self.db.read(f"SELECT pk, id FROM papers WHERE id IN ({_marks(ids)})", ids)
        return {int(r["pk"]): r["id"] for r in rows}

    # -- users ---------------------------------------------------------------------------
    def get_or_create_user(self, email: str, *, display_name: str, now: datetime) -> User:
        email = email.strip().lower()
        with self.db.transaction() as tx:
            tx.run("INSERT INTO users (email, display_name, created_at) VALUES (?, ?, ?) "
                   "ON CONFLICT (email) DO NOTHING", [email, display_name, to_iso(now)])
            return _user(tx.run("SELECT * FROM users WHERE email = ?", [email])[0])

    def get_user(self, user_id: int) -> User | None:
        rows = self.db.read("SELECT * FROM users WHERE id = ?", [user_id])
        return _user(rows[0]) if rows else None

    def user_by_email(self, email: str) -> User | None:
        rows = self.db.read("SELECT * FROM users WHERE email = ?", [email.strip().lower()])
        return _user(rows[0]) if rows else None

    def set_password_hash(self, user_id: int, password_hash: str | None) -> None:
        """Store an argon2 hash (paperfeed.passwords), or None to go back to links only."""
        with self.db.transaction() as tx:
            tx.run("UPDATE users SET password_hash = ? WHERE id = ?", [password_hash, user_id])

    def password_hash_of(self, email: str) -> tuple[User | None, str | None]:
        """(the account, its password hash); (None, None) when there is no such account."""
        rows = self.db.read("SELECT * FROM users WHERE email = ?", [email.strip().lower()])
        return (_user(rows[0]), rows[0]["password_hash"]) if rows else (None, None)

    def set_display_name(self, user_id: int, name: str) -> None:
        with self.db.transaction() as tx:
            tx.run("UPDATE users SET display_name = ? WHERE id = ?", [name, user_id])

    def set_moderator(self, user_id: int, flag: bool) -> None:
        with self.db.transaction() as tx:
            tx.run("UPDATE users SET is_moderator = ? WHERE id = ?", [int(flag), user_id])

    def set_suspended(self, user_id: int, flag: bool) -> None:
        """Suspending also ends the user's sessions."""
        with self.db.transaction() as tx:
            tx.run("UPDATE users SET suspended = ? WHERE id = ?", [int(flag), user_id])
            if flag:
                tx.run("DELETE FROM sessions WHERE user_id = ?", [user_id])

    # -- sessions and sign-in nonces -------------------------------------------------------
    def create_session(self, id_hash: str, user_id: int, *, now: datetime, expires_at: datetime) -> None:
        with self.db.transaction() as tx:
            tx.run("INSERT INTO sessions (id_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                   [id_hash, user_id, to_iso(now), to_iso(expires_at)])

    def session_user(self, id_hash: str, *, now: datetime) -> User | None:
        rows = self.db.read("SELECT u.* FROM sessions s JOIN users u ON u.id = s.user_id "
                            "WHERE s.id_hash = ? AND s.expires_at > ? AND u.suspended = 0",
                            [id_hash, to_iso(now)])
        return _user(rows[0]) if rows else None

    def delete_session(self, id_hash: str) -> None:
        with self.db.transaction() as tx:
            tx.run("DELETE FROM sessions WHERE id_hash = ?", [id_hash])

    def use_nonce(self, nonce_hash: str, *, now: datetime) -> bool:
        """Record a sign-in link's nonce; False when it was used before (links work once)."""
        with self.db.transaction() as tx:
            rows = tx.run("INSERT INTO used_nonces (nonce_hash, used_at) VALUES (?, ?) "
                          "ON CONFLICT (nonce_hash) DO NOTHING RETURNING nonce_hash", [nonce_hash, to_iso(now)])
        return bool(rows)

    # -- votes and heat ------------------------------------------------------------------
    def toggle_vote(self, user_id: int, paper_id: str, *, now: datetime) -> tuple[bool, int]:
        """Add the user's vote, or take it back if present. Returns (voted now, paper's count).
        The count and heat change in the same transaction as the vote."""
        with self.db.transaction() as tx:
            pk = self._paper_pk(tx, paper_id)
            tx.lock_paper(pk)
            had = tx.run("DELETE FROM votes WHERE user_id = ? AND paper_pk = ? RETURNING user_id", [user_id, pk])
            if not had:
                tx.run("INSERT INTO votes (user_id, paper_pk, voted_at) VALUES (?, ?, ?)", [user_id, pk, to_iso(now)])
            self._update_heat(tx, pk, added=None if had else now)
            count = tx.run("SELECT count(*) AS n FROM votes WHERE paper_pk = ?", [pk])[0]["n"]
        return not had, int(count)

    def _update_heat(self, tx: Tx, pk: int, *, added: datetime | None) -> None:
        published = self._listed_at(tx, pk)
        current = tx.run("SELECT heat FROM paper_heat WHERE paper_pk = ?", [pk])
        count = int(tx.run("SELECT count(*) AS n FROM votes WHERE paper_pk = ?", [pk])[0]["n"])
        if count == 0:
            tx.run("DELETE FROM paper_heat WHERE paper_pk = ?", [pk])
            return
        if added is not None:  # one more vote: a log-sum-exp step
            base = float(current[0]["heat"]) if current else heat([], published, self.params)
            new_heat = add_vote(base, added, self.params)
        else:  # a vote withdrawn: recompute exactly from the votes left
            times = [from_iso(r["voted_at"]) for r in tx.run("SELECT voted_at FROM votes WHERE paper_pk = ?", [pk])]
            new_heat = heat(times, published, self.params)  # type: ignore[arg-type]
        tx.run("INSERT INTO paper_heat (paper_pk, heat, votes, published) VALUES (?, ?, ?, ?) "
               "ON CONFLICT (paper_pk) DO UPDATE SET heat = excluded.heat, votes = excluded.votes",
               [pk, new_heat, count, to_iso(published)])

    @staticmethod
    def _listed_at(tx: Tx, pk: int) -> datetime | None:
        """When the paper entered the lists: published, or submitted if that was later
        (a submitted older paper joins the day it was submitted, docs/ranking.md)."""
        row = tx.run(_LISTED_SQL.format(marks="?"), [pk])[0]
        return _listed(row)

    def import_votes(self, votes: Sequence[tuple[int, str, datetime]]) -> int:
        """Bulk-load (user id, paper id, voted at) votes, e.g. from another instance or for
        `paperfeed bench trending`: new ones are inserted, repeats ignored, then every
        touched paper's count and heat are recomputed exactly. Returns votes added."""
        pks = {pid_: pk for chunk in _chunks(list({v[1] for v in votes}))
               for pk, pid_ in self._pks(chunk).items()}
        missing = next((v[1] for v in votes if v[1] not in pks), None)
        if missing is not None:
            raise CommunityError(f"No paper with id {missing!r}.", hint="Import the papers first.")
        rows = [(user_id, pks[paper_id], to_iso(at)) for user_id, paper_id, at in votes]
        with self.db.transaction() as tx:
            before = int(tx.run("SELECT count(*) AS n FROM votes")[0]["n"])
            tx.run_many("INSERT INTO votes (user_id, paper_pk, voted_at) VALUES (?, ?, ?) "
                        "ON CONFLICT (user_id, paper_pk) DO NOTHING", rows)
            for chunk in _chunks(sorted(set(pks.values()))):
                self._recompute_heat(tx, chunk)
            return int(tx.run("SELECT count(*) AS n FROM votes")[0]["n"]) - before

    def _recompute_heat(self, tx: Tx, pks: list[int]) -> None:
        times: dict[int, list[datetime]] = {pk: [] for pk in pks}
        for row in tx.run(f"SELECT paper_pk, voted_at FROM votes WHERE paper_pk IN ({_marks(pks)})", pks):
            times[int(row["paper_pk"])].append(from_iso(row["voted_at"]))  # type: ignore[arg-type]
        listed = {int(r["pk"]): _listed(r) for r in tx.run(_LISTED_SQL.format(marks=_marks(pks)), pks)}
        tx.run_many("INSERT INTO paper_heat (paper_pk, heat, votes, published) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (paper_pk) DO UPDATE SET heat = excluded.heat, votes = excluded.votes, "
                    "published = excluded.published",
                    [(pk, heat(t, listed[pk], self.params), len(t), to_iso(listed[pk])) for pk, t in times.items() if t])

    def vote_counts(self, paper_ids: Sequence[str]) -> dict[str, int]:
        pks = self._pks(paper_ids)
        if not pks:
            return {}
        rows = self.db.read(f"SELECT paper_pk, votes FROM paper_heat WHERE paper_pk IN ({_marks(pks)})", list(pks))
        return {pks[int(r["paper_pk"])]: int(r["votes"]) for r in rows}

    def card_counts(self, paper_ids: Sequence[str]) -> dict[str, CardCounts]:
        """Votes and visible comments of each paper that has any: one query for a list of cards."""
        ids = list(dict.fromkeys(paper_ids))
        if not ids:
            return {}
        rows = self.db.read(
            "SELECT p.id, coalesce(h.votes, 0) AS votes, (SELECT count(*) FROM comments c WHERE c.paper_pk = p.pk "
            "AND c.deleted = 0 AND c.hidden = 0) AS comments FROM papers p LEFT JOIN paper_heat h ON h.paper_pk = p.pk "
            f"WHERE p.id IN ({_marks(ids)})", ids)
        return {r["id"]: CardCounts(int(r["votes"]), int(r["comments"])) for r in rows if r["votes"] or r["comments"]}

    def heats(self, paper_ids: Sequence[str]) -> dict[str, float]:
        """Stored heat of the voted-on papers among these (the others' heat is their prior)."""
        pks = self._pks(paper_ids)
        if not pks:
            return {}
        rows = self.db.read(f"SELECT paper_pk, heat FROM paper_heat WHERE paper_pk IN ({_marks(pks)})", list(pks))
        return {pks[int(r["paper_pk"])]: float(r["heat"]) for r in rows}

    def votes_per_day(self, paper_ids: Sequence[str], *, since: datetime) -> dict[str, dict[str, int]]:
        """Votes cast since `since`, per paper and UTC day ("2026-11-27"), for sparklines.
        Only papers with a vote in the window appear."""
        pks = self._pks(paper_ids)
        if not pks:
            return {}
        rows = self.db.read(
            "SELECT paper_pk, substr(voted_at, 1, 10) AS day, count(*) AS n FROM votes "
            f"WHERE paper_pk IN ({_marks(pks)}) AND voted_at >= ? GROUP BY paper_pk, substr(voted_at, 1, 10)",
            [*pks, to_iso(since)])
        days: dict[str, dict[str, int]] = {}
        for row in rows:
            days.setdefault(pks[int(row["paper_pk"])], {})[row["day"]] = int(row["n"])
        return days

    def voted_by(self, user_id: int, paper_ids: Sequence[str]) -> set[str]:
        pks = self._pks(paper_ids)
        if not pks:
            return set()
        rows = self.db.read(f"SELECT paper_pk FROM votes WHERE user_id = ? AND paper_pk IN ({_marks(pks)})",
                            [user_id, *pks])
        return {pks[int(r["paper_pk"])] for r in rows}

    def trending_voted(self, *, since: datetime, limit: int) -> list[TrendingEntry]:
        """Voted-on papers published since `since`, hottest first (walks paper_heat_heat).
        Unvoted papers rank by their prior alone, i.e. by recency: the caller merges the
        newest unvoted papers in (web/trending_page.py)."""
        rows = self.db.read(
            "SELECT p.id, h.heat, h.votes FROM paper_heat h JOIN papers p ON p.pk = h.paper_pk "
            "WHERE h.published >= ? ORDER BY h.heat DESC LIMIT ?", [to_iso(since), limit])
        return [TrendingEntry(r["id"], float(r["heat"]), int(r["votes"])) for r in rows]

    def newest_listed(self, *, since: datetime, limit: int) -> list[tuple[str, datetime]]:
        """(paper id, published) of the newest `limit` papers published since `since`: the
        only unvoted papers that can make a trending list (ids only: no paper decoding)."""
        rows = self.db.read("SELECT id, published FROM papers WHERE published >= ? "
                            "ORDER BY published DESC, id LIMIT ?", [to_iso(since), limit])
        return [(r["id"], from_iso(r["published"])) for r in rows]  # type: ignore[misc]

    # -- submissions ---------------------------------------------------------------------
    def record_submission(self, user_id: int, paper_id: str, *, now: datetime) -> tuple[int, bool]:
        """The first submitter of a paper keeps it; returns (submitter's user id, new)."""
        with self.db.transaction() as tx:
            pk = self._paper_pk(tx, paper_id)
            added = tx.run("INSERT INTO submissions (paper_pk, user_id, submitted_at, day) VALUES (?, ?, ?, ?) "
                           "ON CONFLICT (paper_pk) DO NOTHING RETURNING user_id",
                           [pk, user_id, to_iso(now), now.date().isoformat()])
            if added:
                return user_id, True
            return int(tx.run("SELECT user_id FROM submissions WHERE paper_pk = ?", [pk])[0]["user_id"]), False

    def submitters(self, paper_ids: Sequence[str]) -> dict[str, str]:
        """paper id -> display name of who submitted it (submitted papers only)."""
        pks = self._pks(paper_ids)
        if not pks:
            return {}
        rows = self.db.read("SELECT s.paper_pk, u.display_name FROM submissions s JOIN users u ON u.id = s.user_id "
                            f"WHERE s.paper_pk IN ({_marks(pks)})", list(pks))
        return {pks[int(r["paper_pk"])]: r["display_name"] for r in rows}

    def submitted_on(self, day: str) -> list[str]:
        rows = self.db.read("SELECT p.id FROM submissions s JOIN papers p ON p.pk = s.paper_pk "
                            "WHERE s.day = ? ORDER BY s.submitted_at", [day])
        return [r["id"] for r in rows]

    def submitted_since(self, since: datetime, *, limit: int) -> list[tuple[str, datetime]]:
        """(paper id, submitted at), newest first: submitted papers join trending then."""
        rows = self.db.read("SELECT p.id, s.submitted_at FROM submissions s JOIN papers p ON p.pk = s.paper_pk "
                            "WHERE s.submitted_at >= ? ORDER BY s.submitted_at DESC LIMIT ?", [to_iso(since), limit])
        return [(r["id"], from_iso(r["submitted_at"])) for r in rows]  # type: ignore[misc]

    def submissions_by(self, user_id: int, *, limit: int = 100) -> list[str]:
        rows = self.db.read("SELECT p.id FROM submissions s JOIN papers p ON p.pk = s.paper_pk "
                            "WHERE s.user_id = ? ORDER BY s.submitted_at DESC LIMIT ?", [user_id, limit])
        return [r["id"] for r in rows]
