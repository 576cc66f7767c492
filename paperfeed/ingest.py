"""Ingest: source items -> normalised, de-duplicated papers -> the store.

`run_ingest` is idempotent: re-running the same input adds nothing and changes nothing.
Work is committed in batches, each in one transaction, so a crash or a kill leaves the
store with whole papers only, and a re-run completes the load.

Dedup keys, strongest first: arXiv id (versions folded together), DOI, normalised title
plus first-author surname. Merging keeps the newest version's fields, fills gaps from the
other record, and unions links, versions and categories, so applying a record again to
the merged paper changes nothing (that is what makes re-runs idempotent).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Iterable, Iterator, Sequence

from paperfeed.identity import derive_id, normalise_doi, title_key
from paperfeed.links import classify, extract_links, normalise_url
from paperfeed.models import Link, Paper, Rejected, SourceItem, StoredPaper
from paperfeed.store import Store
from paperfeed.store.rows import content_hash

MAX_REJECTIONS_KEPT = 1000
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass
class IngestReport:
    """What one ingest run did, per input record."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected_count: int = 0
    rejected: list[Rejected] = field(default_factory=list)  # the first MAX_REJECTIONS_KEPT
    added_ids: list[str] = field(default_factory=list)

    @property
    def records(self) -> int:
        return self.added + self.updated + self.unchanged + self.rejected_count

    def reject(self, rejection: Rejected) -> None:
        self.rejected_count += 1
        if len(self.rejected) < MAX_REJECTIONS_KEPT:
            self.rejected.append(rejection)

    def summary(self) -> str:
        return (
            f"{self.records} records: {self.added} added, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.rejected_count} rejected"
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "records": self.records,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected_count,
            "rejections": [
                {"where": r.where, "field": r.field, "reason": r.reason} for r in self.rejected
            ],
        }


def _merge_links(*groups: Sequence[Link]) -> list[Link]:
    seen: set[str] = set()
    merged: list[Link] = []
    for group in groups:
        for link in group:
            key = link.url.lower().rstrip("/")
            if key not in seen:
                seen.add(key)
                merged.append(link)
    return merged


def prepare(paper: Paper, *, fetched_at: datetime) -> Paper:
    """Normalise one source paper in place and return it: trimmed text, DOI form,
    classified links (plus those found in the abstract and comments), an id."""
    given = [
        Link(classify(normalise_url(link.url)) if link.kind == "other" else link.kind, link.url)
        for link in paper.links
    ]
    found = extract_links(paper.abstract, paper.comments)
    # Sources hand over fresh objects, so normalise in place: dataclasses.replace costs
    # more than everything else here put together.
    paper.title = " ".join(paper.title.split())
    paper.abstract = " ".join(paper.abstract.split())
    paper.authors = [" ".join(name.split()) for name in paper.authors if name.strip()]
    paper.doi = normalise_doi(paper.doi)
    paper.links = _merge_links(given, found)
    paper.fetched_at = paper.fetched_at or fetched_at
    paper.id = derive_id(paper)
    return paper


def _recency(paper: Paper) -> tuple[int, datetime]:
    return (paper.arxiv_version or 0, paper.updated or paper.published or _EPOCH)


def merge(existing: Paper, incoming: Paper) -> Paper:
    """One paper from two records of it. The newer record's non-empty fields win; the
    older fills gaps; links, versions and categories are unioned. Keeps existing's id."""
    newer, older = (incoming, existing) if _recency(incoming) > _recency(existing) else (existing, incoming)
    versions = {v.version: v for v in older.versions}
    versions.update({v.version: v for v in newer.versions if v.created or v.version not in versions})
    return dataclasses.replace(
        newer,
        id=existing.id,
        title=newer.title or older.title,
        abstract=newer.abstract or older.abstract,
        authors=newer.authors or older.authors,
        categories=list(dict.fromkeys(newer.categories + older.categories)),
        arxiv_id=newer.arxiv_id or older.arxiv_id,
        arxiv_version=max(newer.arxiv_version or 0, older.arxiv_version or 0) or None,
        versions=[versions[key] for key in sorted(versions)],
        doi=newer.doi or older.doi,
        published=min((d for d in (newer.published, older.published) if d), default=None),
        updated=newer.updated or older.updated,
        links=_merge_links(existing.links, incoming.links),
        comments=newer.comments or older.comments,
        journal_ref=newer.journal_ref or older.journal_ref,
        source=existing.source,
        source_id=existing.source_id,
        fetched_at=existing.fetched_at or incoming.fetched_at,
        extra={**existing.extra, **incoming.extra},
    )


