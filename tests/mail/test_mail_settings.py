"""Mail and secret settings: parsed, validated at start-up, secrets hidden, fail closed."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from paperfeed.cli import main
from paperfeed.config import Settings
from paperfeed.errors import ConfigError

KEY = "q" * 24 + "-secret-key-value"
PASSWORD = "hunter2-smtp-password"


def _load(tmp_path: Path, **env: str) -> Settings:
    return Settings.load(environ=env, dotenv=tmp_path / ".env")


def _error(tmp_path: Path, **env: str) -> ConfigError:
    with pytest.raises(ConfigError) as error:
        _load(tmp_path, **env)
    return error.value


def test_defaults_are_a_development_console(tmp_path: Path) -> None:
    settings = _load(tmp_path)
    assert settings.environment == "development" and not settings.production
    assert settings.public_url == "http://127.0.0.1:8000" and not settings.secret_key
    mail = settings.mail
    assert (mail.smtp_host, mail.smtp_port, mail.smtp_security, mail.mail_from) == ("", 587, "starttls", "")
    assert (mail.rate_per_second, mail.max_bounces, mail.smtp_timeout) == (10.0, 3, 30.0)


def test_a_full_smtp_configuration(tmp_path: Path) -> None:
    mail = _load(tmp_path, PAPERFEED_SMTP_HOST="smtp.example.org", PAPERFEED_SMTP_SECURITY="SSL",
                 PAPERFEED_SMTP_USERNAME="digest", PAPERFEED_SMTP_PASSWORD=PASSWORD, PAPERFEED_SMTP_TIMEOUT="7.5",
                 PAPERFEED_MAIL_FROM="  Paper Feed <digest@example.org> ", PAPERFEED_MAIL_RATE="2.5",
                 PAPERFEED_MAIL_MAX_BOUNCES="5").mail
    assert (mail.smtp_port, mail.smtp_security, mail.smtp_timeout) == (465, "ssl", 7.5)
    assert mail.mail_from == "Paper Feed <digest@example.org>" and mail.smtp_password.reveal() == PASSWORD
    assert (mail.rate_per_second, mail.max_bounces) == (2.5, 5)
    assert _load(tmp_path, PAPERFEED_SMTP_SECURITY="none").mail.smtp_port == 25
    assert _load(tmp_path, PAPERFEED_SMTP_PORT="2525").mail.smtp_port == 2525


def test_secrets_never_show(tmp_path: Path) -> None:
    settings = _load(tmp_path, PAPERFEED_SMTP_PASSWORD=PASSWORD, PAPERFEED_SECRET_KEY=KEY)
    view = settings.public_view()
    assert view["PAPERFEED_SMTP_PASSWORD"] == view["PAPERFEED_SECRET_KEY"] == "********"
    assert PASSWORD not in repr(settings) and KEY not in repr(settings) and KEY not in str(settings.secret_key)
    assert _load(tmp_path).public_view()["PAPERFEED_SECRET_KEY"] == ""  # unset is shown as unset


def test_the_settings_command_hides_secrets(tmp_path: Path) -> None:
    env = {"PAPERFEED_DATA_DIR": str(tmp_path / "data"), "PAPERFEED_SMTP_PASSWORD": PASSWORD,
           "PAPERFEED_SECRET_KEY": KEY, "PAPERFEED_SMTP_HOST": "smtp.example.org",
           "PAPERFEED_MAIL_FROM": "digest@example.org"}
    result = CliRunner().invoke(main, ["settings"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output and KEY not in result.output
    assert "PAPERFEED_SMTP_PASSWORD=********" in result.output
    assert "PAPERFEED_SMTP_HOST=smtp.example.org" in result.output


@pytest.mark.parametrize("value", ["digest", "digest@localhost", "a@example.org, b@example.org",
                                   "d@example.org\r\nBcc: all@example.org", "<@example.org>", "dígest@example.org"])
def test_a_bad_from_address_stops_start_up_with_a_hint(tmp_path: Path, value: str) -> None:
    error = _error(tmp_path, PAPERFEED_MAIL_FROM=value)
    assert "PAPERFEED_MAIL_FROM" in error.message and "example.org" in error.hint


def test_the_cli_reports_a_bad_from_address_in_one_line(tmp_path: Path) -> None:
    env = {"PAPERFEED_DATA_DIR": str(tmp_path / "data"), "PAPERFEED_MAIL_FROM": "nobody"}
    result = CliRunner().invoke(main, ["settings"], env=env)
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and result.output.startswith("error: Setting PAPERFEED_MAIL_FROM")


def test_smtp_without_a_from_address_is_refused(tmp_path: Path) -> None:
    assert "PAPERFEED_MAIL_FROM" in _error(tmp_path, PAPERFEED_SMTP_HOST="smtp.example.org").message


@pytest.mark.parametrize(("name", "value"), [
    ("PAPERFEED_SMTP_SECURITY", "tls"), ("PAPERFEED_SMTP_PORT", "0"), ("PAPERFEED_SMTP_TIMEOUT", "soon"),
    ("PAPERFEED_SMTP_TIMEOUT", "inf"), ("PAPERFEED_MAIL_RATE", "-1"), ("PAPERFEED_MAIL_RATE", "nan"),
    ("PAPERFEED_MAIL_MAX_BOUNCES", "0"), ("PAPERFEED_MAIL_MAX_BOUNCES", "2.5"), ("PAPERFEED_ENVIRONMENT", "prod"),
    ("PAPERFEED_PUBLIC_URL", "papers.example.org"), ("PAPERFEED_PUBLIC_URL", "https://x.org/?a=1"),
])
def test_bad_values_name_the_setting_and_the_value(tmp_path: Path, name: str, value: str) -> None:
    error = _error(tmp_path, **{name: value})
    assert name in error.message and value in error.message and error.hint


def test_a_password_is_never_sent_in_clear_over_the_network(tmp_path: Path) -> None:
    env = {"PAPERFEED_SMTP_SECURITY": "none", "PAPERFEED_SMTP_USERNAME": "u", "PAPERFEED_MAIL_FROM": "d@example.org"}
    assert "in clear" in _error(tmp_path, PAPERFEED_SMTP_HOST="smtp.example.org", **env).message
    assert _load(tmp_path, PAPERFEED_SMTP_HOST="127.0.0.1", **env).mail.smtp_username == "u"  # a local relay


@pytest.mark.parametrize("key", ["short", "changethis", "x" * 31])
def test_weak_secret_keys_are_refused_everywhere(tmp_path: Path, key: str) -> None:
    error = _error(tmp_path, PAPERFEED_SECRET_KEY=key)
    assert "PAPERFEED_SECRET_KEY" in error.message and key not in error.message and "secrets" in error.hint


def test_production_fails_closed(tmp_path: Path) -> None:
    url = {"PAPERFEED_PUBLIC_URL": "https://papers.example.org/"}
    assert "PAPERFEED_SECRET_KEY" in _error(tmp_path, PAPERFEED_ENVIRONMENT="production", **url).message
    key = {"PAPERFEED_SECRET_KEY": KEY}
    assert "PAPERFEED_PUBLIC_URL" in _error(tmp_path, PAPERFEED_ENVIRONMENT="production", **key).message
    plain = {"PAPERFEED_PUBLIC_URL": "http://papers.example.org"}
    assert "https" in _error(tmp_path, PAPERFEED_ENVIRONMENT="production", **key, **plain).message
    settings = _load(tmp_path, PAPERFEED_ENVIRONMENT="Production", **key, **url)
    assert settings.production and settings.public_url == "https://papers.example.org"
