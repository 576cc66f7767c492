"""Shared fixtures: a real SQLite store in a temp dir, settings pointing at it, an app client."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

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


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    opened = open_store(settings.database_url)
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


@pytest.fixture(scope="module")
def demo_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    folder = tmp_path_factory.mktemp("demo")
    return Settings.load({"data_dir": str(folder / "data"), "load_demo": "true"}, environ={}, dotenv=folder / ".env")


@pytest.fixture(scope="module")
def client(demo_settings: Settings) -> Iterator["TestClient"]:
    """The app over a real SQLite file holding the demo corpus, shared by a module's
    tests (read-only tests only: building it loads and embeds 123 papers)."""
    from fastapi.testclient import TestClient

    from paperfeed.web.app import create_app

    with TestClient(create_app(demo_settings)) as test_client:
        yield test_client
