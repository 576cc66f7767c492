"""Community tables (issue 6): the one place their SQL lives, for both backends.

The SQL is written once with `?` placeholders and run through a small dialect adapter
(`SqliteDb`, `PostgresDb`) that each store hands over as `store.community`, so sqlite.py
and postgres.py gain a few lines only. Callers get plain dataclasses, never rows.

Races: SQLite has one writer connection behind a lock, so every transaction here is
serial. PostgreSQL runs transactions at READ COMMITTED in parallel, so a vote first takes a
row lock on its paper (`lock_paper`): votes on one paper serialise, and the count and the
heat written in the same transaction always agree (tests/store/test_community.py).
"""

from __future__ import annotations

from paperfeed.store.community.db import PostgresDb, SqliteDb
from paperfeed.store.community.models import NO_COUNTS, CardCounts, Collection, Comment, User
from paperfeed.store.community.store import CommunityStore, CommunityError

__all__ = ["CardCounts", "NO_COUNTS", "CommunityStore", "CommunityError", "Collection", "Comment", "User", "SqliteDb", "PostgresDb"]
