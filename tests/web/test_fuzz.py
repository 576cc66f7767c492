"""Fuzz the JSON API and feeds from their own OpenAPI document (schemathesis): whatever
the generated parameters and bodies, no answer is a 5xx, and every 4xx is the one JSON
error envelope. Kept quick (a few dozen examples per operation); submit talks to a local
stand-in for arXiv, never the real one."""

from __future__ import annotations

import os
from typing import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from paperfeed.ingest import run_ingest
from paperfeed.sources.arxiv_api import RateLimiter
from paperfeed.startup import load_demo_corpus, prepare_engine
from paperfeed.store import open_store
from paperfeed.web.app import create_app
from tests.web.conftest import TODAY, FakeArxiv, dated_papers, dated_settings

pytestmark = pytest.mark.slow
EXAMPLES = int(os.environ.get("PAPERFEED_FUZZ_EXAMPLES", "40"))  # CI: quick; raise it to dig deeper


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    arxiv = FakeArxiv()
    arxiv.thread.start()
    settings = dated_settings(tmp_path_factory.mktemp("fuzz"), arxiv_api_url=arxiv.url)
    store = open_store(settings.database_url)
    store.migrate()
    load_demo_corpus(store)
    run_ingest(store, dated_papers())
    app = create_app(settings, engine=prepare_engine(store, settings), today=lambda: TODAY)
    app.state.arxiv_limiter = RateLimiter(0.0)
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    arxiv.httpd.shutdown()
    arxiv.httpd.server_close()
    store.close()


# Every operation the OpenAPI document lists; a test below checks the list is complete.
OPERATIONS = [
    ("GET", "/api/v1/papers"), ("GET", "/api/v1/papers/{paper_id}"), ("GET", "/api/v1/search"),
    ("GET", "/api/v1/map"), ("POST", "/api/v1/submit"), ("GET", "/feeds/papers.{fmt}"),
    ("GET", "/feeds/search.{fmt}"), ("GET", "/feeds/category/{category}.{fmt}"),
    ("POST", "/api/v1/votes"), ("GET", "/api/v1/trending"), ("GET", "/feeds/trending.{fmt}"),
    ("GET", "/api/v1/comments"), ("GET", "/api/v1/collections/{collection_id}.{fmt}"),
]


def test_every_operation_is_fuzzed(api_schema: schemathesis.BaseSchema) -> None:
    found = {(op.ok().method.upper(), op.ok().path) for op in api_schema.get_all_operations()}
    assert found == set(OPERATIONS)


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_api_never_answers_5xx(api_schema: schemathesis.BaseSchema, method: str, path: str) -> None:
    operation = next(op.ok() for op in api_schema.get_all_operations()
                     if (op.ok().method.upper(), op.ok().path) == (method, path))

    @given(operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def check(case: schemathesis.Case) -> None:
        response = case.call()
        described = f"{case.method} {case.formatted_path} {case.query} {case.body!r} -> {response.status_code}"
        assert response.status_code < 500, described + "\n" + response.text[:500]
        if response.status_code >= 400:
            error = response.json()["error"]
            assert set(error) == {"code", "message", "field"} and error["message"], described

    check()
