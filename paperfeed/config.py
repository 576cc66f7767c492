"""Typed settings, declared once.

Precedence: environment (PAPERFEED_*) > `.env` file in the working directory > default.
Each setting is declared with its name, default and help, and that one table feeds the
CLI (`paperfeed settings`), the docs (docs/configuration.md is checked against it) and,
with secrets hidden, the API.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from paperfeed.addresses import parse_address
from paperfeed.errors import ConfigError, InvalidInput

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
    SettingSpec(
        "embed_precision",
        "auto",
        "How a transformer embedder computes: auto (bfloat16 on CPUs with Intel AMX, where it is "
        "~2x faster, else float32), float32 or bfloat16. The static model ignores it.",
    ),
    SettingSpec("log_level", "info", "Logging level: debug, info, warning, error."),
    # Deployment and secrets (docs/email.md explains how they fail closed).
    SettingSpec(
        "environment",
        "development",
        "development or production. Production refuses to start without PAPERFEED_SECRET_KEY "
        "and an https PAPERFEED_PUBLIC_URL, and never prints mail to the console.",
    ),
    SettingSpec(
        "public_url",
        "",
        "Public address of the site, used in emailed links. Empty means http://<host>:<port> "
        "(development only).",
    ),
    SettingSpec(
        "secret_key",
        "",
        "Key that signs emailed links (confirm, preferences, unsubscribe, sign-in); at least "
        "32 characters. Unset in development: a random key kept in <data_dir>/secret_key.",
        secret=True,
    ),
    # Outgoing mail.
    SettingSpec(
        "smtp_host",
        "",
        "SMTP server for outgoing mail. Empty: mail is printed to the console (development only).",
    ),
    SettingSpec("smtp_port", "", "SMTP port. Empty means 587 for starttls, 465 for ssl, 25 for none."),
    SettingSpec(
        "smtp_security",
        "starttls",
        "starttls (upgrade a plain connection), ssl (TLS from the first byte) or none "
        "(loopback relays only).",
    ),
    SettingSpec("smtp_username", "", "SMTP login name; empty means no authentication."),
    SettingSpec("smtp_password", "", "SMTP password.", secret=True),
    SettingSpec("smtp_timeout", "30", "Seconds to wait for the SMTP server before retrying later."),
    SettingSpec(
        "mail_from",
        "",
        "From address of every mail, e.g. `paperfeed <digest@example.org>`; required with "
        "PAPERFEED_SMTP_HOST.",
    ),
    SettingSpec("mail_rate", "10", "Most messages sent per second (0: no limit)."),
    SettingSpec(
        "mail_max_bounces",
        "3",
        "Permanent (5xx) failures after which an address gets no more mail.",
    ),
    # Community (accounts, votes, comments): docs/community.md.
    SettingSpec("session_days", "30", "Days a sign-in lasts before the session cookie expires."),
    SettingSpec("sign_in_limit", "5", "Sign-in links one email address or client may request per hour."),
    SettingSpec("vote_limit", "60", "Votes one user may cast per minute."),
    SettingSpec("post_limit", "10", "Comments, submissions and collection changes one user may make per minute."),
    SettingSpec(
        "digest_interval",
        "0",
        "Minutes between digest runs inside `paperfeed serve` (0: off; use cron or a systemd "
        "timer running `paperfeed digest run` instead).",
    ),
    SettingSpec(
        "digest_workers",
        "0",
        "Processes composing digests in a large digest run, beside the one sending (0: one per "
        "CPU core; 1: compose, then send, in one process).",
    ),
    SettingSpec(
        "cors_origins",
        "",
        "Origins allowed to call the JSON API and feeds from a browser (CORS), comma-separated, "
        "or `*` for any; empty turns CORS off.",
    ),
)

ENVIRONMENTS = ("development", "production")
EMBED_PRECISIONS = ("auto", "float32", "bfloat16")  # index/embed.py resolves "auto"
SECURITY_MODES = {"starttls": 587, "ssl": 465, "none": 25}
MIN_SECRET_KEY_CHARS = 32
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
PLACEHOLDER_KEYS = {"changethis", "changeme", "secret", "secret_key", "dev", "development"}


class Secret:
    """A string that does not show itself in repr, logs or tracebacks; `reveal()` to use it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return "Secret('********')" if self._value else "Secret('')"

    __str__ = __repr__


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


