"""Raw files of the vector index: its params, row numbers by pk, appends and in-place
overwrites of rows, chunked reads, the writer lock, and cleanup. No search logic here.

Writes use pwrite and reads pread/fromfile, not a writable memmap: an ingest running
inside the server process then adds nothing to the server's resident memory.
"""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Iterator

import numpy as np

VECTORS, PKS, PARAMS, LOCK = "vectors.f32", "pks.i64", "params.json", ".lock"
READ_CHUNK_ROWS = 50_000


@dataclass(frozen=True)
class GraphParams:
    file: str
    built_rows: int  # rows 0..built_rows-1 are in the graph
    M: int
    ef_construction: int
    ef_search: int
    stale_rows: tuple[int, ...] = ()  # graph rows overwritten since the graph was written


@dataclass(frozen=True)
class VectorParams:
    schema_version: int
    store_identity: str
    model_name: str
    dim: int
    count: int
    indexed_rev: int
    dtype: str = "float32"
    hnsw: GraphParams | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "VectorParams":
        """Known fields only: a file from another schema version must reach the version
        check (and its reindex hint), not die here on an unexpected key."""
        graph = data.get("hnsw")
        if graph is not None:
            graph = GraphParams(**{**_known(GraphParams, graph), "stale_rows": tuple(graph.get("stale_rows", ()))})
        return cls(**{**_known(cls, data), "hnsw": graph})


def _known(kind: type, data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(kind)}
    return {key: value for key, value in data.items() if key in names}


class PkLookup:
    """pk -> row. Store pks are small dense integers, so a table indexed by pk answers
    a 200k-pk filter in ~1 ms (binary search took ~13 ms at 1M rows); pks too sparse
    for a table fall back to binary search over a sorted copy."""

    def __init__(self, pks: np.ndarray) -> None:
        self.ascending = len(pks) < 2 or bool(np.all(pks[1:] > pks[:-1]))
        self.table: np.ndarray | None = None
        self.order: np.ndarray | None = None
        self.sorted = pks
        if len(pks) and pks.min() >= 0 and pks.max() < 4 * len(pks) + 1024:
            self.table = np.full(int(pks.max()) + 1, -1, dtype=np.int64)
            self.table[pks] = np.arange(len(pks))
        elif not self.ascending:
            self.order = np.argsort(pks, kind="stable")
            self.sorted = pks[self.order]

    def rows_of(self, pks: np.ndarray) -> np.ndarray:
        """Row of each pk, -1 where unknown."""
        pks = np.asarray(pks, dtype=np.int64).reshape(-1)
        if self.table is not None:
            known = (pks >= 0) & (pks < len(self.table))
            rows = np.full(len(pks), -1, dtype=np.int64)
            rows[known] = self.table[pks[known]]
            return rows
        if not len(self.sorted):
            return np.full(len(pks), -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.sorted, pks), len(self.sorted) - 1)
        rows = pos if self.order is None else self.order[pos]
        return np.where(self.sorted[pos] == pks, rows, -1).astype(np.int64)


class RowWriter:
    """Appends rows for new pks and overwrites rows of known pks, with pwrite (no
    mapping, so an in-process writer does not grow the server's RSS)."""

    def __init__(self, folder: Path, dim: int, pks: np.ndarray) -> None:
        self.row_bytes, self.lookup, self.count = dim * 4, PkLookup(pks), len(pks)
        self.added: dict[int, int] = {}
        self.replaced: list[int] = []
        flags = os.O_RDWR | os.O_CREAT
        self.vectors_fd, self.pks_fd = os.open(folder / VECTORS, flags, 0o644), os.open(folder / PKS, flags, 0o644)

    def put(self, pks: np.ndarray, vectors: np.ndarray) -> None:
        rows = self.lookup.rows_of(pks)
        fresh: list[int] = []
        for i, pk in enumerate(pks.tolist()):
            if rows[i] < 0 and pk in self.added:
                rows[i] = self.added[pk]
            if rows[i] >= 0:
                os.pwrite(self.vectors_fd, vectors[i].tobytes(), int(rows[i]) * self.row_bytes)
                self.replaced.append(int(rows[i]))
            else:
                self.added[pk] = self.count + len(fresh)
                fresh.append(i)
        if fresh:
            os.pwrite(self.vectors_fd, vectors[fresh].tobytes(), self.count * self.row_bytes)
            os.pwrite(self.pks_fd, pks[fresh].tobytes(), self.count * 8)
            self.count += len(fresh)

    def close(self) -> None:
        for fd in (self.vectors_fd, self.pks_fd):
            os.fsync(fd)
            os.close(fd)


def read_rows(path: Path, dim: int, rows: np.ndarray) -> np.ndarray:
    out = np.empty((len(rows), dim), dtype=np.float32)
    fd = os.open(path, os.O_RDONLY)
    try:
        for i, row in enumerate(rows.tolist()):
            out[i] = np.frombuffer(os.pread(fd, dim * 4, row * dim * 4), dtype=np.float32)
    finally:
        os.close(fd)
    return out


def read_chunks(path: Path, dim: int, start: int, stop: int, rows: int = READ_CHUNK_ROWS) -> Iterator[np.ndarray]:
    for first in range(start, stop, rows):
        n = min(rows, stop - first)
        yield np.fromfile(path, dtype=np.float32, count=n * dim, offset=first * dim * 4).reshape(n, dim)


@contextmanager
def locked(path: Path, *, blocking: bool = True) -> Iterator[bool]:
    """An exclusive flock (one writer per index across processes); yields whether held."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # releases the lock


def truncate(path: Path, size: int) -> None:
    if path.exists() and path.stat().st_size > size:
        os.truncate(path, size)


def wipe(folder: Path) -> None:
    """Params first (readers then see an empty index), then the data files. Unlinking,
    not truncating: a reader that still maps a file keeps its pages."""
    for name in (PARAMS, VECTORS, PKS):
        (folder / name).unlink(missing_ok=True)
    remove_graphs(folder, keep=None)


def remove_graphs(folder: Path, *, keep: str | None) -> None:
    for graph in folder.glob("hnsw-*.faiss*"):
        if graph.name != keep:
            graph.unlink(missing_ok=True)
