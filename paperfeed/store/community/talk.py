"""Comments (one level of replies, reports, moderation) and collections."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Sequence

from paperfeed.store.community.models import Collection, Comment
from paperfeed.store.rows import from_iso, to_iso

if TYPE_CHECKING:
    from paperfeed.store.community.db import Db, Tx


def _comment(row: dict[str, Any]) -> Comment:
    return Comment(id=int(row["id"]), paper_id=row["paper_id"], user_id=int(row["user_id"]),
                   author=row["display_name"], parent_id=int(row["parent_id"]) if row["parent_id"] else None,
                   body="" if row["deleted"] else row["body"],
                   created_at=from_iso(row["created_at"]),  # type: ignore[arg-type]
                   edited_at=from_iso(row["edited_at"]), deleted=bool(row["deleted"]), hidden=bool(row["hidden"]))


def _collection(row: dict[str, Any]) -> Collection:
    return Collection(id=int(row["id"]), user_id=int(row["user_id"]), name=row["name"],
                      public=bool(row["public"]), created_at=from_iso(row["created_at"]))  # type: ignore[arg-type]


_COMMENT_SELECT = ("SELECT c.*, p.id AS paper_id, u.display_name FROM comments c "
                   "JOIN papers p ON p.pk = c.paper_pk JOIN users u ON u.id = c.user_id")


class TalkMixin:
    db: "Db"

    def _paper_pk(self, tx: "Tx | None", paper_id: str) -> int: ...  # CommunityStore's

    def _pks(self, paper_ids: Sequence[str]) -> dict[int, str]: ...

    # -- comments ------------------------------------------------------------------------
    def add_comment(self, user_id: int, paper_id: str, body: str, *, now: datetime,
                    parent_id: int | None = None) -> int:
        from paperfeed.store.community.store import CommunityError

        with self.db.transaction() as tx:
            pk = self._paper_pk(tx, paper_id)
            if parent_id is not None:
                parent = tx.run("SELECT paper_pk, parent_id FROM comments WHERE id = ?", [parent_id])
                if not parent or int(parent[0]["paper_pk"]) != pk:
                    raise CommunityError(f"No comment {parent_id} on this paper to reply to.",
                                         hint="Reply from the paper's page.")
                if parent[0]["parent_id"] is not None:  # one level: a reply to a reply joins its thread
                    parent_id = int(parent[0]["parent_id"])
            rows = tx.run("INSERT INTO comments (paper_pk, user_id, parent_id, body, created_at) "
                          "VALUES (?, ?, ?, ?, ?) RETURNING id", [pk, user_id, parent_id, body, to_iso(now)])
        return int(rows[0]["id"])

    def get_comment(self, comment_id: int) -> Comment | None:
        rows = self.db.read(f"{_COMMENT_SELECT} WHERE c.id = ?", [comment_id])
        return _comment(rows[0]) if rows else None

    def comments_for(self, paper_id: str) -> list[Comment]:
        """Threads in order: each top-level comment followed by its replies."""
        rows = self.db.read(f"{_COMMENT_SELECT} WHERE p.id = ? ORDER BY c.id", [paper_id])
        comments = [_comment(r) for r in rows]
        replies: dict[int, list[Comment]] = {}
        for c in comments:
            if c.parent_id is not None:
                replies.setdefault(c.parent_id, []).append(c)
        ordered: list[Comment] = []
        for c in comments:
            if c.parent_id is None:
                ordered += [c, *replies.get(c.id, [])]
        return ordered

    def edit_comment(self, comment_id: int, user_id: int, body: str, *, now: datetime) -> bool:
        """False unless the comment is the user's own and not deleted."""
        with self.db.transaction() as tx:
            rows = tx.run("UPDATE comments SET body = ?, edited_at = ? WHERE id = ? AND user_id = ? "
                          "AND deleted = 0 RETURNING id", [body, to_iso(now), comment_id, user_id])
        return bool(rows)

    def delete_comment(self, comment_id: int, user_id: int) -> bool:
        """Soft delete (replies keep their place); False unless it is the user's own."""
        with self.db.transaction() as tx:
            rows = tx.run("UPDATE comments SET deleted = 1, body = '' WHERE id = ? AND user_id = ? RETURNING id",
                          [comment_id, user_id])
        return bool(rows)

    def report_comment(self, comment_id: int, user_id: int, reason: str, *, now: datetime) -> None:
        with self.db.transaction() as tx:
            tx.run("INSERT INTO comment_reports (comment_id, user_id, reason, created_at) VALUES (?, ?, ?, ?) "
                   "ON CONFLICT (comment_id, user_id) DO NOTHING", [comment_id, user_id, reason, to_iso(now)])

    def reported_comments(self) -> list[tuple[int, int]]:
        """(comment id, number of reports), most reported first, for moderators."""
        rows = self.db.read("SELECT comment_id, count(*) AS n FROM comment_reports GROUP BY comment_id "
                            "ORDER BY n DESC, comment_id")
        return [(int(r["comment_id"]), int(r["n"])) for r in rows]

    def set_hidden(self, comment_id: int, hidden: bool) -> None:
        with self.db.transaction() as tx:
            tx.run("UPDATE comments SET hidden = ? WHERE id = ?", [int(hidden), comment_id])

    def comment_counts(self, paper_ids: Sequence[str]) -> dict[str, int]:
        """Visible comments per paper (deleted and hidden ones are not counted)."""
        pks = self._pks(paper_ids)
        if not pks:
            return {}
        rows = self.db.read(f"SELECT paper_pk, count(*) AS n FROM comments WHERE paper_pk IN ({', '.join('?' * len(pks))}) "
                            "AND deleted = 0 AND hidden = 0 GROUP BY paper_pk", list(pks))
        return {pks[int(r["paper_pk"])]: int(r["n"]) for r in rows}

    # -- collections -----------------------------------------------------------------------
    def create_collection(self, user_id: int, name: str, *, public: bool, now: datetime) -> int:
        from paperfeed.store.community.store import CommunityError

        with self.db.transaction() as tx:
            rows = tx.run("INSERT INTO collections (user_id, name, public, created_at) VALUES (?, ?, ?, ?) "
                          "ON CONFLICT (user_id, name) DO NOTHING RETURNING id", [user_id, name, int(public), to_iso(now)])
        if not rows:
            raise CommunityError(f"You already have a collection named {name!r}.", hint="Pick another name.")
        return int(rows[0]["id"])

    def get_collection(self, collection_id: int) -> Collection | None:
        rows = self.db.read("SELECT * FROM collections WHERE id = ?", [collection_id])
        return _collection(rows[0]) if rows else None

    def collections_of(self, user_id: int, *, public_only: bool) -> list[Collection]:
        sql = "SELECT * FROM collections WHERE user_id = ?" + (" AND public = 1" if public_only else "")
        return [_collection(r) for r in self.db.read(sql + " ORDER BY name, id", [user_id])]

    def update_collection(self, collection_id: int, user_id: int, *, name: str, public: bool) -> bool:
        with self.db.transaction() as tx:
            rows = tx.run("UPDATE collections SET name = ?, public = ? WHERE id = ? AND user_id = ? RETURNING id",
                          [name, int(public), collection_id, user_id])
        return bool(rows)

    def delete_collection(self, collection_id: int, user_id: int) -> bool:
        with self.db.transaction() as tx:
            rows = tx.run("DELETE FROM collections WHERE id = ? AND user_id = ? RETURNING id", [collection_id, user_id])
        return bool(rows)

    def put_item(self, collection_id: int, user_id: int, paper_id: str, *, note: str, now: datetime) -> bool:
        """Add a paper (or change its note); False unless the collection is the user's."""
        with self.db.transaction() as tx:
            if not tx.run("SELECT id FROM collections WHERE id = ? AND user_id = ?", [collection_id, user_id]):
                return False
            pk = self._paper_pk(tx, paper_id)
            tx.run("INSERT INTO collection_items (collection_id, paper_pk, note, added_at) VALUES (?, ?, ?, ?) "
                   "ON CONFLICT (collection_id, paper_pk) DO UPDATE SET note = excluded.note",
                   [collection_id, pk, note, to_iso(now)])
        return True

    def remove_item(self, collection_id: int, user_id: int, paper_id: str) -> bool:
        with self.db.transaction() as tx:
            if not tx.run("SELECT id FROM collections WHERE id = ? AND user_id = ?", [collection_id, user_id]):
                return False
            tx.run("DELETE FROM collection_items WHERE collection_id = ? AND paper_pk IN "
                   "(SELECT pk FROM papers WHERE id = ?)", [collection_id, paper_id])
        return True

    def collection_items(self, collection_id: int) -> list[tuple[str, str]]:
        """(paper id, note) in the order they were added."""
        rows = self.db.read("SELECT p.id, i.note FROM collection_items i JOIN papers p ON p.pk = i.paper_pk "
                            "WHERE i.collection_id = ? ORDER BY i.added_at, p.id", [collection_id])
        return [(r["id"], r["note"]) for r in rows]
