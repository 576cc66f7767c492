"""Several processes on one PostgreSQL: two ingests and a two-worker server at once."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from paperfeed.store import open_store

pytestmark = pytest.mark.slow


def _records(path: Path, numbers: range) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for n in numbers:
            out.write(json.dumps({
                "id": f"w{n}", "title": f"Concurrent paper number {n}", "abstract": f"Finding {n} about workers.",
                "authors": [f"Author {n}"], "arxiv_id": f"2601.{n:05d}", "published": "2026-01-02T00:00:00Z",
            }) + "\n")
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_two_ingests_and_two_workers_lose_and_duplicate_nothing(pg_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "PAPERFEED_DATABASE_URL": pg_url, "PAPERFEED_DATA_DIR": str(tmp_path / "data"),
           "PAPERFEED_LOAD_DEMO": "false", "PAPERFEED_EMBED_MODEL": "none", "PAPERFEED_LOG_LEVEL": "warning"}
    paperfeed = [sys.executable, "-m", "paperfeed"]
    port = _free_port()
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen([*paperfeed, "serve", "--workers", "2", "--port", str(port)], env=env,
                              stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/papers").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        # overlapping inputs (200..399 in both), small batches so the two writers interleave
        first = _records(tmp_path / "a.jsonl", range(0, 400))
        second = _records(tmp_path / "b.jsonl", range(200, 600))
        ingests = [subprocess.Popen([*paperfeed, "ingest", "jsonl", str(path), "--batch-size", "25", "--json"],
                                    env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                   for path in (first, second)]
        seen_totals = []
        while any(p.poll() is None for p in ingests):
            response = httpx.get(f"{base}/papers", params={"per_page": 1})
            assert response.status_code == 200
            seen_totals.append(response.json()["pagination"]["total"])
            time.sleep(0.05)
        outputs = [p.communicate()[0] for p in ingests]
        assert [p.returncode for p in ingests] == [0, 0]
        reports = [json.loads(out) for out in outputs]
        assert all(r["rejected"] == 0 for r in reports)
        # every record landed once: 600 distinct papers, the overlap added by exactly one process
        assert sum(r["added"] for r in reports) + sum(r["updated"] + r["unchanged"] for r in reports) == 800
        store = open_store(pg_url)
        try:
            assert store.count_papers() == 600
            assert len(store.pks_for_ids([f"w{n}" for n in range(600)])) == 600
        finally:
            store.close()
        for _ in range(6):  # whichever worker answers sees all of them
            listing = httpx.get(f"{base}/papers", params={"per_page": 1}).json()
            assert listing["pagination"]["total"] == 600
            hits = httpx.get(f"{base}/search", params={"q": "ti:concurrent", "mode": "bm25"}).json()
            assert len(hits["hits"]) == 20
        assert seen_totals == sorted(seen_totals)  # never a count going backwards mid-ingest
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def test_several_workers_on_sqlite_is_refused_in_one_line(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from paperfeed.cli import main

    result = CliRunner().invoke(main, ["serve", "--workers", "2"], env={"PAPERFEED_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 1
    assert result.output.startswith("error: --workers 2 needs a PostgreSQL database")