class _BatchIndex:
    """Dedup lookups over the stored matches and the papers merged so far in this batch."""

    def __init__(self, stored: Iterable[StoredPaper]) -> None:
        self.papers: dict[str, Paper] = {}
        self.hashes: dict[str, str | None] = {}  # content hash of each paper; None = not yet computed
        self.keys: dict[tuple[str, str], str] = {}
        for item in stored:
            self.put(item.paper, item.content_hash)

    def hash_of(self, paper: Paper) -> str:
        digest = self.hashes.get(paper.id)
        if digest is None:
            digest = self.hashes[paper.id] = content_hash(paper)
        return digest

    def put(self, paper: Paper, digest: str | None) -> None:
        self.papers[paper.id] = paper
        self.hashes[paper.id] = digest
        for key in _dedup_keys(paper):
            self.keys.setdefault(key, paper.id)

    def find(self, paper: Paper) -> Paper | None:
        if paper.id in self.papers:
            return self.papers[paper.id]
        for key in _dedup_keys(paper):
            candidate = self.papers.get(self.keys.get(key, ""))
            if candidate is not None and _may_be_same(candidate, paper):
                return candidate
        return None


def _may_be_same(a: Paper, b: Paper) -> bool:
    """False when the records carry identifiers that say they are different papers
    (two arXiv ids, two DOIs, or two ids from one source), whatever their titles."""
    if a.arxiv_id and a.arxiv_id == b.arxiv_id:
        return True
    if a.arxiv_id and b.arxiv_id:
        return False
    if a.doi and b.doi:
        return a.doi == b.doi
    if a.source == b.source and a.source_id and b.source_id:
        return a.source_id == b.source_id
    return True


def _dedup_keys(paper: Paper) -> list[tuple[str, str]]:
    keys = []
    if paper.arxiv_id:
        keys.append(("arxiv", paper.arxiv_id))
    if paper.doi:
        keys.append(("doi", paper.doi))
    if paper.title:
        keys.append(("title", title_key(paper)))
    return keys


def _drop_foreign_doi(paper: Paper, index: _BatchIndex) -> Paper:
    """A DOI already owned by a different paper is metadata noise; keep the paper, drop the DOI."""
    owner = index.keys.get(("doi", paper.doi)) if paper.doi else None
    if owner is not None and owner != paper.id:
        return dataclasses.replace(paper, doi=None)
    return paper


def ingest_batch(store: Store, papers: Sequence[Paper], report: IngestReport, *, now: datetime) -> None:
    """Dedup and write one batch in one transaction, counting an outcome per record."""
    index = _BatchIndex(
        store.find_matches(
            arxiv_ids=[p.arxiv_id for p in papers if p.arxiv_id],
            dois=[p.doi for p in papers if p.doi],
            title_keys=[title_key(p) for p in papers if p.title],
        )
    )
    changed: dict[str, Paper] = {}
    outcomes: dict[str, list[str]] = {}
    for paper in papers:
        target = index.find(paper)
        merged = merge(target, paper) if target else paper
        merged = _drop_foreign_doi(merged, index)
        digest = None  # hashing is skipped for new papers: most of a bulk load
        if target is None:
            outcome = "added"
        else:
            digest = content_hash(merged)
            outcome = "unchanged" if digest == index.hash_of(target) else "updated"
        if outcome != "unchanged":
            index.put(merged, digest)
            changed[merged.id] = merged
        outcomes.setdefault(merged.id, []).append(outcome)
    refused = dict(store.write_papers(list(changed.values()), ingested_at=now))
    for paper_id, results in outcomes.items():
        if paper_id in refused:
            for _ in results:
                report.reject(Rejected(where=f"paper {paper_id}", reason=refused[paper_id]))
            continue
        for outcome in results:
            setattr(report, outcome, getattr(report, outcome) + 1)
            if outcome == "added":
                report.added_ids.append(paper_id)


def _batches(
    items: Iterable[SourceItem], size: int, report: IngestReport, now: datetime
) -> Iterator[list[Paper]]:
    batch: list[Paper] = []
    for item in items:
        if isinstance(item, Rejected):
            report.reject(item)
            continue
        batch.append(prepare(item, fetched_at=now))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def run_ingest(
    store: Store,
    items: Iterable[SourceItem],
    *,
    batch_size: int = 2000,
    clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    on_progress: Callable[[int], None] | None = None,
) -> IngestReport:
    """Load source items into the store; returns per-record outcomes."""
    report = IngestReport()
    now = clock()
    for batch in _batches(items, batch_size, report, now):
        ingest_batch(store, batch, report, now=now)
        if on_progress is not None:
            on_progress(report.records)
    return report
