"""Dialect adapters: run `?`-placeholder SQL on a SqliteStore or a PostgresStore."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator, Protocol, Sequence


class Tx(Protocol):
    def run(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]: ...

    def run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    def lock_paper(self, paper_pk: int) -> None: ...


class Db(Protocol):
    def transaction(self) -> Any: ...

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]: ...


class _SqliteTx:
    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def run(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return [dict(row) for row in self.conn.execute(sql, list(params)).fetchall()]

    def run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.conn.executemany(sql, rows)

    def lock_paper(self, paper_pk: int) -> None:
        """Nothing to do: SQLite writes are already serial (one writer, BEGIN IMMEDIATE)."""


class SqliteDb:
    def __init__(self, store: Any) -> None:
        self.store = store

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        with self.store._transaction() as conn:
            yield _SqliteTx(conn)

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return [dict(row) for row in self.store._reader().execute(sql, list(params)).fetchall()]


def _pg(sql: str) -> str:
    # Our SQL never holds a literal '?' or '%', so this swap is exact.
    return sql.replace("?", "%s")


class _PostgresTx:
    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def run(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cursor = self.conn.execute(_pg(sql), list(params))
        return list(cursor.fetchall()) if cursor.description else []

    def run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self.conn.cursor() as cursor:  # psycopg pipelines executemany: one round trip per batch
            cursor.executemany(_pg(sql), rows)

    def lock_paper(self, paper_pk: int) -> None:
        # NO KEY UPDATE: blocks other voters on this paper but not inserts that merely
        # reference it (foreign keys take KEY SHARE).
        self.conn.execute("SELECT pk FROM papers WHERE pk = %s FOR NO KEY UPDATE", (paper_pk,))


class PostgresDb:
    def __init__(self, store: Any) -> None:
        self.store = store

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        with self.store._transaction() as conn:
            yield _PostgresTx(conn)

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self.store._conn() as conn:
            cursor = conn.execute(_pg(sql), list(params))
            return list(cursor.fetchall()) if cursor.description else []
