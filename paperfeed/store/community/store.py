"""Accounts, sessions, sign-in nonces, votes with heat, trending, submissions."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

from paperfeed.errors import InvalidInput
from paperfeed.store.community.db import Db, Tx
from paperfeed.store.community.models import TrendingEntry, User
from paperfeed.store.community.talk import TalkMixin
from paperfeed.store.rows import from_iso, to_iso
from paperfeed.trending import DEFAULT_PARAMS, TrendingParams, add_vote, heat


class CommunityError(InvalidInput):
    """A community action refused for a reason the user can fix (unknown paper, not yours)."""


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" * len(values))


def _user(row: dict[str, Any]) -> User:
    return User(id=int(row["id"]), email=row["email"], display_name=row["display_name"],
                created_at=from_iso(row["created_at"]),  # type: ignore[arg-type]
                is_moderator=bool(row["is_moderator"]), suspended=bool(row["suspended"]))


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
        published = from_iso(tx.run("SELECT published FROM papers WHERE pk = ?", [pk])[0]["published"])
        submitted = tx.run("SELECT submitted_at FROM submissions WHERE paper_pk = ?", [pk])
        if not submitted:
            return published
        at = from_iso(submitted[0]["submitted_at"])
        return at if published is None or (at is not None and at > published) else published

    def vote_counts(self, paper_ids: Sequence[str]) -> dict[str, int]:
        pks = self._pks(paper_ids)
        if not pks:
            return {}
        rows = self.db.read(f"SELECT paper_pk, votes FROM paper_heat WHERE paper_pk IN ({_marks(pks)})", list(pks))
        return {pks[int(r["paper_pk"])]: int(r["votes"]) for r in rows}

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
