"""`paperfeed bench ingest` on a small generated file: every phase runs and is reported."""

import json

from click.testing import CliRunner

from paperfeed.cli import main


def test_ingest_bench_reports_end_to_end_rate_with_both_indexes() -> None:
    result = CliRunner().invoke(main, ["bench", "ingest", "--records", "300", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    assert report["papers_stored"] == 300 and report["rerun_added"] == 0
    assert report["index_s"] > 0 and report["index_cpu_us_per_paper"] > 0
    assert 0 < report["end_to_end_papers_per_s"] < min(report["index_papers_per_s"], report["ingest_records_per_s"])
