"""Fusing ranked lists into one: reciprocal-rank fusion and z-score fusion.

Pure functions over `SearchHit` lists and score maps: no index, no I/O, so the golden
tests can pin their order exactly.

* `rrf` (reciprocal-rank fusion): `score = Σ w_r / (k + rank_r)`. Uses ranks only, so it
  needs no calibration, but it throws away how *much* better one paper scored than the
  next: a paper BM25 ranks 1st by a mile and a paper that barely edged it out as 2nd look
  almost alike.
* `zscore_fuse` (normalised score fusion, CombSUM of z-scores): each ranker's raw scores
  over the shared candidate set are standardised (minus their mean, over their standard
  deviation), then summed with weights. BM25 scores (unbounded, query-length dependent) and
  cosines (bounded, compressed) become comparable, and score gaps survive. It needs every
  candidate's score from every ranker; `search.hybrid_hits` completes the lists (the
  exact cosine of a BM25-only paper, the exact BM25 score of a dense-only paper) before
  calling it. Measured on SciFact train and NFCorpus dev (docs/search.md) it beat the best
  tuned RRF on both with one weight, 1.0, i.e. no tuned weight at all.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

from paperfeed.models import SearchHit


def rrf(rankings: Sequence[tuple[Sequence[SearchHit], float]], *, k: int) -> list[SearchHit]:
    """Weighted reciprocal-rank fusion; ties keep the order of first appearance."""
    scores: dict[str, float] = {}
    for hits, weight in rankings:
        for hit in hits:
            scores[hit.paper_id] = scores.get(hit.paper_id, 0.0) + weight / (k + hit.rank)
    return _ranked(scores)


def standardise(scores: Mapping[str, float]) -> dict[str, float]:
    """z-scores of `scores`; a list whose scores are all equal carries no order: all 0."""
    if not scores:
        return {}
    values = list(scores.values())
    mean = sum(values) / len(values)
    spread = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    if spread == 0.0:
        return {pid: 0.0 for pid in scores}
    return {pid: (value - mean) / spread for pid, value in scores.items()}


def zscore_fuse(scored: Sequence[tuple[Mapping[str, float], float]]) -> list[SearchHit]:
    """Σ weight × z-score over every candidate of every list. A candidate missing from a
    list gets that list's lowest z-score (callers should complete lists when they can).
    Ties keep the order of first appearance."""
    candidates = list(dict.fromkeys(pid for scores, _ in scored for pid in scores))
    fused = dict.fromkeys(candidates, 0.0)
    for scores, weight in scored:
        z = standardise(scores)
        floor = min(z.values(), default=0.0)
        for pid in candidates:
            fused[pid] += weight * z.get(pid, floor)
    return _ranked(fused)


def _ranked(scores: dict[str, float]) -> list[SearchHit]:
    ordered = sorted(scores, key=lambda pid: -scores[pid])  # stable: first appearance wins ties
    return [SearchHit(pid, scores[pid], rank, "hybrid") for rank, pid in enumerate(ordered, start=1)]
