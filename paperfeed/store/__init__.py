"""The store: the only code that speaks SQL.

`open_store(url)` picks the backend from the URL scheme. Callers use the `Store`
protocol below and never see a connection, a cursor or a SQL string, so a PostgreSQL
backend can slot in beside SQLite without touching them.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Iterator, Protocol, Sequence

from paperfeed.errors import ConfigError
from paperfeed.models import KeywordChange, Paper, PaperChange, PaperFilter, StoredPaper, TextChange
from paperfeed.store.mail_tables import MailTables
from paperfeed.store.rows import PaperRow, from_iso, row_to_paper

if TYPE_CHECKING:
    from paperfeed.store.community import CommunityStore


class Store(Protocol):
    url: str
    community: "CommunityStore"  # accounts, votes, comments, collections
    mail: MailTables  # subscribers, link nonces, outbox (docs/email.md)

    def migrate(self) -> list[str]:
        """Apply pending migrations; return the names applied."""
        ...

    def close(self) -> None: ...

    def find_matches(
        self, *, arxiv_ids: Sequence[str], dois: Sequence[str], title_keys: Sequence[str]
    ) -> list[StoredPaper]:
        """Papers sharing any of these dedup keys."""
        ...

    def write_papers(self, papers: Sequence[Paper], *, ingested_at: datetime) -> list[tuple[str, str]]:
        """Insert or replace (by id) in one transaction. Returns (paper id, reason) for
        papers refused by a uniqueness rule; the others are written."""
        ...

    # Optional (backends may leave it out; callers go through `write_rows` below):
    # def write_rows(self, rows: Sequence[PaperRow]) -> list[tuple[str, str]]:
    #     """`write_papers` for papers already turned into rows by rows.paper_to_row,
    #     `ingested_at` included. Bulk ingest builds rows in worker processes."""

    def get_paper(self, paper_id: str) -> Paper | None: ...

    def get_papers(self, paper_ids: Sequence[str]) -> list[Paper]:
        """Papers in the order of the ids asked for; unknown ids are skipped."""
        ...

    def list_papers(
        self, *, filters: PaperFilter, limit: int, offset: int = 0
    ) -> tuple[list[Paper], int]:
        """Newest first; returns (page, total matching)."""
        ...

    def pks_for_ids(self, paper_ids: Sequence[str]) -> dict[str, int]:
        """Row numbers (as indexes know papers) of these ids; unknown ids are left out."""
        ...

    def ids_for_pks(self, pks: Sequence[int]) -> dict[int, str]: ...

    def pks_matching(self, filters: PaperFilter) -> list[int]:
        """Row numbers of every paper passing the filters (to restrict vector search)."""
        ...

    def find_id(self, *, arxiv_id: str | None = None, title: str | None = None) -> str | None:
        """The paper with this arXiv id, or the only one with this normalised title."""
        ...

    def max_rev(self) -> int:
        """The newest write batch number (0 for an empty store)."""
        ...

    def iter_changes(self, *, after_rev: int, batch_size: int = 2000) -> Iterator[list[PaperChange]]:
        """Papers written after `after_rev`, oldest write first, in batches."""
        ...

    def iter_text_changes(self, *, after_rev: int, batch_size: int = 2000) -> Iterator[list[TextChange]]:
        """`iter_changes`, only title and abstract of each paper."""
        ...

    def iter_keyword_changes(self, *, after_rev: int, batch_size: int = 2000) -> Iterator[list[KeywordChange]]:
        """`iter_changes`, only what the keyword index takes of each paper."""
        ...

    def count_papers(self) -> int: ...

    def stats(self) -> dict[str, object]: ...

    def identity(self) -> str:
        """A random id minted with the store; indexes record which store they follow."""
        ...

    def get_state(self, key: str) -> str | None: ...

    def set_state(self, key: str, value: str) -> None: ...


def write_rows(store: Store, rows: Sequence[PaperRow]) -> list[tuple[str, str]]:
    """Write prepared rows through the backend's `write_rows`, or, for a backend without
    one, turn them back into papers for `write_papers` (same result, slower)."""
    fast = getattr(store, "write_rows", None)
    if fast is not None:
        return fast(rows)  # type: ignore[no-any-return]
    refused: list[tuple[str, str]] = []
    by_stamp: dict[str, list[PaperRow]] = {}
    for row in rows:
        by_stamp.setdefault(row["ingested_at"], []).append(row)
    for stamp, group in by_stamp.items():
        refused += store.write_papers([row_to_paper(row) for row in group], ingested_at=from_iso(stamp))
    return refused


def open_store(url: str) -> Store:
    """Open (without migrating) the store a database URL names."""
    if url.startswith("sqlite:///"):
        from paperfeed.store.sqlite import SqliteStore

        return SqliteStore(url)
    if url.startswith(("postgresql://", "postgres://")):
        from paperfeed.store.postgres import PostgresStore

        return PostgresStore(url)
    raise ConfigError(
        f"Database URL {url!r} is not understood.",
        hint="Use sqlite:///path/to/file.sqlite3 or postgresql://user:password@host/dbname, "
        "or leave PAPERFEED_DATABASE_URL empty for the default.",
    )
