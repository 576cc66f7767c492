"""PostgreSQL backend: many processes, one database, a connection pool each.

This module, postgres_search.py and the migrations under migrations/postgres are the only
places that speak PostgreSQL's SQL. Rows use the same encodings as SQLite (rows.py).

Writes take a transaction-scoped advisory lock before picking the next `rev`, so batches
commit in rev order even with several writer processes: an index that has absorbed rev N
can never later find a committed batch numbered below N (docs/postgres.md).
"""

from __future__ import annotations

import functools
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from importlib import resources
from typing import Any, Iterator, Sequence

import psycopg
from psycopg import errors as pg_errors
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from paperfeed.errors import StoreUnavailable
from paperfeed.models import KeywordChange, Paper, PaperChange, PaperFilter, StoredPaper, TextChange
from paperfeed.store.community import CommunityStore, PostgresDb
from paperfeed.store.locks import advisory_lock
from paperfeed.store.mail_tables import MailTables
from paperfeed.store.rows import KEYWORD_COLUMNS, paper_to_row, row_to_keyword_change, row_to_paper, to_iso

PAPER_COLUMNS = (
    "pk id arxiv_id arxiv_version doi title_key title abstract authors categories "
    "primary_category published updated versions links has_code comments journal_ref "
    "source source_id fetched_at ingested_at content_hash extra rev"
).split()
_WRITE_COLUMNS = PAPER_COLUMNS[1:]  # pk comes from the identity sequence
_SELECT = f"SELECT {', '.join(PAPER_COLUMNS)} FROM papers"
_UPSERT = (
    f"INSERT INTO papers ({', '.join(_WRITE_COLUMNS)}) "
    f"VALUES ({', '.join(f'%({c})s' for c in _WRITE_COLUMNS)}) "
    "ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _WRITE_COLUMNS if c != "id")
)
WRITE_LOCK = 0x70617065  # advisory lock key: one writer batch at a time ("pape")
MIGRATE_LOCK = 0x70617066
CONNECT_TIMEOUT_S = 5
POOL_MAX = 8
POOL_WAIT_S = 5  # a request waiting longer for a connection gets a 503


def _migrations() -> list[tuple[str, str]]:
    folder = resources.files("paperfeed.store") / "migrations" / "postgres"
    files = sorted(f for f in folder.iterdir() if f.name.endswith(".sql"))
    return [(f.name.removesuffix(".sql"), f.read_text(encoding="utf-8")) for f in files]


def unavailable(url: str, exc: BaseException) -> StoreUnavailable:
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return StoreUnavailable(
        f"Cannot reach the PostgreSQL database at {redact(url)}: {detail}.",
        hint="Check the server is running and PAPERFEED_DATABASE_URL is right.",
    )


def redact(url: str) -> str:
    """The URL without its password, for messages and stats."""
    scheme, sep, rest = url.partition("://")
    if "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}{sep}{user}@{host}"


