"""`paperfeed bench mail` and its minimal SMTP sink: every message delivered and counted."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from paperfeed.bench.mail import run_mail_bench
from paperfeed.cli import main


def test_the_minimal_sink_receives_every_message() -> None:
    result = run_mail_bench(25, sink="fast")
    assert result["delivered"] == result["sink_received"] == 25
    size, packed = result["message_bytes"], result["message_bytes_zlib"]
    assert isinstance(size, int) and isinstance(packed, int) and 20_000 < size and packed < size
    for key in ("render_ms_cpu", "build_ms_cpu", "deliver_ms_wall", "deliver_per_s"):
        value = result[key]
        assert isinstance(value, float) and value > 0, key


@pytest.mark.slow
def test_the_cli_runs_it_against_aiosmtpd_too() -> None:
    output = CliRunner().invoke(main, ["bench", "mail", "--messages", "5", "--sink", "aiosmtpd", "--json"])
    assert output.exit_code == 0, output.output
    result = json.loads(output.output.strip().splitlines()[-1])
    assert result["delivered"] == 5 and result["sink"] == "aiosmtpd"
