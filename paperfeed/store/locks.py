"""Named, non-blocking, exclusive locks that die with their holder: one process at a time
composes digests, one sends mail (docs/email.md, "Locks"). Both kinds are released by the
operating system or the server when the holding process exits or is killed (SIGKILL
included), so no lease has to time out.

- SQLite: an `flock` on `<database file>.<name>.lock`. Every process using the database
  is on this host, and each `try_lock` opens the file anew, so two holders in one process
  exclude each other too.
- PostgreSQL: a session-level `pg_try_advisory_lock` on a connection of its own, held for
  the `with` block; processes on any host sharing the database exclude each other.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import psycopg


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for `name`, in paperfeed's own space."""
    return int.from_bytes(hashlib.sha256(f"paperfeed:{name}".encode()).digest()[:8], "big", signed=True)


@contextmanager
def file_lock(path: Path) -> Iterator[bool]:
    """True while this holds the lock on `path`; False at once if someone else does."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # closing releases the lock


@contextmanager
def advisory_lock(conninfo: str, name: str, *, connect_timeout: int = 5) -> Iterator[bool]:
    """True while this session holds the advisory lock for `name`; False at once if another does."""
    key = lock_key(name)
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=connect_timeout) as conn:
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
        held = bool(row and row[0])
        try:
            yield held
        finally:
            if held and not conn.closed:
                conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
