"""Fusion functions with pinned, hand-checkable expectations."""

from __future__ import annotations

import math

import pytest

from paperfeed.fusion import rrf, standardise, zscore_fuse
from paperfeed.models import SearchHit


def _hits(scores: dict[str, float]) -> list[SearchHit]:
    ordered = sorted(scores, key=lambda pid: -scores[pid])
    return [SearchHit(pid, scores[pid], rank, "x") for rank, pid in enumerate(ordered, start=1)]


def test_standardise_gives_z_scores() -> None:
    z = standardise({"x": 3.0, "y": 1.0, "z": 2.0})  # mean 2, population std sqrt(2/3)
    assert z == pytest.approx({"x": 1 / math.sqrt(2 / 3), "y": -1 / math.sqrt(2 / 3), "z": 0.0})
    assert standardise({"x": 5.0, "y": 5.0}) == {"x": 0.0, "y": 0.0}  # no spread, no order
    assert standardise({}) == {}


def test_zscore_fusion_keeps_score_gaps_that_rank_fusion_loses() -> None:
    # b is a close second for BM25 and a close second for the embedder; a wins BM25 but is
    # last by meaning, c the reverse. Ranks alone make a and c look as good as b.
    bm25 = {"a": 10.0, "b": 9.9, "c": 1.0}
    cosine = {"c": 0.60, "b": 0.59, "a": 0.20}
    assert [h.paper_id for h in rrf([(_hits(bm25), 1.0), (_hits(cosine), 1.0)], k=60)] == ["a", "c", "b"]
    fused = zscore_fuse([(bm25, 1.0), (cosine, 1.0)])
    assert [h.paper_id for h in fused] == ["b", "c", "a"]
    assert fused[0].score == pytest.approx(1.3747, abs=1e-3)
    assert [h.rank for h in fused] == [1, 2, 3] and {h.source for h in fused} == {"hybrid"}


def test_zscore_weights_and_ties() -> None:
    bm25 = {"x": 3.0, "y": 1.0, "z": 2.0}
    cosine = {"x": 0.1, "y": 0.9, "z": 0.5}  # exactly the mirror image of bm25's z-scores
    assert [h.paper_id for h in zscore_fuse([(bm25, 1.0), (cosine, 1.0)])] == ["x", "y", "z"]  # all 0: first seen
    assert [h.paper_id for h in zscore_fuse([(bm25, 1.0), (cosine, 2.0)])] == ["y", "z", "x"]
    assert [h.paper_id for h in zscore_fuse([(bm25, 2.0), (cosine, 1.0)])] == ["x", "z", "y"]


def test_a_candidate_missing_from_a_list_gets_that_lists_lowest_z() -> None:
    fused = zscore_fuse([({"x": 3.0, "y": 1.0, "z": 2.0}, 1.0), ({"x": 0.1, "y": 0.9}, 1.0)])
    assert [(h.paper_id, round(h.score, 4)) for h in fused] == [("x", 0.2247), ("y", -0.2247), ("z", -1.0)]
