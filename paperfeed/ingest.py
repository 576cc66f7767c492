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
from paperfeed.sources.lines import clean_text
from paperfeed.store import Store, write_rows
from paperfeed.store.rows import PaperRow, paper_to_row, row_to_paper, to_iso

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


# Papers per transaction (one store `rev` each). 5,000 rather than 2,000 amortises each
# batch's dedup lookups and commit: 137 -> 119 us of main-process CPU per record in
# `bench ingest` (docs/benchmarks.md); a kill still loses at most one uncommitted batch.
DEFAULT_BATCH_SIZE = 5000

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
    paper.title = clean_text(paper.title)
    paper.abstract = clean_text(paper.abstract)
    paper.authors = [" ".join(name.split()) for name in paper.authors if name.strip()]
    paper.categories = list(dict.fromkeys(paper.categories))  # so merging a record with itself is a no-op
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
    """Dedup lookups over the stored matches and the rows written so far in this batch.

    Holds rows, not papers: a record with no match (most of a bulk load) is written as the
    row it arrived as; a Paper is rebuilt only when a merge needs one.
    """

    def __init__(self, stored: Iterable[StoredPaper]) -> None:
        self.papers: dict[str, Paper] = {}  # built on demand
        self.rows: dict[str, PaperRow] = {}  # this batch's rows (no Paper built yet)
        self.hashes: dict[str, str] = {}  # content hash of every paper held
        self.idents: dict[str, _Ident] = {}
        self.keys: dict[tuple[str, str], str] = {}
        for item in stored:
            paper = item.paper
            self.papers[paper.id] = paper
            keys = _keys(paper.arxiv_id, paper.doi, title_key(paper) if paper.title else None)
            self._remember(paper.id, item.content_hash, _ident_of_paper(paper), keys)

    def _remember(self, paper_id: str, digest: str, ident: _Ident, keys: list[tuple[str, str]]) -> None:
        self.hashes[paper_id] = digest
        self.idents[paper_id] = ident
        for key in keys:
            self.keys.setdefault(key, paper_id)

    def put(self, row: PaperRow) -> None:
        paper_id = row["id"]
        self.rows[paper_id] = row
        self.papers.pop(paper_id, None)
        self._remember(paper_id, row["content_hash"], _ident_of_row(row), _row_keys(row))

    def paper(self, paper_id: str) -> Paper:
        paper = self.papers.get(paper_id)
        if paper is None:
            paper = self.papers[paper_id] = row_to_paper(self.rows[paper_id])
        return paper

    def find(self, row: PaperRow) -> str | None:
        """The id of the paper this row is a record of, or None for a new paper."""
        if row["id"] in self.hashes:
            return row["id"]  # type: ignore[no-any-return]
        ident = _ident_of_row(row)
        for key in _row_keys(row):
            owner = self.keys.get(key)
            if owner is not None and _may_be_same(self.idents[owner], ident):
                return owner
        return None

    def foreign_doi(self, doi: str | None, paper_id: str) -> bool:
        """True when another paper already owns this DOI."""
        owner = self.keys.get(("doi", doi)) if doi else None
        return owner is not None and owner != paper_id


# What says two records are different papers: (arxiv_id, doi, source, source_id).
_Ident = tuple[str | None, str | None, str, str]


def _ident_of_paper(paper: Paper) -> _Ident:
    return (paper.arxiv_id, paper.doi, paper.source, paper.source_id)


def _ident_of_row(row: PaperRow) -> _Ident:
    return (row["arxiv_id"], row["doi"], row["source"], row["source_id"])


def _may_be_same(a: _Ident, b: _Ident) -> bool:
    """False when the records carry identifiers that say they are different papers
    (two arXiv ids, two DOIs, or two ids from one source), whatever their titles."""
    a_arxiv, a_doi, a_source, a_source_id = a
    b_arxiv, b_doi, b_source, b_source_id = b
    if a_arxiv and a_arxiv == b_arxiv:
        return True
    if a_arxiv and b_arxiv:
        return False
    if a_doi and b_doi:
        return a_doi == b_doi
    if a_source == b_source and a_source_id and b_source_id:
        return a_source_id == b_source_id
    return True


