"""Composing digests (docs/email.md, "Composing digests").

A run takes the subscribers who are due in batches and, per batch, a fixed number of
queries whatever its size: the candidate papers (written after the batch's oldest
`delivered_rev`), their saved searches and follows, and the papers already sent to them.
Each distinct saved search runs once per run (cached by its canonical key), not once per
subscriber. Per subscriber, in memory: papers new to them (rev > their delivered_rev), never
one already in an earlier digest, each shown once, in sections; an empty digest is
recorded and nothing is sent. One transaction per batch records digests, items, outbox rows
and the next due time; the (subscriber, period) key makes a repeated run a no-op.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Sequence

from paperfeed.engine import SearchEngine
from paperfeed.errors import PaperfeedError
from paperfeed.mail.message import stable_message_id, wire_bytes
from paperfeed.mail.outbox import pack
from paperfeed.mail.render import DigestSection, PaperEntry, paper_entry, render_digest
from paperfeed.models import Paper, PaperFilter
from paperfeed.search import search
from paperfeed.store import Store
from paperfeed.store.mail_tables import ComposedDigest, SavedSearch, Subscriber
from paperfeed.subscriptions import Subscriptions, next_due
from paperfeed.trending import heat

log = logging.getLogger("paperfeed.digest")
BATCH = 500
CANDIDATES = 5000  # newest papers considered per batch; more new papers than this in one period are not all shown
SEARCH_LIMIT = 200  # hits kept per saved search, intersected with each subscriber's new papers
PER_SECTION = 10
PER_MAIL = 30


def trending_order(store: Store, papers: Sequence[Paper]) -> list[Paper]:
    """Candidates hottest first, by the trending page's formula (docs/ranking.md): a voted
    paper's stored heat, an unvoted one's freshness prior (so unvoted papers go newest first)."""
    stored = store.community.heats([paper.id for paper in papers])

    def paper_heat(paper: Paper) -> float:
        return stored.get(paper.id, heat([], paper.published))

    return sorted(papers, key=lambda p: (paper_heat(p), p.id), reverse=True)


def period_key(subscriber: Subscriber) -> str:
    """From the due time, so a late or repeated run computes the same key."""
    due = subscriber.next_due_at
    assert due is not None
    if subscriber.frequency == "weekly":
        year, week, _ = due.isocalendar()
        return f"weekly:{year}-W{week:02d}"
    return f"daily:{due.date().isoformat()}"


@dataclass
class Plan:
    subscriber: Subscriber
    period_key: str
    sections: list[tuple[str, list[Paper]]]
    paper_pks: list[int]
    through_rev: int

    @property
    def paper_count(self) -> int:
        return sum(len(papers) for _, papers in self.sections)


@dataclass
class ComposeReport:
    due: int = 0
    queued: int = 0
    empty: int = 0
    searches_run: int = 0

    def add(self, other: "ComposeReport") -> None:
        self.due += other.due
        self.queued += other.queued
        self.empty += other.empty
        self.searches_run += other.searches_run


@dataclass
class DigestComposer:
    # None in a composing worker process (digest_run.py): it gets the run's search results
    # and opens an engine only for a saved search that was added after they were made.
    engine: SearchEngine | None
    subscriptions: Subscriptions
    clock: Callable[[], datetime]
    _search_cache: dict[str, list[str]] = field(default_factory=dict)
    # A paper is shown to many subscribers: format it once per run (one_line walks the whole
    # abstract, 73 of the 95 ms per subscriber before this cache, profiled with bench digest).
    _entries: dict[str, PaperEntry] = field(default_factory=dict)
    searches_run: int = 0

    @property
    def store(self):  # type: ignore[no-untyped-def]
        return self.subscriptions.store

    def run(self, *, batch: int = BATCH) -> ComposeReport:
        """Compose and queue every digest due now."""
        report = ComposeReport()
        now = self.clock()
        self.store.mail.prune_tokens(now=now)
        while due := self.store.mail.due_subscribers(now=now, limit=batch):
            report.add(self.record(self.compose_batch(due, now), now))
        report.searches_run = self.searches_run
        return report

    def compose_batch(self, subscribers: Sequence[Subscriber], now: datetime) -> list[ComposedDigest]:
        """A batch's digests, built (CPU only; nothing written): what a composing worker returns."""
        return [self._compose(plan, now) for plan in self.plan(subscribers)]

    def record(self, composed: Sequence[ComposedDigest], now: datetime) -> ComposeReport:
        """Queue a composed batch in one transaction."""
        queued = self.store.mail.record_digests(composed, now=now)
        return ComposeReport(due=len(composed), queued=queued, empty=sum(1 for c in composed if c.message is None))

    def search_all_due(self) -> dict[str, list[str]]:
        """Run every distinct saved search of the subscribers due now, once: the results a
        run hands to its composing processes."""
        for saved in self.store.mail.due_searches(now=self.clock()):
            self._search(saved)
        return dict(self._search_cache)

    def plan(self, subscribers: Sequence[Subscriber]) -> list[Plan]:
        """What each subscriber's digest holds, for a batch, in a fixed number of queries."""
        mail = self.store.mail
        through_rev = self.store.max_rev()
        ids = [s.id for s in subscribers]
        candidates = mail.papers_after(rev=min(s.delivered_rev for s in subscribers), limit=CANDIDATES)
        papers = {p.id: p for p in self.store.get_papers(list(candidates))}
        searches = _by_subscriber(mail.searches(ids))
        follows: dict[int, list[tuple[str, str]]] = {}
        for follow in mail.follows(ids):
            follows.setdefault(follow.subscriber_id, []).append((follow.kind, follow.value))
        sent = mail.sent_papers(ids, [pk for pk, _ in candidates.values()])
        trending = trending_order(self.store, list(papers.values()))
        plans = []
        for subscriber in subscribers:
            def is_new(paper: Paper, s: Subscriber = subscriber) -> bool:
                pk, rev = candidates[paper.id]
                return rev > s.delivered_rev and (s.id, pk) not in sent
            sections: list[tuple[str, list[Paper]]] = []
            if subscriber.trending_top_n:
                sections.append(("Trending", [p for p in trending if is_new(p)][: subscriber.trending_top_n]))
            for saved in searches.get(subscriber.id, []):
                hits = [papers[pid] for pid in self._search(saved) if pid in papers]
                sections.append((f"Saved search: {saved.label}", [p for p in hits if is_new(p)]))
            for kind, value in follows.get(subscriber.id, []):
                if kind == "author":
                    match = [p for p in trending if value.lower() in (a.lower() for a in p.authors) and is_new(p)]
                    sections.append((f"New from {value}", match))
                else:
                    sections.append((f"New in {value}", [p for p in trending if value in p.categories and is_new(p)]))
            plans.append(_finish(subscriber, sections, candidates, through_rev))
        return plans

    def preview(self, email: str) -> Plan | None:
        """The next digest for this address, composed but not recorded."""
        subscriber = self.store.mail.find_subscriber(email)
        if subscriber is None or subscriber.status not in ("active", "paused"):
            return None
        if subscriber.next_due_at is None:
            subscriber = _with_due(subscriber, self.clock())
        return self.plan([subscriber])[0]

    def _search(self, saved: SavedSearch) -> list[str]:
        if saved.query_key not in self._search_cache:
            if self.engine is None:
                self.engine = SearchEngine.open(self.subscriptions.settings, self.store)
            category = json.loads(saved.filters).get("category") or None
            try:
                results = search(self.engine, saved.query, filters=PaperFilter(category=category),
                                 limit=SEARCH_LIMIT)
                found = [paper.id for paper in results.papers]
            except PaperfeedError as exc:  # a saved query that no longer parses: no section, not a failed run
                log.warning("saved search %r skipped: %s", saved.query, exc)
                found = []
            self._search_cache[saved.query_key] = found
            self.searches_run += 1
        return self._search_cache[saved.query_key]

    def _compose(self, plan: Plan, now: datetime) -> ComposedDigest:
        subscriber = plan.subscriber
        key = plan.period_key
        sender = self.subscriptions.sender
        message_id = stable_message_id(f"digest:{subscriber.id}:{key}", sender=sender)
        following = next_due(subscriber.frequency, subscriber.weekday, after=max(now, subscriber.next_due_at or now))
        message = None
        if plan.paper_count:
            tokens = self.subscriptions.link_tokens(subscriber)
            mail = self.render(plan, tokens).to(subscriber.email, message_id=message_id,
                                                unsubscribe=self.subscriptions.unsubscribe_headers(tokens[1]))
            message = pack(wire_bytes(mail, sender=sender, now=now))
        return ComposedDigest(subscriber.id, key, plan.through_rev, following, subscriber.email, message,
                              message_id, tuple(plan.paper_pks))

    def render(self, plan: Plan, tokens: tuple[str, str] | None = None):  # type: ignore[no-untyped-def]
        """`tokens`: the subscriber's (preferences, unsubscribe) link tokens, issued if not given."""
        urls = self.subscriptions.urls
        preferences, unsubscribe = tokens or self.subscriptions.link_tokens(plan.subscriber)
        sections = [DigestSection(heading, tuple(self._entry(p) for p in papers))
                    for heading, papers in plan.sections if papers]
        return render_digest(email=plan.subscriber.email, heading=_heading(plan), sections=sections, urls=urls,
                             preferences_url=urls.preferences(preferences), unsubscribe_url=urls.unsubscribe(unsubscribe))

    def _entry(self, paper: Paper) -> PaperEntry:
        if paper.id not in self._entries:
            self._entries[paper.id] = paper_entry(paper, self.subscriptions.urls)
        return self._entries[paper.id]


