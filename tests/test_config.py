from pathlib import Path

import pytest

from paperfeed.config import SPECS, Settings
from paperfeed.errors import ConfigError

README = Path(__file__).resolve().parent.parent / "README.md"


def test_env_beats_dotenv_beats_default(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("PAPERFEED_PORT=9000\nPAPERFEED_HOST='0.0.0.0'\n# comment\n", encoding="utf-8")
    settings = Settings.load(environ={"PAPERFEED_PORT": "9100"}, dotenv=dotenv)
    assert settings.port == 9100 and settings.host == "0.0.0.0" and settings.log_level == "info"


def test_default_database_is_a_sqlite_file_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings.load({"data_dir": str(tmp_path)}, environ={}, dotenv=tmp_path / ".env")
    assert settings.database_url == f"sqlite:///{tmp_path / 'paperfeed.sqlite3'}"


@pytest.mark.parametrize(("name", "value"), [("PAPERFEED_PORT", "eighty"), ("PAPERFEED_LOAD_DEMO", "maybe"),
                                             ("PAPERFEED_LOG_LEVEL", "loud"), ("PAPERFEED_EMBED_PRECISION", "half")])
def test_bad_values_name_the_setting_and_the_value(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(ConfigError) as error:
        Settings.load(environ={name: value}, dotenv=tmp_path / ".env")
    assert name in error.value.message and value in error.value.message


def test_every_setting_is_documented_in_the_readme() -> None:
    text = README.read_text(encoding="utf-8")
    missing = [spec.env_var for spec in SPECS if spec.env_var not in text]
    assert not missing, f"document these settings in README.md: {missing}"
