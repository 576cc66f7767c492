"""Submit by arXiv id or URL, against a real local HTTP server standing in for arXiv."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from paperfeed.sources.arxiv_api import RateLimiter
from paperfeed.web.app import create_app
from tests.web.conftest import FakeArxiv, dated_settings


def app_client(tmp_path: Path, arxiv_url: str) -> TestClient:
    settings = dated_settings(tmp_path, arxiv_api_url=arxiv_url, embed_model="none")
    app = create_app(settings)
    app.state.arxiv_limiter = RateLimiter(0.0)  # the fake server needs no politeness pause
    return TestClient(app)


def test_submit_by_url_fetches_stores_and_redirects(tmp_path: Path, fake_arxiv: FakeArxiv) -> None:
    with app_client(tmp_path, fake_arxiv.url) as client:
        assert client.get("/api/v1/papers").json()["period"] is None  # empty store: no day yet
        response = client.post("/submit", data={"arxiv_id": "https://arxiv.org/abs/2401.01234v2"},
                               follow_redirects=False)
        assert response.status_code == 303, response.text
        assert response.headers["location"] == "/papers/2401.01234?submitted=1"
        assert fake_arxiv.requests[0]["id_list"] == ["2401.01234"]
        page = client.get(response.headers["location"]).text
        assert "Sparse Attention Routing for Long-Context Language Models" in page and "Added from arXiv" in page
        hits = client.get("/api/v1/search", params={"q": "sparse attention routing", "mode": "bm25"}).json()["hits"]
        assert hits[0]["paper"]["id"] == "2401.01234"  # indexed at once
        home = client.get("/api/v1/papers").json()  # the cached newest day follows the write
        assert home["period"]["start"] == "2024-01-03" and home["papers"][0]["id"] == "2401.01234"
        again = client.post("/api/v1/submit", json={"arxiv_id": "2401.01234"})
        assert again.json() == {"id": "2401.01234", "url": "/papers/2401.01234",
                                "title": "Sparse Attention Routing for Long-Context Language Models", "added": False}
        assert len(fake_arxiv.requests) == 1  # a known paper needs no fetch


def test_unknown_id_is_a_clear_message_on_the_page(tmp_path: Path, fake_arxiv: FakeArxiv) -> None:
    with app_client(tmp_path, fake_arxiv.url) as client:
        page = client.post("/submit", data={"arxiv_id": "2401.99999"})
        assert page.status_code == 404 and "arXiv has no paper 2401.99999" in page.text
        assert 'value="2401.99999"' in page.text  # what was typed stays in the box
        api = client.post("/api/v1/submit", json={"arxiv_id": "2401.99999"})
        assert api.status_code == 404 and api.json()["error"]["field"] == "arxiv_id"


def test_bad_id_is_refused_before_any_request(tmp_path: Path, fake_arxiv: FakeArxiv) -> None:
    with app_client(tmp_path, fake_arxiv.url) as client:
        page = client.post("/submit", data={"arxiv_id": "not an id <script>"})
        assert page.status_code == 400 and "is not an arXiv id" in page.text and "<script>" not in page.text
        empty = client.post("/api/v1/submit", json={"arxiv_id": "  "})
        assert empty.status_code == 400 and empty.json()["error"]["field"] == "arxiv_id"
        missing = client.post("/api/v1/submit", json={})
        assert missing.status_code == 400 and missing.json()["error"]["field"] == "arxiv_id"
        assert fake_arxiv.requests == []


def test_unreachable_arxiv_is_a_clear_message(tmp_path: Path, closed_port_url: str) -> None:
    with app_client(tmp_path, closed_port_url) as client:
        page = client.post("/submit", data={"arxiv_id": "1706.03762"})
        assert page.status_code == 502
        assert "Could not fetch 1706.03762 from arXiv" in page.text and "try again later" in page.text
        assert client.get("/api/v1/papers/1706.03762").status_code == 404  # nothing half-stored
        api = client.post("/api/v1/submit", json={"arxiv_id": "1706.03762"})
        assert api.status_code == 502 and api.json()["error"]["code"] == "source_error"
