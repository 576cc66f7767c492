"""Trending: votes with exponential time decay plus a freshness prior.

    score(p, now) = sum over votes v of p:  2 ** (-(now - t_v) / half_life)
                  + prior * 2 ** (-(now - published_p) / half_life)

Every term shares the factor 2 ** (-now / half_life), so the *order* of papers by score
never changes as time passes; only new votes change it. That lets the store keep one
number per paper, its "heat" (the log2 of the score measured at a fixed epoch), update it
when a vote comes or goes, and answer "trending" with an indexed ORDER BY heat DESC
instead of re-scoring every vote on every page view. docs/ranking.md has the worked example.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable

EPOCH = datetime(2020, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class TrendingParams:
    half_life_hours: float = 24.0  # a vote counts half as much a day later
    prior_votes: float = 1.0  # a brand-new paper counts as if it had this many fresh votes

    def __post_init__(self) -> None:
        if self.half_life_hours <= 0:
            raise ValueError("half_life_hours must be positive")
        if self.prior_votes < 0:
            raise ValueError("prior_votes must be zero or more")


DEFAULT_PARAMS = TrendingParams()


def _half_lives_since_epoch(moment: datetime, params: TrendingParams) -> float:
    return (moment - EPOCH).total_seconds() / 3600.0 / params.half_life_hours


def _log2_add(a: float, b: float) -> float:
    """log2(2**a + 2**b) without overflow (heats grow by ~365 a year at a 1-day half-life)."""
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    high, low = max(a, b), min(a, b)
    return high + math.log2(1.0 + 2.0 ** (low - high))


def heat(
    vote_times: Iterable[datetime], published: datetime | None, params: TrendingParams = DEFAULT_PARAMS
) -> float:
    """log2 of the paper's score at the epoch; -inf for an undated paper with no votes."""
    total = -math.inf
    if published is not None and params.prior_votes > 0:
        total = math.log2(params.prior_votes) + _half_lives_since_epoch(published, params)
    for voted_at in vote_times:
        total = _log2_add(total, _half_lives_since_epoch(voted_at, params))
    return total


def add_vote(current_heat: float, voted_at: datetime, params: TrendingParams = DEFAULT_PARAMS) -> float:
    """The heat after one more vote (removing a vote recomputes with `heat`, which is exact)."""
    return _log2_add(current_heat, _half_lives_since_epoch(voted_at, params))


def score_at(paper_heat: float, now: datetime, params: TrendingParams = DEFAULT_PARAMS) -> float:
    """The score a reader sees at `now`: decayed votes-equivalent, for display."""
    if paper_heat == -math.inf:
        return 0.0
    return 2.0 ** (paper_heat - _half_lives_since_epoch(now, params))