def _keys(arxiv_id: str | None, doi: str | None, key_of_title: str | None) -> list[tuple[str, str]]:
    keys = []
    if arxiv_id:
        keys.append(("arxiv", arxiv_id))
    if doi:
        keys.append(("doi", doi))
    if key_of_title:
        keys.append(("title", key_of_title))
    return keys


def _row_keys(row: PaperRow) -> list[tuple[str, str]]:
    return _keys(row["arxiv_id"], row["doi"], row["title_key"] if row["title"] else None)


def _without_doi(row: PaperRow, stamp: str) -> PaperRow:
    """A DOI already owned by a different paper is metadata noise: keep the paper, drop the DOI."""
    paper = row_to_paper(row)
    paper.doi = None
    return paper_to_row(paper, ingested_at=stamp)


def ingest_batch(store: Store, papers: Sequence[Paper], report: IngestReport, *, now: datetime) -> None:
    """Dedup and write one batch of prepared papers in one transaction."""
    stamp = to_iso(now)
    ingest_rows(store, [paper_to_row(paper, ingested_at=stamp) for paper in papers], report, now=now)


def ingest_rows(store: Store, rows: Sequence[PaperRow], report: IngestReport, *, now: datetime) -> None:
    """Dedup and write one batch of prepared rows in one transaction, counting an outcome
    per record: added, updated (a merge changed the stored paper) or unchanged."""
    stamp = to_iso(now) or ""
    index = _BatchIndex(
        store.find_matches(
            arxiv_ids=[row["arxiv_id"] for row in rows if row["arxiv_id"]],
            dois=[row["doi"] for row in rows if row["doi"]],
            title_keys=[row["title_key"] for row in rows if row["title"]],
        )
    )
    changed: dict[str, PaperRow] = {}
    outcomes: dict[str, list[str]] = {}
    for row in rows:
        target = index.find(row)
        if target is None:
            if index.foreign_doi(row["doi"], row["id"]):
                row = _without_doi(row, stamp)
            outcome, written = "added", row
        elif row["content_hash"] == index.hashes[target]:
            outcome, written = "unchanged", None  # the same content again: merging changes nothing
        else:
            merged = merge(index.paper(target), row_to_paper(row))
            if index.foreign_doi(merged.doi, merged.id):
                merged.doi = None
            written = paper_to_row(merged, ingested_at=stamp)
            outcome = "unchanged" if written["content_hash"] == index.hashes[target] else "updated"
            if outcome == "unchanged":
                written = None
        if written is not None:
            index.put(written)
            changed[written["id"]] = written
        outcomes.setdefault(target or row["id"], []).append(outcome)
    refused = dict(write_rows(store, list(changed.values())))
    _count(report, outcomes, refused)


def _count(report: IngestReport, outcomes: dict[str, list[str]], refused: dict[str, str]) -> None:
    for paper_id, results in outcomes.items():
        if paper_id in refused:
            for _ in results:
                report.reject(Rejected(where=f"paper {paper_id}", reason=refused[paper_id]))
            continue
        for outcome in results:
            setattr(report, outcome, getattr(report, outcome) + 1)
            if outcome == "added":
                report.added_ids.append(paper_id)


def prepare_row(paper: Paper, *, now: datetime, stamp: str) -> PaperRow:
    """A source paper normalised (see `prepare`) and turned into the row the store writes."""
    return paper_to_row(prepare(paper, fetched_at=now), ingested_at=stamp)


def _row_batches(
    items: Iterable[SourceItem | PaperRow], size: int, report: IngestReport, now: datetime
) -> Iterator[list[PaperRow]]:
    """Batches of rows; papers are prepared on the way, rejections counted."""
    stamp = to_iso(now) or ""
    batch: list[PaperRow] = []
    for item in items:
        if isinstance(item, Rejected):
            report.reject(item)
            continue
        batch.append(prepare_row(item, now=now, stamp=stamp) if isinstance(item, Paper) else item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def run_ingest(
    store: Store,
    items: Iterable[SourceItem | PaperRow],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    on_progress: Callable[[int], None] | None = None,
) -> IngestReport:
    """Load source items (papers, rejections, or rows from `prepare_row`) into the store;
    returns per-record outcomes."""
    report = IngestReport()
    now = clock()
    for batch in _row_batches(items, batch_size, report, now):
        ingest_rows(store, batch, report, now=now)
        if on_progress is not None:
            on_progress(report.records)
    return report
