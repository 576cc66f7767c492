"""Exact top-k over rows of the vector index: dot products by numpy, for small
collections, filters and the rows the graph does not cover."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from paperfeed.index.vecfiles import PkLookup

CHUNK_ROWS = 16_384


def allowed_rows(lookup: PkLookup, allowed_pks: Sequence[int] | np.ndarray) -> np.ndarray:
    """Sorted unique rows of the known pks among `allowed_pks`. Sorted input (what SQL
    ORDER BY pk gives) skips the sort."""
    pks = np.asarray(allowed_pks, dtype=np.int64).reshape(-1)
    if len(pks) > 1 and not bool(np.all(pks[1:] > pks[:-1])):
        pks = np.unique(pks)
    rows = lookup.rows_of(pks)
    rows = rows[rows >= 0]
    return rows if lookup.ascending else np.unique(rows)


def rows_among(rows: np.ndarray, sorted_allowed: np.ndarray) -> np.ndarray:
    """The `rows` that are in `sorted_allowed` (binary search: no sort of the big set)."""
    if not len(sorted_allowed):
        return rows[:0]
    pos = np.minimum(np.searchsorted(sorted_allowed, rows), len(sorted_allowed) - 1)
    return rows[sorted_allowed[pos] == rows]


def top(scores: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best (score, row), best first; ties by lower row for stable results."""
    if len(scores) > k:
        keep = np.argpartition(-scores, k - 1)[:k]
        scores, rows = scores[keep], rows[keep]
    order = np.lexsort((rows, -scores))
    return scores[order], rows[order]


def exact_top(vectors: np.ndarray, q: np.ndarray, k: int, rows: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k by dot product. A dense row set is scored by one sequential pass
    (no copy of the memmap); a sparse one by gathering CHUNK_ROWS rows at a time."""
    if rows is None or len(rows) * 4 > len(vectors):
        scores = vectors @ q
        if rows is None:
            return top(scores, np.arange(len(vectors)), k)
        return top(scores[rows], rows, k)
    best = [top(vectors[chunk] @ q, chunk, k) for chunk in np.array_split(rows, max(1, -(-len(rows) // CHUNK_ROWS)))]
    return top(np.concatenate([s for s, _ in best]), np.concatenate([r for _, r in best]), k)


