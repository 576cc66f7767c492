"""The approximate part of the vector index: a faiss HNSW graph over fp16 copies of the rows.

Why faiss `IndexHNSWSQ` with an fp16 scalar quantizer: faiss was the fastest HNSW measured
here (docs/INFRA.md), and fp16 halves the in-RAM copy (1M x 256 -> 512 MB of codes + the graph links)
while keeping cosines within ~1e-3 of float32, which ranking cannot see. Graph ids are
row numbers of `vectors.f32`. Files are faiss's own binary format (no pickle), written
under a fresh name each time so a reader never sees a half-written graph and a crash
leaves the previous graph intact.

Readers map the codes with `IO_FLAG_MMAP_IFC`: the page cache is shared with the writer
and opening reads only the links (1M rows: 0.2 s, ~300 MB). Such an index is read-only: faiss aborts
the whole process (an assertion, not an exception) on `add`, so only `load_writable`
indexes are ever extended.
"""

from __future__ import annotations

import os
import threading
import uuid
from pathlib import Path
from typing import Callable, Iterator

import faiss
import numpy as np

BUILD_THREADS = os.cpu_count() or 1
SMALL_ADD_ROWS = 20_000  # below this one thread is faster: OpenMP barriers cost more than they save


def new_graph(dim: int, m: int, ef_construction: int) -> faiss.Index:
    index = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_fp16, m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = ef_construction
    return index


class BackgroundBuild:
    """Adds rows to a graph on a thread of its own while a sync is still writing them, so a
    bulk load's graph build overlaps its embedding instead of following it (faiss releases
    the GIL; docs/benchmarks.md). Rows [start, count) are read back with `read_range` once
    the sync reports them written, `step` rows at a time; `finish` adds the rest with every
    core and returns the graph. One thread adds while the sync runs: the embedder holds the
    other core."""

    def __init__(self, index: faiss.Index, read_range: Callable[[int, int], Iterator[np.ndarray]], start: int,
                 *, step: int = SMALL_ADD_ROWS) -> None:
        self.index, self._read_range, self._step = index, read_range, step
        self._added = self._written = start
        self._closing = self._abandoned = False
        self._error: BaseException | None = None
        self._wake = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="hnsw-build", daemon=True)
        self._thread.start()

    def written(self, count: int) -> None:
        with self._wake:
            self._written = count
            self._wake.notify()

    def finish(self, count: int) -> faiss.Index:
        """Every row below `count` in the graph; re-raises what went wrong on the thread."""
        self._close(count)
        if self._error is not None:
            raise self._error
        return self.index

    def abandon(self) -> None:
        """Stop after the add under way (the sync failed; the graph will not be written)."""
        self._abandoned = True
        self._close(self._written)

    def _close(self, count: int) -> None:
        with self._wake:
            self._written, self._closing = count, True
            self._wake.notify()
        self._thread.join()

    def _run(self) -> None:
        try:
            while True:
                with self._wake:
                    while self._written - self._added < self._step and not self._closing:
                        self._wake.wait()
                    target, closing = self._written, self._closing
                if self._abandoned:
                    return
                for chunk in self._read_range(self._added, target):
                    # set per chunk, on this thread (the setting is per thread)
                    faiss.omp_set_num_threads(BUILD_THREADS if closing and len(chunk) >= SMALL_ADD_ROWS else 1)
                    self.index.add(np.ascontiguousarray(chunk, dtype=np.float32))
                self._added = target
                if closing:
                    return
        except BaseException as exc:  # handed to finish() on the sync's thread
            self._error = exc


def codes_view(index: faiss.Index, dim: int) -> np.ndarray:
    """The fp16 rows the graph scores with, as a (ntotal, dim) float16 view (no copy).
    Writable only on an index from `load_writable`/`new_graph`."""
    storage = faiss.downcast_index(index.storage)
    raw = faiss.rev_swig_ptr(storage.codes.data(), int(storage.ntotal) * int(storage.code_size))
    return raw.view(np.float16).reshape(int(storage.ntotal), dim)


def patch_rows(index: faiss.Index, dim: int, rows: np.ndarray, vectors: np.ndarray) -> None:
    """Overwrite the stored vectors of rows whose paper changed. The links keep pointing
    where the old vector lived; for a revised abstract that is close enough, and
    `paperfeed reindex` relinks everything."""
    if len(rows):
        codes_view(index, dim)[rows] = vectors.astype(np.float16)


def write(index: faiss.Index, folder: Path) -> str:
    """Write under a new unique name (tmp + fsync + rename); return the file name."""
    name = f"hnsw-{uuid.uuid4().hex[:12]}.faiss"
    tmp = folder / (name + ".tmp")
    faiss.write_index(index, str(tmp))
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    tmp.replace(folder / name)
    return name


def load_readonly(path: Path) -> faiss.Index:
    return faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC)


def load_writable(path: Path) -> faiss.Index:
    return faiss.read_index(str(path))


def bitmap_selector(mask: np.ndarray) -> tuple[faiss.IDSelector, np.ndarray]:
    """An IDSelectorBitmap letting through graph ids where `mask` is True. Returns the
    bits too: faiss keeps only a pointer, so they must outlive every search using it."""
    bits = np.packbits(mask, bitorder="little")
    return faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bits)), bits


def graph_search(
    index: faiss.Index, query: np.ndarray, k: int, *, ef_search: int, selector: faiss.IDSelector | None
) -> tuple[np.ndarray, np.ndarray]:
    """HNSW search; with a selector, non-members are walked through but never returned."""
    _one_thread()
    params = faiss.SearchParametersHNSW()
    params.efSearch = max(ef_search, k)
    if selector is not None:
        params.sel = selector
    scores, rows = index.search(query[None, :], k, params=params)
    return _valid(scores[0], rows[0])


def scan_search(
    index: faiss.Index, query: np.ndarray, k: int, selector: faiss.IDSelector | None
) -> tuple[np.ndarray, np.ndarray]:
    """Exact search over the fp16 codes of the selected rows only (no graph): for filters
    too selective for HNSW to find enough members."""
    _one_thread()
    params = faiss.SearchParameters()
    if selector is not None:
        params.sel = selector
    storage = faiss.downcast_index(index.storage)
    scores, rows = storage.search(query[None, :], k, params=params)
    return _valid(scores[0], rows[0])


def _valid(scores: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keep = rows >= 0
    return scores[keep], rows[keep]


def _one_thread() -> None:
    """One query needs one core: faiss would split a flat scan across OpenMP threads, and
    on a busy 2-core machine waiting for the second one made a 0.5 ms scan take 18 ms.
    The setting belongs to the calling thread, so request threads each set it."""
    faiss.omp_set_num_threads(1)
