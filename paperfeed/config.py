"""Typed settings, declared once.

Precedence: environment (PAPERFEED_*) > `.env` file in the working directory > default.
Each setting is declared with its name, default and help, and that one table feeds the
CLI (`paperfeed settings`), the docs (docs/configuration.md is checked against it) and,
with secrets hidden, the API.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from paperfeed.errors import ConfigError

PREFIX = "PAPERFEED_"


@dataclass(frozen=True)
class SettingSpec:
    name: str  # attribute name; env var is PREFIX + name.upper()
    default: str
    help: str
    secret: bool = False

    @property
    def env_var(self) -> str:
        return PREFIX + self.name.upper()


SPECS: tuple[SettingSpec, ...] = (
    SettingSpec("data_dir", "./data", "Directory for the database file, indexes and cursors."),
    SettingSpec(
        "database_url",
        "",
        "Where papers live. Empty means sqlite:///<data_dir>/paperfeed.sqlite3.",
    ),
    SettingSpec("host", "127.0.0.1", "Address `paperfeed serve` binds to."),
    SettingSpec("port", "8000", "Port `paperfeed serve` listens on."),
    SettingSpec(
        "load_demo",
        "true",
        "Load the bundled 123-paper demo corpus on first start when the store is empty.",
    ),
    SettingSpec(
        "arxiv_api_url",
        "https://export.arxiv.org/api/query",
        "arXiv API endpoint used by `ingest arxiv` and submit-by-id.",
    ),
    SettingSpec(
        "embed_model",
        "minilm-static-256",
        "Embedding model for semantic search: a bundled name, `minilm` (needs the "
        "[transformer] extra), a model directory, or `none` for keyword-only search.",
    ),
    SettingSpec("log_level", "info", "Logging level: debug, info, warning, error."),
    SettingSpec(
        "cors_origins",
        "",
        "Origins allowed to call the JSON API and feeds from a browser (CORS), comma-separated, "
        "or `*` for any; empty turns CORS off.",
    ),
)


def _read_dotenv(path: Path) -> dict[str, str]:
    """Minimal KEY=VALUE reader; comments and blank lines ignored, quotes stripped."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


def _parse_bool(spec: SettingSpec, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(
        f"Setting {spec.env_var} has value {value!r}. Not a valid boolean.",
        hint="Use true or false.",
    )


def _parse_port(spec: SettingSpec, value: str) -> int:
    if value.isdigit() and 0 < int(value) < 65536:
        return int(value)
    raise ConfigError(
        f"Setting {spec.env_var} has value {value!r}. Not a valid port.",
        hint="Use a number between 1 and 65535.",
    )


def _parse_origins(spec: SettingSpec, value: str) -> tuple[str, ...]:
    origins = tuple(o.strip().rstrip("/") for o in value.split(",") if o.strip())
    for origin in origins:
        if origin != "*" and not origin.startswith(("http://", "https://")):
            raise ConfigError(
                f"Setting {spec.env_var} has value {value!r}. {origin!r} is not an origin.",
                hint="Use origins like https://example.org, comma-separated, or *.",
            )
    return origins


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    host: str
    port: int
    load_demo: bool
    arxiv_api_url: str
    embed_model: str
    log_level: str
    cors_origins: tuple[str, ...] = ()
    raw: dict[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def load(
        cls,
        overrides: dict[str, str] | None = None,
        *,
        environ: dict[str, str] | None = None,
        dotenv: Path | None = None,
    ) -> "Settings":
        env = os.environ if environ is None else environ
        file_values = _read_dotenv(dotenv if dotenv is not None else Path(".env"))
        raw: dict[str, str] = {}
        for spec in SPECS:
            raw[spec.name] = env.get(spec.env_var, file_values.get(spec.env_var, spec.default))
        raw.update({k: v for k, v in (overrides or {}).items() if v is not None})
        return cls.from_raw(raw)

    @classmethod
    def from_raw(cls, raw: dict[str, str]) -> "Settings":
        specs = {spec.name: spec for spec in SPECS}
        data_dir = Path(raw["data_dir"]).expanduser()
        database_url = raw["database_url"] or f"sqlite:///{data_dir / 'paperfeed.sqlite3'}"
        log_level = raw["log_level"].lower()
        if log_level not in {"debug", "info", "warning", "error"}:
            raise ConfigError(
                f"Setting {specs['log_level'].env_var} has value {raw['log_level']!r}.",
                hint="Use one of debug, info, warning, error.",
            )
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            host=raw["host"],
            port=_parse_port(specs["port"], raw["port"]),
            load_demo=_parse_bool(specs["load_demo"], raw["load_demo"]),
            arxiv_api_url=raw["arxiv_api_url"],
            embed_model=raw["embed_model"].strip(),
            log_level=log_level,
            cors_origins=_parse_origins(specs["cors_origins"], raw.get("cors_origins", "")),
            raw=dict(raw),
        )

    def public_view(self) -> dict[str, str]:
        """Settings as strings, secrets replaced, for the API and `paperfeed settings`."""
        return {
            spec.env_var: ("********" if spec.secret and self.raw.get(spec.name) else self.raw.get(spec.name, ""))
            for spec in SPECS
        }


SettingsFactory = Callable[[], Settings]