def _by_subscriber(searches: Sequence[SavedSearch]) -> dict[int, list[SavedSearch]]:
    grouped: dict[int, list[SavedSearch]] = {}
    for saved in searches:
        grouped.setdefault(saved.subscriber_id, []).append(saved)
    return grouped


def _finish(subscriber: Subscriber, sections: list[tuple[str, list[Paper]]],
            candidates: dict[str, tuple[int, int]], through_rev: int) -> Plan:
    """Each paper once (first section wins), at most PER_SECTION per section and PER_MAIL in all."""
    shown: set[str] = set()
    kept: list[tuple[str, list[Paper]]] = []
    for heading, papers in sections:
        room = PER_MAIL - len(shown)
        fresh = [p for p in papers if p.id not in shown][: min(PER_SECTION, room)]
        shown.update(p.id for p in fresh)
        kept.append((heading, fresh))
    return Plan(subscriber, period_key(subscriber), kept, [candidates[pid][0] for pid in shown], through_rev)


def _heading(plan: Plan) -> str:
    due = plan.subscriber.next_due_at
    assert due is not None
    if plan.subscriber.frequency == "weekly":
        return f"Your weekly papers, week of {due.strftime('%A')} {due.day} {due.strftime('%B')}"
    return f"Your daily papers, {due.strftime('%A')} {due.day} {due.strftime('%B')}"


def _with_due(subscriber: Subscriber, now: datetime) -> Subscriber:
    from dataclasses import replace

    return replace(subscriber, next_due_at=next_due(subscriber.frequency, subscriber.weekday, after=now))
