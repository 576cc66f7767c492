"""`paperfeed bench digest` end to end at a small size: every composed digest reaches the sink."""

from __future__ import annotations

import json

from click.testing import CliRunner

from paperfeed.cli import main


def test_bench_digest_composes_and_delivers_every_digest(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(main, ["bench", "digest", "--subscribers", "60", "--json"],
                                env={"PAPERFEED_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    assert report["queued"] + report["empty"] == 60 and report["queued"] > 0
    assert report["sent"] == report["queued"] == report["sink_received"]
    assert report["searches_run"] == 50  # one per distinct saved query, not one per subscriber
