"""Trending math: heat orders papers exactly as the decayed score does, at any moment."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta, timezone

import pytest

from paperfeed.trending import TrendingParams, add_vote, heat, score_at

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
PARAMS = TrendingParams(half_life_hours=24.0, prior_votes=1.0)


def direct_score(votes: list[datetime], published: datetime, now: datetime) -> float:
    """The formula as docs/ranking.md writes it, summed term by term."""
    hours = lambda moment: (now - moment).total_seconds() / 3600.0  # noqa: E731
    return sum(0.5 ** (hours(v) / 24.0) for v in votes) + 0.5 ** (hours(published) / 24.0)


def random_paper(rng: random.Random) -> tuple[datetime, list[datetime]]:
    published = NOW - timedelta(hours=rng.uniform(0, 24 * 30))
    votes = [published + timedelta(hours=rng.uniform(0, (NOW - published).total_seconds() / 3600)) for _ in range(rng.randint(0, 30))]
    return published, votes


def test_score_at_matches_the_direct_formula() -> None:
    rng = random.Random(7)
    for _ in range(50):
        published, votes = random_paper(rng)
        assert score_at(heat(votes, published, PARAMS), NOW, PARAMS) == pytest.approx(direct_score(votes, published, NOW), rel=1e-9)


def test_order_by_heat_is_the_order_by_score_at_any_later_moment() -> None:
    rng = random.Random(11)
    papers = [random_paper(rng) for _ in range(40)]
    by_heat = sorted(range(40), key=lambda i: -heat(papers[i][1], papers[i][0], PARAMS))
    for later in (NOW, NOW + timedelta(days=3), NOW + timedelta(days=400)):
        by_score = sorted(range(40), key=lambda i: -direct_score(papers[i][1], papers[i][0], later))
        assert by_heat == by_score


def test_a_fresh_paper_with_few_votes_overtakes_an_old_one_with_many() -> None:
    old_votes = [NOW - timedelta(days=5)] * 20
    old = heat(old_votes, NOW - timedelta(days=6), PARAMS)
    fresh = heat([NOW - timedelta(hours=1)] * 2, NOW - timedelta(hours=2), PARAMS)
    assert fresh > old


def test_add_vote_equals_recomputing() -> None:
    published = NOW - timedelta(days=2)
    votes = [NOW - timedelta(hours=h) for h in (40, 30, 3)]
    running = heat([], published, PARAMS)
    for vote in votes:
        running = add_vote(running, vote, PARAMS)
    assert running == pytest.approx(heat(votes, published, PARAMS), rel=1e-12)


def test_heat_survives_years_of_decay_without_overflow() -> None:
    far = NOW + timedelta(days=3000)
    value = heat([far] * 5, far, PARAMS)
    assert math.isfinite(value)
    assert score_at(value, far, PARAMS) == pytest.approx(6.0)


def test_undated_paper_without_votes_scores_zero() -> None:
    assert heat([], None, PARAMS) == -math.inf
    assert score_at(-math.inf, NOW, PARAMS) == 0.0


@pytest.mark.parametrize("bad", [{"half_life_hours": 0}, {"prior_votes": -1}])
def test_bad_parameters_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        TrendingParams(**bad)
