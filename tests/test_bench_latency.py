"""`paperfeed bench latency` on a small generated store: the real build and probe path."""

import json
from pathlib import Path

from click.testing import CliRunner

from paperfeed.bench.latency import _own_peak_rss_kb
from paperfeed.cli import main


def test_latency_bench_builds_reuses_and_reports_every_mode(tmp_path: Path) -> None:
    data_dir = tmp_path / "lat"
    args = ["bench", "latency", "--papers", "300", "--data-dir", str(data_dir), "--json"]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    report = json.loads(first.output.strip().splitlines()[-1])
    assert report["papers"] == 300
    for mode in ("bm25", "dense", "hybrid"):
        assert 0 < report[mode]["p50"] <= report[mode]["p95"] <= report[mode]["p99"]
    assert set(report["build"]) == {"ingest_s", "keyword_index_s", "vector_index_s"}

    again = CliRunner().invoke(main, args)  # the store is kept: nothing is ingested twice
    assert again.exit_code == 0, again.output
    reused = json.loads(again.output.strip().splitlines()[-1])
    assert reused["papers"] == 300 and "ingest_s" not in reused["build"]


def test_own_peak_rss_is_this_process_high_water_mark() -> None:
    before = _own_peak_rss_kb()
    ballast = bytearray(64 * 2**20)  # 64 MB touched
    ballast[:: 4096] = b"x" * len(ballast[:: 4096])
    assert _own_peak_rss_kb() >= before and _own_peak_rss_kb() > 64 * 1024
