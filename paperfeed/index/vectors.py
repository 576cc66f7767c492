"""Dense vector index: one embedding per paper, cosine search, "related papers".

Like the keyword index it follows the store by `rev`: `params.json` remembers the newest
rev absorbed, and `sync()` embeds whatever came after. Files in the index folder:

* `vectors.f32` -- float32 rows, raw row-major (count x dim), the exact copy of every
  vector; `pks.i64` -- the store's row number (pk) of each row. Rows are appended for
  new papers and overwritten in place for updated ones.
* `params.json` -- schema, store identity, model name, dim, count, indexed rev, and the
  HNSW graph's state. Written last, atomically (tmp + rename), after the arrays are
  fsynced: bytes past `count` are a torn sync and are cut off before the next one.
* `hnsw-<random>.faiss` -- past `hnsw_threshold` rows, a faiss HNSW graph (see hnsw.py).

Small collections are searched exactly (one matrix-vector product over the memmap: 50k
x 384 is ~5 ms). Larger ones use the graph, plus an exact scan of the rows it does not
cover correctly yet: rows appended since it was written (the tail) and rows overwritten
since (stale; the graph still holds their old vector, so graph hits on them are
dropped). The graph is extended only once tail + stale reach `graph_batch` rows, so a
small ingest does not rewrite a ~700 MB file and the server does not reload it each time.
When a sync's own appends make the graph due, it is built on a thread beside the embedding
(hnsw.BackgroundBuild), not after it.
Readers never hold the vectors twice: graph-mode reads take exact rows with pread, and
only the tail and stale rows are touched in the memmap.
"""

from __future__ import annotations

import json
import os
import threading
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from paperfeed.errors import ConfigError
from paperfeed.index.embed import Embedder
from paperfeed.index.exact import allowed_rows, exact_top, rows_among, top
from paperfeed.index.vecfiles import (LOCK, PARAMS, PKS, VECTORS, GraphParams, PkLookup, RowWriter, VectorParams,
                                      locked, read_chunks, read_rows, remove_graphs, truncate, wipe)
from paperfeed.models import Paper, TextChange
from paperfeed.store import Store

if TYPE_CHECKING:
    from paperfeed.index import hnsw  # faiss loads only once a collection needs the graph

SCHEMA_VERSION = 1
HNSW_THRESHOLD = 50_000  # rows; below it an exact scan is fast enough (<= ~5 ms) and always right
GRAPH_BATCH = 20_000  # tail + stale rows scanned exactly before the graph is extended (~2 ms)
SCAN_MAX_ROWS = 20_000  # a filter allowing at most this many graph rows is answered by an exact scan
# The graph build is the largest cost of a bulk load. M 24 / efC 24 against the earlier 32 / 100,
# 300 bench queries vs exact top-10: at 1M recall@10 0.780 vs 0.776 at ef 256 (1.9 ms); at 100k
# the build took 24 vs 75 CPU-s (docs/benchmarks.md).
M, EF_CONSTRUCTION, EF_SEARCH = 24, 24, 256
EF_FILTERED_MAX = 2048


def paper_text(paper: Paper | TextChange) -> str:
    """What gets embedded: title and abstract, the fields that say what a paper is about."""
    title, abstract = paper.title.strip(), paper.abstract.strip()
    if not abstract:
        return title
    return f"{title} {abstract}" if title.endswith((".", "?", "!")) else f"{title}. {abstract}"


@dataclass(frozen=True)
class _State:
    """One consistent snapshot for readers; replaced whole when params.json changes."""

    params: VectorParams
    stamp: tuple[int, int, int] | None
    pks: np.ndarray
    lookup: PkLookup
    vectors: np.ndarray | None  # read-only memmap (count x dim)
    graph: Any = None  # faiss index (read-only, codes memory-mapped)
    stale: np.ndarray | None = None  # graph mode: rows overwritten since the graph was written
    exact_rows: np.ndarray | None = None  # graph mode: stale + tail rows (scanned exactly), sorted
    graph_mask: np.ndarray | None = None  # graph mode: graph rows that may be returned (not stale)
    graph_members: int = 0  # how many of those
    graph_selector: tuple[Any, np.ndarray] | None = None  # faiss selector for the mask, None if all


