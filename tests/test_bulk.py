"""Bulk loads with worker processes give exactly what the one-process ingest gives."""

from __future__ import annotations

import io
import json
from pathlib import Path

from paperfeed.bench.corpus import snapshot_records
from paperfeed.bulk import run_bulk_ingest
from paperfeed.ingest import run_ingest
from paperfeed.models import PaperFilter
from paperfeed.sources.arxiv_snapshot import parse_arxiv_snapshot, parse_line
from paperfeed.sources.lines import MAX_RECORD_BYTES
from paperfeed.store import Store, open_store

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "snapshot"


def _snapshot_with_defects(records: int) -> bytes:
    """Generated records, a duplicate arXiv version, and the defects of the malformed fixture."""
    lines = [json.dumps(record) for record in snapshot_records(records)]
    newer = {**json.loads(lines[3]), "title": "A newer title", "versions": [{"version": "v9", "created": None}]}
    lines.insert(20, json.dumps(newer))
    lines.insert(10, "{not json")
    lines.insert(30, json.dumps({"id": "2401.99999", "title": ""}))
    lines.insert(40, "x" * (MAX_RECORD_BYTES + 10))
    malformed = (FIXTURES / "arxiv-metadata-malformed.jsonl").read_bytes()
    return "\n".join(lines).encode() + b"\n" + malformed


def _contents(store: Store) -> list[tuple[object, ...]]:
    papers, _ = store.list_papers(filters=PaperFilter(), limit=10_000)
    return sorted((p.id, p.title, p.doi, tuple(p.categories), tuple(p.links), tuple(p.versions)) for p in papers)


def _fresh(tmp_path: Path, name: str) -> Store:
    store = open_store(f"sqlite:///{tmp_path / name}.sqlite3")
    store.migrate()
    return store


def test_workers_give_the_one_process_result(tmp_path: Path) -> None:
    data = _snapshot_with_defects(120)
    one = _fresh(tmp_path, "one")
    expected = run_ingest(one, parse_arxiv_snapshot(io.BytesIO(data)), batch_size=25)
    many = _fresh(tmp_path, "many")
    report = run_bulk_ingest(many, io.BytesIO(data), parse_line, batch_size=25, workers=2, chunk_lines=7)
    assert report.as_dict() == expected.as_dict()
    assert (report.added, report.updated) == (expected.added, 1)  # the newer v9 merged in
    assert [r.where for r in report.rejected][:3] == ["line 11", "line 31", "line 41"]
    assert _contents(many) == _contents(one)
    assert many.max_rev() == one.max_rev() > 1  # one rev per committed batch, in order
    many.close()
    one.close()


def test_bulk_rerun_adds_nothing(tmp_path: Path) -> None:
    data = _snapshot_with_defects(60)
    store = _fresh(tmp_path, "store")
    first = run_bulk_ingest(store, io.BytesIO(data), parse_line, workers=2, chunk_lines=10)
    again = run_bulk_ingest(store, io.BytesIO(data), parse_line, workers=2, chunk_lines=10)
    assert first.added == store.count_papers() > 0
    assert (again.added, again.updated) == (0, 0)
    assert again.unchanged == first.added + first.updated + first.unchanged
    store.close()


def test_small_input_is_prepared_without_worker_processes(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import paperfeed.bulk as bulk

    def no_pool(*args: object, **kwargs: object) -> None:
        raise AssertionError("a file that fits in one chunk should not start processes")

    monkeypatch.setattr(bulk, "_in_workers", no_pool)
    store = _fresh(tmp_path, "small")
    with (FIXTURES / "arxiv-metadata-sample.jsonl").open("rb") as stream:
        report = run_bulk_ingest(store, stream, parse_line, workers=2)
    assert report.added == store.count_papers() > 0
    store.close()
