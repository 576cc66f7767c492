"""PostgreSQL-only behaviour: a database that is down or goes away mid-service."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from paperfeed.cli import main
from paperfeed.config import Settings
from paperfeed.errors import StoreUnavailable
from paperfeed.store import open_store
from paperfeed.startup import prepare_engine
from paperfeed.web.app import create_app


def test_a_server_that_is_down_is_one_line_and_exit_code_1(tmp_path: Path) -> None:
    url = f"postgresql://postgres:secret@/paperfeed?host={tmp_path}"  # no server listens there
    with pytest.raises(StoreUnavailable, match="Cannot reach the PostgreSQL database"):
        open_store(url)
    result = CliRunner().invoke(main, ["--database-url", url, "db", "stats"], env={"PAPERFEED_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: Cannot reach the PostgreSQL database")
    assert "secret" not in result.output  # the password is never printed
    assert "Traceback" not in result.output


def test_serve_refuses_to_start_on_a_database_that_is_down(tmp_path: Path) -> None:
    url = f"postgresql://postgres:@/paperfeed?host={tmp_path}"
    result = CliRunner().invoke(main, ["--database-url", url, "serve", "--port", "1"],
                                env={"PAPERFEED_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 1
    assert result.output.strip().startswith("error: Cannot reach the PostgreSQL database")


def _cut_off(pg_server: Any, url: str) -> None:
    """The database stops taking connections and drops the ones it has (as in an outage)."""
    name = url.split("?")[0].rsplit("/", 1)[1]
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        conn.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))


def _restore(pg_server: Any, url: str) -> None:
    name = url.split("?")[0].rsplit("/", 1)[1]
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        conn.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")


def test_a_database_lost_while_serving_gives_503_not_a_traceback(
    pg_server: Any, pg_url: str, tmp_path: Path
) -> None:
    settings = Settings.load({"data_dir": str(tmp_path), "database_url": pg_url, "load_demo": "true",
                              "embed_model": "none"}, environ={}, dotenv=tmp_path / ".env")
    store = open_store(pg_url)
    engine = prepare_engine(store, settings)
    with TestClient(create_app(settings, engine=engine), raise_server_exceptions=False) as client:
        assert client.get("/api/v1/search", params={"q": "diffusion"}).status_code == 200
        _cut_off(pg_server, pg_url)
        try:
            api = client.get("/api/v1/search", params={"q": "diffusion"})
            assert api.status_code == 503
            assert api.json()["error"]["code"] == "store_unavailable"
            assert "Cannot reach the PostgreSQL database" in api.json()["error"]["message"]
            page = client.get("/search", params={"q": "diffusion"})
            assert page.status_code == 503 and "text/html" in page.headers["content-type"]
            assert "Cannot reach the PostgreSQL database" in page.text and "Traceback" not in page.text
        finally:
            _restore(pg_server, pg_url)
        # and it recovers by itself once the database is back (the pool reconnects with
        # a backoff, so allow it some seconds)
        deadline = time.monotonic() + 60
        while client.get("/api/v1/search", params={"q": "diffusion"}).status_code != 200:
            assert time.monotonic() < deadline, "no recovery within 60 s of the database coming back"
            time.sleep(0.5)
    store.close()


def test_passwords_never_reach_messages() -> None:
    from paperfeed.store.postgres import redact

    assert redact("postgresql://app:s3cret@db.example:5432/papers") == "postgresql://app@db.example:5432/papers"
    assert redact("postgresql://app@db/papers") == "postgresql://app@db/papers"
