"""`paperfeed db copy`: SQLite -> PostgreSQL and back, verified, resumable."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from click.testing import CliRunner

from paperfeed.cli import main
from paperfeed.models import PaperFilter
from paperfeed.startup import load_demo_corpus
from paperfeed.store import open_store
from paperfeed.store.copy import copy_store, table_checksum

from tests.conftest import make_paper

NOW = datetime(2026, 11, 3, tzinfo=timezone.utc)


def _demo_sqlite(path: Path) -> str:
    url = f"sqlite:///{path}"
    store = open_store(url)
    store.migrate()
    report = load_demo_corpus(store)
    assert report.added == 123
    # the demo papers carry no arXiv categories: add two papers that do
    store.write_papers([make_paper("Extra one", id="x1", categories=["cs.CL", "cs.LG"]),
                        make_paper("Extra two", id="x2", categories=["cs.IR"])], ingested_at=NOW)
    store.set_state("cursor:arxiv:cs.CL", "2026-11-01")
    store.close()
    return url


def test_demo_corpus_round_trips_sqlite_postgres_sqlite(pg_url: str, tmp_path: Path) -> None:
    source = _demo_sqlite(tmp_path / "a.sqlite3")
    back = f"sqlite:///{tmp_path / 'b.sqlite3'}"
    there = CliRunner().invoke(main, ["db", "copy", source, pg_url, "--json"], catch_exceptions=False)
    assert there.exit_code == 0, there.output
    report = json.loads(there.output)
    assert report["verified"] and report["copied_papers"] == 125
    assert report["tables"]["papers"]["destination_rows"] == 125
    assert report["tables"]["paper_categories"]["source_rows"] == 3
    returned = CliRunner().invoke(main, ["db", "copy", pg_url, back, "--json"], catch_exceptions=False)
    assert returned.exit_code == 0 and json.loads(returned.output)["verified"]
    a, b = open_store(source), open_store(back)
    try:
        for table in ("papers", "paper_categories"):
            assert table_checksum(a, table) == table_checksum(b, table)
        assert b.get_state("cursor:arxiv:cs.CL") == "2026-11-01"  # deployment state travels
        assert a.identity() != b.identity()  # each store keeps its own identity
        assert b.get_paper("x1") == a.get_paper("x1")
        assert [p.id for p in b.list_papers(filters=PaperFilter(category="cs.LG"), limit=5)[0]] == ["x1"]
    finally:
        a.close()
        b.close()


def test_an_interrupted_copy_resumes_where_it_stopped(pg_url: str, tmp_path: Path) -> None:
    source_url = _demo_sqlite(tmp_path / "a.sqlite3")
    source, destination = open_store(source_url), open_store(pg_url)
    destination.migrate()
    try:
        calls = []

        def stop_after_two_batches(done: int) -> None:
            calls.append(done)
            if len(calls) == 2:
                raise KeyboardInterrupt  # as a Ctrl-C between batches

        try:
            copy_store(source, destination, batch_size=50, on_progress=stop_after_two_batches)
        except KeyboardInterrupt:
            pass
        assert destination.count_papers() == 100
        report = copy_store(source, destination, batch_size=50)
        assert report.resumed_after_pk > 0 and report.copied_papers == 25 and report.verified
        assert destination.count_papers() == 125
    finally:
        source.close()
        destination.close()


def test_copy_into_a_database_holding_other_papers_is_refused(pg_url: str, tmp_path: Path) -> None:
    first = _demo_sqlite(tmp_path / "a.sqlite3")
    other = _demo_sqlite(tmp_path / "other.sqlite3")
    assert CliRunner().invoke(main, ["db", "copy", first, pg_url]).exit_code == 0
    refused = CliRunner().invoke(main, ["db", "copy", other, pg_url])
    assert refused.exit_code == 1
    assert refused.output.startswith("error: The destination already holds papers that were not copied")