class PostgresStore:
    def __init__(self, url: str, *, pool_max: int = POOL_MAX) -> None:
        self.url = url
        self.conninfo = "postgresql://" + url.split("://", 1)[1]
        try:  # one plain connection first: a server that is down fails here, at once, in one line
            psycopg.connect(self.conninfo, connect_timeout=CONNECT_TIMEOUT_S).close()
        except psycopg.Error as exc:
            raise unavailable(url, exc) from exc
        # check: a connection the server dropped (restart, failover) is replaced, not handed out
        self.pool = ConnectionPool(
            self.conninfo, min_size=1, max_size=pool_max, open=False, name="paperfeed",
            kwargs={"autocommit": True, "row_factory": dict_row, "connect_timeout": CONNECT_TIMEOUT_S},
            timeout=POOL_WAIT_S, check=ConnectionPool.check_connection,
        )
        try:
            self.pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)
        except PoolTimeout as exc:
            self.pool.close()
            raise unavailable(url, exc) from exc
        self.mail = MailTables(read=self._conn, write=self._transaction, mark="%s",  # docs/email.md
                               lock=self._advisory_lock)

    # -- connections -------------------------------------------------------------------
    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection[dict[str, Any]]]:
        try:
            with self.pool.connection() as conn:
                yield conn
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise unavailable(self.url, exc) from exc

    @contextmanager
    def _advisory_lock(self, name: str) -> Iterator[bool]:
        try:
            with advisory_lock(self.conninfo, name, connect_timeout=CONNECT_TIMEOUT_S) as held:
                yield held
        except psycopg.OperationalError as exc:
            raise unavailable(self.url, exc) from exc

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Connection[dict[str, Any]]]:
        with self._conn() as conn, conn.transaction():
            yield conn

    def _one(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> dict[str, Any] | None:
        with self._conn() as conn:
            return conn.execute(sql, params).fetchone()

    def _all(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        with self._conn() as conn:
            return conn.execute(sql, params).fetchall()

    def close(self) -> None:
        self.pool.close()

    @functools.cached_property
    def community(self) -> CommunityStore:
        """Accounts, votes, comments, collections (store/community/)."""
        return CommunityStore(PostgresDb(self))

    # -- schema -------------------------------------------------------------------------
    def migrate(self) -> list[str]:
        applied: list[str] = []
        with self._transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATE_LOCK,))  # N workers start at once
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
            done = {row["name"] for row in conn.execute("SELECT name FROM schema_migrations")}
            for name, sql in _migrations():
                if name in done:
                    continue
                conn.execute(sql)  # type: ignore[arg-type]  # our own file, not user input
                conn.execute(
                    "INSERT INTO schema_migrations VALUES (%s, %s)", (name, to_iso(datetime.now(timezone.utc)))
                )
                applied.append(name)
        return applied

    def pending_migrations(self) -> list[str]:
        try:
            done = {row["name"] for row in self._all("SELECT name FROM schema_migrations")}
        except pg_errors.UndefinedTable:
            done = set()
        return [name for name, _ in _migrations() if name not in done]

    # -- papers: writes -----------------------------------------------------------------
    def write_papers(self, papers: Sequence[Paper], *, ingested_at: datetime) -> list[tuple[str, str]]:
        stamp = to_iso(ingested_at)
        rows = [paper_to_row(paper, ingested_at=stamp) for paper in papers]
        with self._transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            rev = conn.execute("SELECT coalesce(max(rev), 0) + 1 AS rev FROM papers").fetchone()["rev"]  # type: ignore[index]
            for row in rows:
                row["rev"] = rev
            try:
                with conn.transaction(), conn.cursor() as cur:
                    cur.executemany(_UPSERT, rows)
                refused: list[tuple[str, str]] = []
            except pg_errors.UniqueViolation:
                refused = _upsert_one_by_one(conn, rows)  # rare: keep the others
            written = _replace_categories(conn, rev, {p.id: p.categories for p in papers})
            # the keyword postings change with the papers, in the same transaction
            conn.execute("SELECT paperfeed_index_keywords(%s::bigint[])", (written,))
        return refused

    # -- raw rows, as stored (`paperfeed db copy`) ------------------------------------------
    def raw_papers(self, *, after_pk: int, limit: int) -> list[dict[str, Any]]:
        return self._all(f"{_SELECT} WHERE pk > %s ORDER BY pk LIMIT %s", (after_pk, limit))

    def raw_categories(self, pks: Sequence[int]) -> list[tuple[int, str]]:
        rows = self._all("SELECT pk, category FROM paper_categories WHERE pk = ANY(%s) ORDER BY pk, category",
                         ([int(pk) for pk in pks],))
        return [(row["pk"], row["category"]) for row in rows]

    def insert_raw(self, rows: Sequence[dict[str, Any]], categories: Sequence[tuple[int, str]]) -> None:
        """Rows exactly as given, pk and rev included, in one transaction."""
        with self._transaction() as conn, conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            with cur.copy(f"COPY papers ({', '.join(PAPER_COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([row[c] for c in PAPER_COLUMNS])
            with cur.copy("COPY paper_categories (pk, category) FROM STDIN") as copy:
                for pair in categories:
                    copy.write_row(pair)
            cur.execute("SELECT paperfeed_index_keywords(%s::bigint[])", ([row["pk"] for row in rows],))
            # new papers written later must get pks past the copied ones
            cur.execute("SELECT setval(pg_get_serial_sequence('papers', 'pk'), "
                        "greatest((SELECT max(pk) FROM papers), 1))")

    def max_pk(self) -> int:
        return int(self._one("SELECT coalesce(max(pk), 0) AS pk FROM papers")["pk"])  # type: ignore[index]

    def count_rows(self, table: str) -> int:
        assert table in ("papers", "paper_categories")
        return int(self._one(f"SELECT count(*) AS n FROM {table}")["n"])  # type: ignore[index]

    def state_items(self) -> dict[str, str]:
        return {row["key"]: row["value"] for row in self._all("SELECT key, value FROM state")}

    def set_state(self, key: str, value: str) -> None:
        with self._conn() as conn:
            conn.execute(
                "INSERT INTO state (key, value) VALUES (%s, %s) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # -- papers: reads ------------------------------------------------------------------
    def find_matches(
        self, *, arxiv_ids: Sequence[str], dois: Sequence[str], title_keys: Sequence[str]
    ) -> list[StoredPaper]:
        found: dict[str, StoredPaper] = {}
        for column, values in (("arxiv_id", arxiv_ids), ("doi", dois), ("title_key", title_keys)):
            if values:
                for row in self._all(f"{_SELECT} WHERE {column} = ANY(%s)", (sorted(set(values)),)):
                    found[row["id"]] = StoredPaper(row_to_paper(row), row["content_hash"])
        return list(found.values())

    def get_paper(self, paper_id: str) -> Paper | None:
        row = self._one(f"{_SELECT} WHERE id = %s", (paper_id,))
        return row_to_paper(row) if row else None

    def get_papers(self, paper_ids: Sequence[str]) -> list[Paper]:
        rows = self._all(f"{_SELECT} WHERE id = ANY(%s)", (list(dict.fromkeys(paper_ids)),))
        by_id = {row["id"]: row_to_paper(row) for row in rows}
        return [by_id[pid] for pid in paper_ids if pid in by_id]

    def list_papers(
        self, *, filters: PaperFilter, limit: int, offset: int = 0
    ) -> tuple[list[Paper], int]:
        where, params = filter_sql(filters, alias="p")
        with self._conn() as conn:
            total = conn.execute(f"SELECT count(*) AS n FROM papers p WHERE {where}", params).fetchone()["n"]  # type: ignore[index]
            rows = conn.execute(
                f"{_SELECT} p WHERE {where} "
                # The same order as `published IS NULL, published DESC`, spelled so the
                # papers_newest_first index (migration 0030) serves it without a sort.
                "ORDER BY p.published DESC NULLS LAST, p.pk DESC LIMIT %s OFFSET %s",
                [*params, limit, offset],
            ).fetchall()
        return [row_to_paper(row) for row in rows], total

    def pks_for_ids(self, paper_ids: Sequence[str]) -> dict[str, int]:
        rows = self._all("SELECT id, pk FROM papers WHERE id = ANY(%s)", (list(dict.fromkeys(paper_ids)),))
        return {row["id"]: row["pk"] for row in rows}

    def ids_for_pks(self, pks: Sequence[int]) -> dict[int, str]:
        rows = self._all("SELECT pk, id FROM papers WHERE pk = ANY(%s)", ([int(pk) for pk in dict.fromkeys(pks)],))
        return {row["pk"]: row["id"] for row in rows}

    def pks_matching(self, filters: PaperFilter) -> list[int]:
        where, params = filter_sql(filters, alias="p")
        return [row["pk"] for row in self._all(f"SELECT p.pk FROM papers p WHERE {where}", params)]

    def find_id(self, *, arxiv_id: str | None = None, title: str | None = None) -> str | None:
        if arxiv_id:
            row = self._one("SELECT id FROM papers WHERE arxiv_id = %s", (arxiv_id,))
            return row["id"] if row else None
        if title:
            # title_key is "<normalised title>|<surname>": a range scan on its index
            rows = self._all(
                "SELECT id FROM papers WHERE title_key >= %s AND title_key < %s LIMIT 2", (title + "|", title + "}")
            )
            return rows[0]["id"] if len(rows) == 1 else None
        return None

    def max_rev(self) -> int:
        return int(self._one("SELECT coalesce(max(rev), 0) AS rev FROM papers")["rev"])  # type: ignore[index]

    def iter_changes(self, *, after_rev: int, batch_size: int = 2000) -> Iterator[list[PaperChange]]:
        """Papers written after `after_rev`, in write order, in batches, from one snapshot."""
        for rows in self._rows_after(after_rev, _SELECT, batch_size):
            yield [PaperChange(row["pk"], row["rev"], row_to_paper(row)) for row in rows]

    def iter_text_changes(self, *, after_rev: int, batch_size: int = 2000) -> Iterator[list[TextChange]]:
        for rows in self._rows_after(after_rev, "SELECT pk, rev, title, abstract FROM papers", batch_size):
            yield [TextChange(row["pk"], row["rev"], row["title"], row["abstract"]) for row in rows]

    def iter_keyword_changes(self, *, after_rev: int, batch_size: int = 2000) -> Iterator[list[KeywordChange]]:
        for rows in self._rows_after(after_rev, f"SELECT {KEYWORD_COLUMNS} FROM papers", batch_size):
            yield [row_to_keyword_change(row) for row in rows]

    def _rows_after(self, after_rev: int, select: str, batch_size: int) -> Iterator[list[dict[str, Any]]]:
        """Batches of `select`'s rows written after `after_rev`, in write order, from one snapshot."""
        with self._conn() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            with conn.cursor(name="paperfeed_changes") as cursor:
                cursor.execute(f"{select} WHERE rev > %s ORDER BY rev, pk", (after_rev,))
                while rows := cursor.fetchmany(batch_size):
                    yield rows

    def count_papers(self) -> int:
        return int(self._one("SELECT count(*) AS n FROM papers")["n"])  # type: ignore[index]

    def stats(self) -> dict[str, object]:
        with self._conn() as conn:
            by_source = {r["source"]: r["n"] for r in conn.execute("SELECT source, count(*) AS n FROM papers GROUP BY source")}
            with_code = conn.execute("SELECT count(*) AS n FROM papers WHERE has_code = 1").fetchone()["n"]  # type: ignore[index]
            newest = conn.execute("SELECT max(published) AS m FROM papers").fetchone()["m"]  # type: ignore[index]
            size = conn.execute("SELECT pg_database_size(current_database()) AS s").fetchone()["s"]  # type: ignore[index]
        return {
            "backend": "postgresql",
            "url": redact(self.url),
            "papers": self.count_papers(),
            "papers_by_source": by_source,
            "papers_with_code": with_code,
            "newest_published": newest,
            "size_bytes": size,
            "pending_migrations": self.pending_migrations(),
        }

    def identity(self) -> str:
        existing = self.get_state("store_identity")
        if existing:
            return existing
        with self._conn() as conn:
            conn.execute(
                "INSERT INTO state (key, value) VALUES ('store_identity', %s) ON CONFLICT (key) DO NOTHING",
                (uuid.uuid4().hex,),
            )
        return self.get_state("store_identity") or ""

    def get_state(self, key: str) -> str | None:
        row = self._one("SELECT value FROM state WHERE key = %s", (key,))
        return row["value"] if row else None

    def search_backends(self, model_name: str | None, dim: int | None) -> tuple[Any, Any]:
        """Keyword and vector search inside this database (engine.py plugs them in)."""
        from paperfeed.store.postgres_search import PgKeywordIndex, PgVectorIndex

        vectors = PgVectorIndex(self, model_name, dim) if model_name and dim else None
        return PgKeywordIndex(self), vectors


def filter_sql(filters: PaperFilter, *, alias: str) -> tuple[str, list[Any]]:
    clauses, params = ["TRUE"], []  # type: tuple[list[str], list[Any]]
    if filters.date_from:
        clauses.append(f"{alias}.published >= %s")
        params.append(filters.date_from.isoformat())
    if filters.date_to:
        clauses.append(f"{alias}.published < %s")
        params.append(filters.date_to.isoformat() + "T99")  # inclusive: sorts after any time that day
    if filters.category:
        clauses.append(f"{alias}.pk IN (SELECT pk FROM paper_categories WHERE category = %s)")
        params.append(filters.category)
    if filters.has_code is not None:
        clauses.append(f"{alias}.has_code = %s")
        params.append(int(filters.has_code))
    return " AND ".join(clauses), params


def _upsert_one_by_one(conn: psycopg.Connection[Any], rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    refused = []
    for row in rows:
        try:
            with conn.transaction():
                conn.execute(_UPSERT, row)
        except pg_errors.UniqueViolation as exc:
            refused.append((row["id"], _explain_conflict(exc)))
    return refused


def _replace_categories(conn: psycopg.Connection[Any], rev: int, categories: dict[str, list[str]]) -> list[int]:
    """Store the categories of the papers written as `rev`; returns their pks."""
    written = [(r["id"], r["pk"]) for r in conn.execute("SELECT id, pk FROM papers WHERE rev = %s", (rev,))]
    conn.execute("DELETE FROM paper_categories WHERE pk = ANY(%s)", ([pk for _, pk in written],))
    pairs = {(category, pk) for paper_id, pk in written for category in categories.get(paper_id, [])}
    if pairs:
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO paper_categories (category, pk) VALUES (%s, %s)", sorted(pairs))
    return [pk for _, pk in written]


def _explain_conflict(exc: pg_errors.UniqueViolation) -> str:
    constraint = exc.diag.constraint_name or ""
    if "doi" in constraint:
        return "its DOI already belongs to another paper"
    if "arxiv_id" in constraint:
        return "its arXiv id already belongs to another paper"
    return f"it conflicts with a stored paper ({exc.diag.message_primary})"