def _parse_number(spec: SettingSpec, value: str, *, minimum: float, integer: bool) -> float:
    try:
        number = int(value) if integer else float(value)
    except ValueError:
        number = minimum - 1
    if not math.isfinite(number) or number < minimum:
        kind = "a whole number" if integer else "a number"
        raise ConfigError(
            f"Setting {spec.env_var} has value {value!r}. Not {kind} >= {minimum:g}.",
            hint=f"Use {kind} of at least {minimum:g}.",
        )
    return number


def _parse_choice(spec: SettingSpec, value: str, choices: tuple[str, ...]) -> str:
    lowered = value.strip().lower()
    if lowered in choices:
        return lowered
    raise ConfigError(f"Setting {spec.env_var} has value {value!r}.", hint=f"Use one of {', '.join(choices)}.")


def _parse_mail_from(spec: SettingSpec, value: str) -> str:
    """The From address, checked at start-up so a typo fails before any mail is queued."""
    try:
        return str(parse_address(value, field=spec.env_var))
    except InvalidInput:
        raise ConfigError(
            f"Setting {spec.env_var} has value {value!r}. Not a usable mail address.",
            hint="Use an address on a domain you send from, such as 'paperfeed <digest@example.org>'.",
            field=spec.env_var,
        ) from None


def _parse_public_url(spec: SettingSpec, value: str, *, fallback: str, production: bool) -> str:
    url = (value.strip() or ("" if production else fallback)).rstrip("/")
    parts = urlsplit(url)
    https_needed = production and parts.scheme != "https"
    if parts.scheme not in {"http", "https"} or not parts.netloc or parts.query or parts.fragment or https_needed:
        raise ConfigError(
            f"Setting {spec.env_var} has value {value!r}. "
            + ("Production needs the https address users reach." if production else "Not an http(s) URL."),
            hint="Use the public address of the site, such as https://papers.example.org.",
        )
    return url


def _parse_secret_key(spec: SettingSpec, value: str, *, production: bool) -> Secret:
    """Fails closed: a weak key is refused everywhere; no key is refused in production (in
    development `tokens.signing_key` keeps a random per-installation key instead)."""
    generate = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'
    if not value and production:
        raise ConfigError(
            f"Setting {spec.env_var} is not set; production refuses to sign links without it.",
            hint=f"Generate one with {generate} and keep it secret.",
        )
    if value and (len(value) < MIN_SECRET_KEY_CHARS or value.lower() in PLACEHOLDER_KEYS):
        raise ConfigError(
            f"Setting {spec.env_var} is too weak ({len(value)} characters, at least "
            f"{MIN_SECRET_KEY_CHARS} needed).",
            hint=f"Generate one with {generate}.",
        )
    return Secret(value)


