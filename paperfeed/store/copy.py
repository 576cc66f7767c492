"""`paperfeed db copy SRC DST`: move a deployment between stores (SQLite <-> PostgreSQL).

Rows travel as stored (same encodings on both backends, pk and rev included), papers in
pk order, each batch with its categories in one transaction. So the copy is resumable:
the destination's largest pk says where to go on, and a re-run after a kill continues
there. The destination remembers which store it is a copy of (`copy_source` state) and
refuses to mix in a different one. Afterwards both stores are compared table by table:
row counts and a SHA-256 over every row in key order.

Not copied: the destination's own identity and its search-index watermarks (indexes
are rebuilt from the copied rows: keyword and vectors follow the store by rev).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from paperfeed.errors import InvalidInput
from paperfeed.store import Store
from paperfeed.store.postgres import PAPER_COLUMNS

BATCH = 5000
# State that belongs to one store and its indexes, not to the deployment.
LOCAL_STATE = ("store_identity", "keyword_rev", "lexeme_stats_papers", "copy_source")
LOCAL_STATE_PREFIXES = ("vectors_rev:",)


@dataclass
class CopyReport:
    copied_papers: int = 0
    resumed_after_pk: int = 0
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)  # table -> (source, destination)
    checksums: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def verified(self) -> bool:
        return all(a == b for a, b in self.counts.values()) and all(a == b for a, b in self.checksums.values())

    def as_dict(self) -> dict[str, Any]:
        return {"copied_papers": self.copied_papers, "resumed_after_pk": self.resumed_after_pk,
                "verified": self.verified,
                "tables": {t: {"source_rows": self.counts[t][0], "destination_rows": self.counts[t][1],
                               "source_sha256": self.checksums[t][0], "destination_sha256": self.checksums[t][1]}
                           for t in self.counts}}


def copy_store(source: Any, destination: Any, *, batch_size: int = BATCH,
               on_progress: Callable[[int], None] | None = None) -> CopyReport:
    """Copy every paper of `source` missing from `destination`, then verify both."""
    source_id = source.identity()
    claimed = destination.get_state("copy_source")
    done_pk = destination.max_pk()
    if done_pk and claimed != source_id:
        raise InvalidInput(
            "The destination already holds papers that were not copied from this source.",
            hint="Copy into an empty database (create a new one), or pass the source this copy started from.",
            field="DST_URL",
        )
    destination.set_state("copy_source", source_id)
    report = CopyReport(resumed_after_pk=done_pk)
    after = done_pk
    while rows := source.raw_papers(after_pk=after, limit=batch_size):
        destination.insert_raw(rows, source.raw_categories([row["pk"] for row in rows]))
        after = rows[-1]["pk"]
        report.copied_papers += len(rows)
        if on_progress:
            on_progress(report.copied_papers)
    for key, value in source.state_items().items():
        if key not in LOCAL_STATE and not key.startswith(LOCAL_STATE_PREFIXES):
            destination.set_state(key, value)
    for table in ("papers", "paper_categories"):
        report.counts[table] = (source.count_rows(table), destination.count_rows(table))
        report.checksums[table] = (table_checksum(source, table, batch_size), table_checksum(destination, table, batch_size))
    return report


def table_checksum(store: Store, table: str, batch_size: int = BATCH) -> str:
    """SHA-256 over every row of `table` in key order, values as text (NULL as \\N)."""
    digest = hashlib.sha256()
    for rows in _batches(store, batch_size):
        if table == "papers":
            for row in rows:
                digest.update(_line([row[c] for c in PAPER_COLUMNS]))
        else:
            for pk, category in store.raw_categories([row["pk"] for row in rows]):  # type: ignore[attr-defined]
                digest.update(_line([pk, category]))
    return digest.hexdigest()


def _batches(store: Any, batch_size: int) -> Iterator[list[dict[str, Any]]]:
    after = 0
    while rows := store.raw_papers(after_pk=after, limit=batch_size):
        yield rows
        after = rows[-1]["pk"]


def _line(values: list[Any]) -> bytes:
    return ("\x1f".join("\\N" if v is None else str(v) for v in values) + "\n").encode("utf-8")
