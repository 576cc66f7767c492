"""The CLI as users and outside checks call it: real files, a real SQLite store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from paperfeed.bench.corpus import write_snapshot
from paperfeed.cli import main

from tests.conftest import SHARED


@pytest.fixture
def run(tmp_path: Path, store_url: str):  # type: ignore[no-untyped-def]
    """The CLI on each store (store_url: the SQLite file in data/, or a PostgreSQL database)."""
    env = {"PAPERFEED_DATA_DIR": str(tmp_path / "data"), "PAPERFEED_LOAD_DEMO": "false",
           "PAPERFEED_DATABASE_URL": store_url}

    def invoke(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(main, list(args), env=env, input=input, catch_exceptions=False)

    return invoke


def _beir_file(tmp_path: Path) -> Path:
    path = tmp_path / "corpus.jsonl"
    docs = [
        {"_id": "d1", "title": "Protein folding with deep networks", "text": "We predict protein structure."},
        {"_id": "d2", "title": "Graph neural networks", "text": "Message passing on molecules and proteins."},
        {"_id": "d3", "title": "", "text": "Vitamin D intake and bone density in older adults. A cohort study."},
        {"_id": 4, "title": "Cooking pasta", "text": "Boil water."},
    ]
    path.write_text("\n".join(json.dumps(d) for d in docs) + "\n", encoding="utf-8")
    return path


def test_ingest_jsonl_then_search_json_returns_corpus_ids(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run("ingest", "jsonl", str(_beir_file(tmp_path)))
    assert result.exit_code == 0, result.output
    assert "4 added" in result.output
    found = run("search", "protein structure", "--json", "--limit", "3")
    assert found.exit_code == 0, found.output
    hits = json.loads(found.output)["hits"]
    assert [hit["id"] for hit in hits][:2] == ["d1", "d2"]
    assert [hit["rank"] for hit in hits] == list(range(1, len(hits) + 1))
    vitamin = json.loads(run("search", "vitamin bone", "--json").output)["hits"]
    assert vitamin[0]["id"] == "d3"


def test_reingest_adds_nothing(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    corpus = _beir_file(tmp_path)
    run("ingest", "jsonl", str(corpus))
    again = run("ingest", "jsonl", str(corpus), "--json")
    assert json.loads(again.output)["added"] == 0 and json.loads(again.output)["unchanged"] == 4


def test_malformed_records_are_reported_and_the_rest_lands(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bad.jsonl"
    with path.open("wb") as out:
        out.write(b'{"_id": "ok1", "title": "Fine paper", "text": "Body."}\n')
        out.write(b'{"_id": "broken", "title": \n')  # bad JSON
        out.write(b'{"_id": "notitle", "title": "", "text": ""}\n')  # no title, no text
        out.write(b'{"_id": "baddate", "title": "T", "text": "x", "published": "next tuesday"}\n')
        out.write(b"\xff\xfe\x00garbage\x89PNG\n")  # binary garbage
        out.write(b'{"_id": "ok2", "title": "Another fine paper", "text": "Body."}\n')
    result = run("ingest", "jsonl", str(path), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["added"], report["rejected"]) == (2, 4)
    wheres = {r["where"]: r["field"] for r in report["rejections"]}
    assert wheres["line 2"] is None and wheres["line 4"] == "published" and "line 5" in wheres
    assert wheres["line 3"] in {"title", "text"}
    assert json.loads(run("db", "stats", "--json").output)["papers"] == 2


def test_a_100mb_line_is_rejected_without_loading_it(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "huge.jsonl"
    with path.open("wb") as out:
        out.write(b'{"_id": "before", "title": "Before", "text": "x"}\n')
        out.write(b'{"_id": "huge", "title": "')
        chunk = b"a" * (1 << 20)
        for _ in range(100):
            out.write(chunk)
        out.write(b'"}\n{"_id": "after", "title": "After", "text": "y"}\n')
    report = json.loads(run("ingest", "jsonl", str(path), "--json").output)
    assert (report["added"], report["rejected"]) == (2, 1)
    assert "limit" in report["rejections"][0]["reason"]


def test_user_mistakes_are_one_line_errors(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    missing = run("ingest", "jsonl", str(tmp_path / "nope.jsonl"))
    assert missing.exit_code == 1 and missing.output.startswith("error: No file at")
    assert "Traceback" not in missing.output
    no_path = run("ingest", "jsonl")
    assert no_path.exit_code == 1 and "PATH" in no_path.output
    unknown = run("papers", "show", "nope")
    assert unknown.exit_code == 1 and unknown.output.strip().startswith("error: No paper has the id")
    bad_category = run("ingest", "arxiv", "--category", "not a category!")
    assert bad_category.exit_code == 1 and "category" in bad_category.output


def test_bad_setting_is_a_one_line_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["db", "stats"], env={"PAPERFEED_DATA_DIR": str(tmp_path), "PAPERFEED_PORT": "http"})
    assert result.exit_code == 1 and "PAPERFEED_PORT" in result.output and "Traceback" not in result.output


def test_papers_show_and_db_commands(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert "applied: 0001_papers" in run("db", "migrate").output
    run("ingest", "demo")
    stats = json.loads(run("db", "stats", "--json").output)
    assert stats["papers"] == 123 and stats["papers_by_source"] == {"seed": 123}
    first = json.loads(run("search", "knowledge distillation", "--json", "--limit", "1").output)["hits"][0]
    shown = json.loads(run("papers", "show", first["id"], "--json").output)
    assert shown["title"] == first["title"] and shown["abstract"]


def test_hf_daily_and_snapshot_sources_load(run) -> None:  # type: ignore[no-untyped-def]
    fixtures = Path(__file__).resolve().parent.parent / "fixtures"
    hf = json.loads(run("ingest", "hf-daily", str(fixtures / "hf" / "daily_papers.json"), "--json").output)
    snap = json.loads(run("ingest", "arxiv-snapshot", str(fixtures / "snapshot" / "arxiv-metadata-sample.jsonl"), "--json").output)
    assert hf["added"] >= 1 and snap["added"] >= 1


@pytest.mark.skipif(not (SHARED / "data/beir/scifact/corpus.jsonl.gz").exists(), reason="shared BEIR data not present")
def test_gzipped_beir_corpus_loads_whole(run) -> None:  # type: ignore[no-untyped-def]
    report = json.loads(run("ingest", "beir", str(SHARED / "data/beir/scifact/corpus.jsonl.gz"), "--json").output)
    assert (report["added"], report["rejected"]) == (5183, 0)


def test_sigkill_mid_ingest_then_rerun_ends_with_the_full_set(tmp_path: Path) -> None:
    records = 8_000
    source = write_snapshot(tmp_path / "snapshot.jsonl", records)
    env = {**os.environ, "PAPERFEED_DATA_DIR": str(tmp_path / "data"), "PAPERFEED_LOAD_DEMO": "false"}
    command = [sys.executable, "-m", "paperfeed", "ingest", "arxiv-snapshot", str(source), "--json", "--batch-size", "200"]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    database = tmp_path / "data" / "paperfeed.sqlite3"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:  # kill once some batches are in
        if database.exists() and _count(database) >= 1000:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = _count(database)
    assert 0 < partial < records, "the kill should land mid-ingest"
    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    report = json.loads(rerun.stdout)
    assert report["added"] == records - partial and report["rejected"] == 0
    assert _count(database) == records
    search = subprocess.run([sys.executable, "-m", "paperfeed", "db", "stats", "--json"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert json.loads(search.stdout)["papers"] == records


def _count(database: Path) -> int:
    import sqlite3

    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute("SELECT count(*) FROM papers").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def test_reindex_rebuilds_and_search_still_finds(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert run("ingest", "jsonl", str(_beir_file(tmp_path))).exit_code == 0
    rebuilt = run("reindex")
    assert rebuilt.exit_code == 0 and "-d): 4 papers" in rebuilt.output
    found = json.loads(run("search", "protein structure", "--json").output)
    assert found["hits"][0]["id"] == "d1"
