"""`paperfeed mail test ADDRESS` against a real SMTP server on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from paperfeed.cli import main

from tests.mail.smtp_sink import RecordingHandler, ServerFactory, SmtpServer, body


def _run(tmp_path: Path, *args: str, **env: str) -> Result:
    full_env = {"PAPERFEED_DATA_DIR": str(tmp_path / "data"), **env}
    return CliRunner().invoke(main, list(args), env=full_env)


def _smtp_env(server: SmtpServer) -> dict[str, str]:
    return {"PAPERFEED_SMTP_HOST": "127.0.0.1", "PAPERFEED_SMTP_PORT": str(server.port),
            "PAPERFEED_SMTP_SECURITY": "none", "PAPERFEED_MAIL_FROM": "paperfeed <digest@example.org>",
            "PAPERFEED_PUBLIC_URL": "https://papers.example.org"}


def test_a_test_message_is_delivered(tmp_path: Path, smtp_server: SmtpServer) -> None:
    result = _run(tmp_path, "mail", "test", "ops@example.org", **_smtp_env(smtp_server))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("delivered: 250") and f"127.0.0.1:{smtp_server.port} (none)" in result.output
    [message] = smtp_server.handler.messages()
    assert message["To"] == "ops@example.org" and "https://papers.example.org" in body(message, "plain")


def test_a_refused_address_and_a_bad_one_exit_1_in_one_line(tmp_path: Path, start_smtp: ServerFactory) -> None:
    server = start_smtp(RecordingHandler(rcpt_reply="550 5.1.1 No such user"))
    refused = _run(tmp_path, "mail", "test", "gone@example.org", **_smtp_env(server))
    assert refused.exit_code == 1 and refused.output.startswith("refused for good: 550 5.1.1 No such user")
    bad = _run(tmp_path, "mail", "test", "not-an-address", **_smtp_env(server))
    assert bad.exit_code == 1 and bad.output.count("\n") == 1 and bad.output.startswith("error: 'not-an-address'")


def test_an_unusable_relay_is_one_error_line(tmp_path: Path, start_smtp: ServerFactory) -> None:
    server = start_smtp(RecordingHandler(mail_reply="550 5.7.1 Relaying denied"))
    result = _run(tmp_path, "mail", "test", "ops@example.org", **_smtp_env(server))
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert result.output.startswith("error: The SMTP server refused to send anything: 550 5.7.1 Relaying denied")


def test_without_smtp_the_message_goes_to_the_console_in_development(tmp_path: Path) -> None:
    result = _run(tmp_path, "mail", "test", "ops@example.org")
    assert result.exit_code == 0, result.output
    assert "To: ops@example.org" in result.output and "delivered: 250 accepted" in result.output
    assert "via the console" in result.output