Hit = tuple[int, float]


class VectorIndex:
    """Embeddings of the papers of the store at `store_identity`, made by `model_name`."""

    def __init__(self, path: Path, *, store_identity: str, model_name: str, dim: int,
                 hnsw_threshold: int = HNSW_THRESHOLD, graph_batch: int = GRAPH_BATCH,
                 scan_max_rows: int = SCAN_MAX_ROWS, m: int = M, ef_construction: int = EF_CONSTRUCTION,
                 ef_search: int | None = None) -> None:
        self.path, self.store_identity, self.model_name, self.dim = path, store_identity, model_name, dim
        self.hnsw_threshold, self.graph_batch, self.scan_max_rows = hnsw_threshold, graph_batch, scan_max_rows
        self.m, self.ef_construction, self.ef_search = m, ef_construction, ef_search  # None: params' value
        self._thread_lock = threading.Lock()
        self._load_lock = threading.Lock()
        path.mkdir(parents=True, exist_ok=True)
        with locked(path / LOCK, blocking=False) as free:
            if free:  # a sync running in another process is not a torn one
                self._repair()
        self._state: _State = self._load(None)

    @classmethod
    def reset(cls, path: Path, **kwargs: Any) -> "VectorIndex":
        """Wipe whatever index is in `path` (even one built for another model or store)
        and open an empty one; `paperfeed reindex` then syncs it."""
        path.mkdir(parents=True, exist_ok=True)
        with locked(path / LOCK):
            wipe(path)
        return cls(path, **kwargs)

    # -- params and files ------------------------------------------------------------
    def _empty_params(self) -> VectorParams:
        return VectorParams(SCHEMA_VERSION, self.store_identity, self.model_name, self.dim, 0, 0)

    def _read_params(self) -> VectorParams:
        try:
            text = (self.path / PARAMS).read_text(encoding="utf-8")
        except FileNotFoundError:
            return self._empty_params()
        params = VectorParams.from_json(json.loads(text))
        self._check(params)
        return params

    def _check(self, params: VectorParams) -> None:
        ours = (SCHEMA_VERSION, self.store_identity, self.model_name, self.dim)
        theirs = (params.schema_version, params.store_identity, params.model_name, params.dim)
        if ours != theirs:
            raise ConfigError(
                f"The vector index at {self.path} holds {params.model_name!r} vectors (dim {params.dim}, "
                f"schema v{params.schema_version}) of store {params.store_identity}, but {self.model_name!r} "
                f"(dim {self.dim}, schema v{SCHEMA_VERSION}) of store {self.store_identity} was asked for.",
                hint="Re-embed with `paperfeed reindex`, or configure the embedder the index was built with.",
                field="embedder",
            )

    def _save_params(self, params: VectorParams) -> None:
        data = asdict(params)
        if data["hnsw"] is not None:
            data["hnsw"]["stale_rows"] = list(data["hnsw"]["stale_rows"])
        tmp = self.path / (PARAMS + ".tmp")
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(self.path / PARAMS)

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path / PARAMS)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _repair(self) -> None:
        """Cut off rows past params' count (a sync that died before committing). Only
        under the writer lock: rows a live writer is appending are not torn ones."""
        count = self._read_params().count
        truncate(self.path / VECTORS, count * self.dim * 4)
        truncate(self.path / PKS, count * 8)

    @contextmanager
    def _write_lock(self) -> Iterator[None]:
        with self._thread_lock, locked(self.path / LOCK):
            yield

    # -- reader state ----------------------------------------------------------------
    def _current(self) -> _State:
        """The snapshot for params.json as it is now (another process may have synced)."""
        state = self._state
        if state.stamp != self._stamp():
            with self._load_lock:
                if self._state.stamp != self._stamp():
                    self._state = self._load(self._state)
                state = self._state
        return state

    def _load(self, previous: _State | None) -> _State:
        for _ in range(5):  # a writer may commit while we read; retry until params held still
            stamp = self._stamp()
            try:
                state = self._open_state(stamp, previous)
            except (FileNotFoundError, ValueError):
                state = None
            if state is not None and stamp == self._stamp():
                return state
        raise ConfigError(f"The vector index files in {self.path} are incomplete or keep changing.",
                          hint="Rebuild them with `paperfeed reindex`.")

    def _open_state(self, stamp: tuple[int, int, int] | None, previous: _State | None) -> _State:
        params = self._read_params()
        count, dim = params.count, params.dim
        pks = np.fromfile(self.path / PKS, dtype=np.int64, count=count) if count else np.zeros(0, np.int64)
        if len(pks) != count:
            raise ValueError("pks shorter than params")
        vectors = np.memmap(self.path / VECTORS, dtype=np.float32, mode="r", shape=(count, dim)) if count else None
        state = _State(params, stamp, pks, PkLookup(pks), vectors)
        graph_params = params.hnsw
        if graph_params is None:
            return state
        from paperfeed.index import hnsw  # noqa: PLC0415 - faiss loads only past the threshold

        old = previous.params.hnsw if previous else None
        same = previous is not None and old is not None and old.file == graph_params.file
        graph = previous.graph if same and previous else hnsw.load_readonly(self.path / graph_params.file)
        stale = np.array(sorted(graph_params.stale_rows), dtype=np.int64)
        mask = np.ones(graph_params.built_rows, dtype=bool)
        mask[stale] = False
        exact_rows = np.concatenate([stale, np.arange(graph_params.built_rows, count)])
        selector = hnsw.bitmap_selector(mask) if len(stale) else None
        return replace(state, graph=graph, stale=stale, exact_rows=exact_rows, graph_mask=mask,
                       graph_members=graph_params.built_rows - len(stale), graph_selector=selector)

    # -- writing ---------------------------------------------------------------------
    def sync(self, store: Store, embedder: Embedder, *, on_progress: Callable[[int], None] | None = None,
             batch_size: int = 512) -> int:
        """Embed every paper written since the last sync; returns how many."""
        self._check_embedder(embedder)
        with self._write_lock():
            self._repair()
            params = self._read_params()
            target = store.max_rev()
            if target <= params.indexed_rev:
                return 0
            writer = RowWriter(self.path, self.dim, self._current().pks)
            done, newest, building = 0, target, None
            try:
                for changes in store.iter_text_changes(after_rev=params.indexed_rev, batch_size=batch_size):
                    texts = [paper_text(change) for change in changes]
                    writer.put(np.array([c.pk for c in changes], dtype=np.int64), _embed(embedder, texts, self.dim))
                    building = self._feed_graph(building, params.hnsw, writer.count)
                    newest = max(newest, changes[-1].rev)
                    done += len(changes)
                    if on_progress:
                        on_progress(done)
            except BaseException:
                if building is not None:
                    building.abandon()
                raise
            finally:
                writer.close()
            replaced = np.array(writer.replaced, dtype=np.int64)
            if building is not None:
                graph = self._finish_graph(building, params.hnsw, writer.count, replaced)
            else:
                graph = self._maintain_graph(params.hnsw, writer.count, replaced)
            self._save_params(replace(params, count=writer.count, indexed_rev=newest, hnsw=graph))
            remove_graphs(self.path, keep=graph.file if graph else None)
        self._current()
        return done

    def rebuild(self, store: Store, embedder: Embedder, *, on_progress: Callable[[int], None] | None = None) -> int:
        """Drop everything and embed the whole store again (same model; see `reset`)."""
        self._check_embedder(embedder)
        with self._write_lock():
            wipe(self.path)
        return self.sync(store, embedder, on_progress=on_progress)

    def _check_embedder(self, embedder: Embedder) -> None:
        if embedder.name != self.model_name or int(embedder.dim) != self.dim:
            raise ConfigError(
                f"The vector index at {self.path} is for {self.model_name!r} (dim {self.dim}), "
                f"but the embedder is {embedder.name!r} (dim {embedder.dim}).",
                hint="Re-embed with `paperfeed reindex`, or configure the embedder the index was built with.",
                field="embedder",
            )

    def _feed_graph(self, building: hnsw.BackgroundBuild | None, old: GraphParams | None,
                    count: int) -> hnsw.BackgroundBuild | None:
        """Once this sync's appends alone make the graph due (the threshold, or `graph_batch`
        new rows), start building it beside the embedding; then keep it fed."""
        if building is None:
            start = 0 if old is None else old.built_rows
            if count - start < (self.hnsw_threshold if old is None else self.graph_batch):
                return None
            building = self._start_graph(old)
        building.written(count)
        return building

    def _maintain_graph(self, old: GraphParams | None, count: int, replaced: np.ndarray) -> GraphParams | None:
        """After a sync that started no graph work: build the graph if the count crossed the
        threshold; fold tail and stale rows in once they reach `graph_batch`; else remember
        the stale rows."""
        if old is None:
            if count < self.hnsw_threshold:
                return None
            return self._finish_graph(self._start_graph(None), None, count, replaced)
        stale = np.union1d(np.array(old.stale_rows, dtype=np.int64), replaced[replaced < old.built_rows])
        if (count - old.built_rows) + len(stale) < self.graph_batch:
            return replace(old, stale_rows=tuple(int(row) for row in stale))
        return self._finish_graph(self._start_graph(old), old, count, replaced)

    def _start_graph(self, old: GraphParams | None) -> hnsw.BackgroundBuild:
        """A new graph, or the current one to extend, taking rows from its end onwards."""
        from paperfeed.index import hnsw  # noqa: PLC0415

        index = hnsw.new_graph(self.dim, self.m, self.ef_construction) if old is None else \
            hnsw.load_writable(self.path / old.file)
        return hnsw.BackgroundBuild(index, lambda a, b: read_chunks(self.path / VECTORS, self.dim, a, b),
                                    0 if old is None else old.built_rows, step=self.graph_batch)

    def _finish_graph(self, building: hnsw.BackgroundBuild, old: GraphParams | None, count: int,
                      replaced: np.ndarray) -> GraphParams:
        """Every row below `count` in the graph, each row whose vector changed after the graph
        took it (in this sync or an earlier one) patched to the final one, written."""
        from paperfeed.index import hnsw  # noqa: PLC0415

        index = building.finish(count)
        stale = np.union1d(np.array(old.stale_rows if old else (), dtype=np.int64), replaced)
        hnsw.patch_rows(index, self.dim, stale, read_rows(self.path / VECTORS, self.dim, stale))
        if old is None:
            return GraphParams(hnsw.write(index, self.path), count, self.m, self.ef_construction,
                               self.ef_search or EF_SEARCH)
        return replace(old, file=hnsw.write(index, self.path), built_rows=count, stale_rows=())

    # -- reading ---------------------------------------------------------------------
    def count(self) -> int:
        return self._current().params.count

    def search(self, query: np.ndarray, *, limit: int, allowed_pks: Sequence[int] | np.ndarray | None = None,
               ef_search: int | None = None) -> list[Hit]:
        """(pk, cosine) best first, at most `limit`; only `allowed_pks` if given.

        Filters: in exact mode a row subset. In graph mode a bitmap selector: a filter
        leaving at most `scan_max_rows` graph rows is scanned exactly over the fp16 codes
        (a walk must cross ~1/f non-members per member: at 0.5% recall@10 was 0.54 even
        at ef 256); a looser one walks the graph skipping non-members with a beam widened
        by 1/sqrt(f). Costliest at 1M: filters allowing 2-5% of papers (~10 ms). For
        filters matching most papers, over-fetching unfiltered hits is cheaper for the
        caller than building a huge `allowed_pks`.
        """
        state = self._current()
        q = np.ascontiguousarray(query, dtype=np.float32).reshape(-1)
        if q.shape != (self.dim,):
            raise ValueError(f"query has shape {np.shape(query)}, expected ({self.dim},)")
        if limit <= 0 or state.vectors is None or not np.any(q):
            return []  # a query with no known token carries no signal: every score would be 0
        allowed = None if allowed_pks is None else allowed_rows(state.lookup, allowed_pks)
        if state.graph is None:
            scores, rows = exact_top(state.vectors, q, limit, allowed)
        else:
            scores, rows = self._graph_top(state, q, limit, allowed, ef_search)
        return [(int(state.pks[row]), float(score)) for score, row in zip(scores, rows)]

    def _graph_top(self, state: _State, q: np.ndarray, limit: int, allowed: np.ndarray | None,
                   ef_search: int | None) -> tuple[np.ndarray, np.ndarray]:
        from paperfeed.index import hnsw  # noqa: PLC0415

        graph_params, vectors, selector = state.params.hnsw, state.vectors, state.graph_selector
        assert graph_params is not None and vectors is not None and state.exact_rows is not None
        assert state.graph_mask is not None and state.stale is not None
        members, scan = state.graph_members, False
        if allowed is None:  # the tail is contiguous: score it in place, gather only stale rows
            built = graph_params.built_rows
            found = [top(vectors[built:] @ q, np.arange(built, len(vectors)), limit),
                     exact_top(vectors, q, limit, state.stale)]
        else:
            found = [exact_top(vectors, q, limit, rows_among(state.exact_rows, allowed))]
            mask = np.zeros_like(state.graph_mask)
            mask[allowed[allowed < len(mask)]] = True
            mask &= state.graph_mask
            members = int(mask.sum())
            scan = members <= self.scan_max_rows
            selector = hnsw.bitmap_selector(mask) if members else None
        if members:
            sel = selector[0] if selector else None
            ef = ef_search or self.ef_search or graph_params.ef_search
            if scan:
                found.append(hnsw.scan_search(state.graph, q, limit, sel))
            else:  # members are a fraction f of the walk: widen the beam ~1/sqrt(f) to keep recall
                ef = min(EF_FILTERED_MAX, int(ef * (len(state.graph_mask) / members) ** 0.5))
                found.append(hnsw.graph_search(state.graph, q, limit, ef_search=ef, selector=sel))
        return top(np.concatenate([s for s, _ in found]), np.concatenate([r for _, r in found]), limit)

    def vector_for(self, pk: int) -> np.ndarray | None:
        """The stored (exact, float32) vector of paper `pk`, or None if it has none."""
        state = self._current()
        row = int(state.lookup.rows_of(np.array([pk]))[0])
        if row < 0:
            return None
        return read_rows(self.path / VECTORS, self.dim, np.array([row]))[0]

    def vectors_for(self, pks: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """Stored vectors of many papers in one pass (the map page): (the pks that have a
        vector, in the order asked, and their vectors)."""
        state = self._current()
        wanted = np.asarray(pks, dtype=np.int64).reshape(-1)
        rows = state.lookup.rows_of(wanted)
        have = rows >= 0
        return wanted[have], read_rows(self.path / VECTORS, self.dim, rows[have])

    def scores_for(self, query: np.ndarray, pks: Sequence[int]) -> dict[int, float]:
        """Exact cosine between `query` and each of these papers that has a vector."""
        state = self._current()
        if not len(pks) or state.vectors is None:
            return {}
        wanted = np.asarray(pks, dtype=np.int64)
        rows = state.lookup.rows_of(wanted)
        known = rows >= 0
        vectors = read_rows(self.path / VECTORS, self.dim, rows[known])
        scores = vectors @ np.ascontiguousarray(query, dtype=np.float32).reshape(-1)
        return {int(pk): float(score) for pk, score in zip(wanted[known], scores)}

    def neighbours(self, pk: int, *, limit: int, exclude_pks: Iterable[int] = ()) -> list[Hit]:
        """Papers nearest to paper `pk` ("related papers"), never `pk` itself."""
        vector = self.vector_for(pk)
        if vector is None or not np.any(vector):
            return []  # unknown, or a text with no known token: nothing is "near" it
        skip = {int(pk), *map(int, exclude_pks)}
        hits = self.search(vector, limit=limit + len(skip))
        return [hit for hit in hits if hit[0] not in skip][:limit]


# -- helpers -------------------------------------------------------------------------
def _embed(embedder: Embedder, texts: list[str], dim: int) -> np.ndarray:
    vectors = np.ascontiguousarray(embedder.encode(texts), dtype=np.float32)
    if vectors.shape != (len(texts), dim):
        raise ValueError(f"embedder {embedder.name!r} returned shape {vectors.shape}, expected ({len(texts)}, {dim})")
    return vectors
