"""The trending page's data (HTML, JSON and Atom render the same list).

Order is by heat (docs/ranking.md). Voted-on papers come from the store's heat index;
unvoted papers' heat is their freshness prior alone, which orders them newest first, so
the newest `limit` unvoted papers of the period are the only ones that can make the list.
Merging the two top-`limit` lists gives the exact top `limit`: two indexed reads, no scan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, Mapping

from paperfeed.engine import SearchEngine
from paperfeed.errors import InvalidInput
from paperfeed.models import Paper
from paperfeed.store.community import CardCounts
from paperfeed.trending import heat, score_at

SPANS = {"day": timedelta(days=1), "week": timedelta(days=7), "month": timedelta(days=30)}
LABELS = {"day": "today", "week": "this week", "month": "this month"}
MAX_TRENDING = 100


@dataclass(frozen=True)
class TrendingItem:
    paper: Paper
    votes: int
    score: float  # fresh-vote equivalents now (trending.score_at)


@dataclass(frozen=True)
class TrendingPage:
    view: str
    now: datetime
    items: list[TrendingItem]

    @property
    def label(self) -> str:
        return LABELS[self.view]

    def as_dict(self, comments: Mapping[str, int] = MappingProxyType({})) -> dict[str, Any]:
        """`comments`: paper id -> visible comments (votes come with the items)."""
        from paperfeed.web.views import paper_dict

        return {"view": self.view, "generated_at": self.now.isoformat(),
                "papers": [{**paper_dict(i.paper, counts=CardCounts(i.votes, comments.get(i.paper.id, 0))),
                            "score": round(i.score, 6)} for i in self.items]}


def check_trending(view: str, limit: int) -> None:
    if view not in SPANS:
        raise InvalidInput(f"view must be day, week or month, got {view[:20]!r}.", field="view")
    if not 1 <= limit <= MAX_TRENDING:
        raise InvalidInput(f"limit must be between 1 and {MAX_TRENDING}, got {limit}.", field="limit")


def trending_page(engine: SearchEngine, *, view: str = "day", now: datetime, limit: int = 30) -> TrendingPage:
    check_trending(view, limit)
    since = now - SPANS[view]
    community = engine.store.community
    voted = community.trending_voted(since=since, limit=limit)
    ranked: dict[str, tuple[float, int]] = {e.paper_id: (e.heat, e.votes) for e in voted}
    for paper_id, published in community.newest_listed(since=since, limit=limit + len(voted)):
        ranked.setdefault(paper_id, (heat([], published), 0))
    for paper_id, submitted_at in community.submitted_since(since, limit=limit):
        ranked.setdefault(paper_id, (heat([], submitted_at), 0))  # older papers submitted in the period
    top = sorted(ranked.items(), key=lambda item: (-item[1][0], item[0]))[:limit]
    papers = {p.id: p for p in engine.store.get_papers([pid for pid, _ in top])}
    items = [TrendingItem(papers[pid], votes, score_at(h, now)) for pid, (h, votes) in top if pid in papers]
    return TrendingPage(view, now, items)