@dataclass(frozen=True)
class MailSettings:
    smtp_host: str
    smtp_port: int
    smtp_security: str  # one of SECURITY_MODES
    smtp_username: str
    smtp_password: Secret
    smtp_timeout: float
    mail_from: str  # validated and normalised; "" when unset
    rate_per_second: float  # 0: no limit
    max_bounces: int
    digest_interval_s: float  # 0: no in-process digest scheduler
    digest_workers: int  # composing processes; 0 in the setting becomes the CPU count

    @classmethod
    def from_raw(cls, raw: dict[str, str], specs: dict[str, SettingSpec]) -> "MailSettings":
        security = _parse_choice(specs["smtp_security"], raw["smtp_security"], tuple(SECURITY_MODES))
        port = str(SECURITY_MODES[security]) if not raw["smtp_port"].strip() else raw["smtp_port"].strip()
        host = raw["smtp_host"].strip()
        mail_from = raw["mail_from"].strip()
        if host and not mail_from:
            raise ConfigError(
                f"Setting {specs['mail_from'].env_var} is not set but {specs['smtp_host'].env_var} is.",
                hint="Set PAPERFEED_MAIL_FROM to the address mail is sent from, such as "
                "'paperfeed <digest@example.org>'.",
            )
        username = raw["smtp_username"].strip()
        if security == "none" and username and host not in LOOPBACK_HOSTS:
            raise ConfigError(
                f"Setting {specs['smtp_security'].env_var} is none with a username: the password "
                f"would cross the network in clear to {host!r}.",
                hint="Use starttls or ssl, or a relay on 127.0.0.1.",
            )
        return cls(
            smtp_host=host,
            smtp_port=_parse_port(specs["smtp_port"], port),
            smtp_security=security,
            smtp_username=username,
            smtp_password=Secret(raw["smtp_password"]),
            smtp_timeout=_parse_number(specs["smtp_timeout"], raw["smtp_timeout"], minimum=1, integer=False),
            mail_from=_parse_mail_from(specs["mail_from"], mail_from) if mail_from else "",
            rate_per_second=_parse_number(specs["mail_rate"], raw["mail_rate"], minimum=0, integer=False),
            max_bounces=int(_parse_number(specs["mail_max_bounces"], raw["mail_max_bounces"], minimum=1, integer=True)),
            digest_interval_s=60 * _parse_number(specs["digest_interval"], raw["digest_interval"], minimum=0,
                                                 integer=False),
            digest_workers=int(_parse_number(specs["digest_workers"], raw["digest_workers"], minimum=0, integer=True))
            or os.cpu_count() or 1,
        )


@dataclass(frozen=True)
class CommunitySettings:
    session_days: int = 30
    sign_in_limit: int = 5  # per hour
    vote_limit: int = 60  # per minute
    post_limit: int = 10  # per minute

    @classmethod
    def from_raw(cls, raw: dict[str, str], specs: dict[str, SettingSpec]) -> "CommunitySettings":
        def number(name: str) -> int:
            return int(_parse_number(specs[name], raw.get(name, specs[name].default), minimum=1, integer=True))

        return cls(session_days=number("session_days"), sign_in_limit=number("sign_in_limit"),
                   vote_limit=number("vote_limit"), post_limit=number("post_limit"))


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
    environment: str
    public_url: str
    secret_key: Secret
    mail: MailSettings
    cors_origins: tuple[str, ...] = ()
    community: CommunitySettings = CommunitySettings()
    embed_precision: str = "auto"
    raw: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def production(self) -> bool:
        return self.environment == "production"

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
        environment = _parse_choice(specs["environment"], raw["environment"], ENVIRONMENTS)
        production = environment == "production"
        port = _parse_port(specs["port"], raw["port"])
        fallback_url = f"http://{raw['host']}:{port}"
        secret_key = _parse_secret_key(specs["secret_key"], raw["secret_key"], production=production)
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            host=raw["host"],
            port=port,
            load_demo=_parse_bool(specs["load_demo"], raw["load_demo"]),
            arxiv_api_url=raw["arxiv_api_url"],
            embed_model=raw["embed_model"].strip(),
            embed_precision=_parse_choice(specs["embed_precision"], raw.get("embed_precision", "auto"), EMBED_PRECISIONS),
            log_level=log_level,
            environment=environment,
            secret_key=secret_key,
            public_url=_parse_public_url(
                specs["public_url"], raw["public_url"], fallback=fallback_url, production=production
            ),
            mail=MailSettings.from_raw(raw, specs),
            cors_origins=_parse_origins(specs["cors_origins"], raw.get("cors_origins", "")),
            community=CommunitySettings.from_raw(raw, specs),
            raw=dict(raw),
        )

    def public_view(self) -> dict[str, str]:
        """Settings as strings, secrets replaced, for the API and `paperfeed settings`."""
        return {
            spec.env_var: ("********" if spec.secret and self.raw.get(spec.name) else self.raw.get(spec.name, ""))
            for spec in SPECS
        }


SettingsFactory = Callable[[], Settings]
