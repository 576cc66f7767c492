"""Site-wide behaviour: paper page contents, search page controls, subscribe, CORS,
cached static files, and the one error envelope across every API endpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from paperfeed.web.app import create_app
from tests.web.conftest import dated_settings


def paper_id(client: TestClient, title_words: str) -> str:
    hits = client.get("/api/v1/search", params={"q": title_words, "mode": "bm25"}).json()["hits"]
    return hits[0]["paper"]["id"]


def test_paper_page_has_everything_in_one_place(dated_client: TestClient) -> None:
    pid = paper_id(dated_client, 'ti:"part 4"')
    body = dated_client.get(f"/api/v1/papers/{pid}").json()
    assert body["paper"]["authors"] == ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra"]
    assert body["bibtex"].startswith("@misc{lovelace2026sparse,") and "Ada Lovelace and Alan Turing" in body["bibtex"]
    page = dated_client.get(f"/papers/{pid}").text
    assert "Ada Lovelace, Alan Turing, Grace Hopper, Edsger Dijkstra" in page  # all authors
    assert 'id="paper-link"' in page and f"http://testserver/papers/{pid}" in page and "Copy link" in page
    assert "@misc{lovelace2026sparse," in page and 'id="community"' in page and "0 votes" in page
    assert "Related papers" in page


def test_search_page_highlights_filters_and_pages(dated_client: TestClient) -> None:
    params = {"q": "sparse attention", "category": "cs.CL", "per_page": "3", "sort": "newest"}
    page = dated_client.get("/search", params=params).text
    assert "<mark>Sparse</mark> <mark>attention</mark> routing" in page
    assert 'value="cs.CL"' in page and '<option value="newest" selected>' in page
    assert 'href="/search?q=sparse+attention&amp;category=cs.CL&amp;sort=newest&amp;page=2&amp;per_page=3"' in page
    assert "Search syntax" in page and "ti:transformer" in page


def test_no_results_help(dated_client: TestClient) -> None:
    page = dated_client.get("/search", params={"q": "ti:zyxwvut", "has_code": "true"}).text
    assert "No papers match." in page and "search without them" in page


def test_subscribe_form_in_header_answers_check_your_inbox(dated_client: TestClient) -> None:
    home = dated_client.get("/").text
    assert "Get trending papers in your email inbox" in home and 'action="/subscribe"' in home
    answer = dated_client.post("/subscribe", data={"email": "ada@example.org"})
    assert answer.status_code == 200 and "Check the inbox" in answer.text
    assert dated_client.post("/subscribe", data={"email": "nope"}).status_code == 400


def test_static_files_carry_etags_and_answer_304(dated_client: TestClient) -> None:
    first = dated_client.get("/static/style.css")
    assert first.status_code == 200 and first.headers["etag"] and "max-age" in first.headers["cache-control"]
    again = dated_client.get("/static/style.css", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304


def test_cors_is_off_by_default_and_configurable(dated_client: TestClient, tmp_path: Path) -> None:
    origin = {"Origin": "https://reader.example"}
    assert "access-control-allow-origin" not in dated_client.get("/api/v1/papers", headers=origin).headers
    settings = dated_settings(tmp_path, cors_origins="https://reader.example", embed_model="none")
    with TestClient(create_app(settings)) as client:
        response = client.get("/api/v1/papers", headers=origin)
        assert response.headers["access-control-allow-origin"] == "https://reader.example"
        other = client.get("/api/v1/papers", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


@pytest.mark.parametrize(("method", "path", "kwargs"), [
    ("get", "/api/v1/papers", {"params": {"page": "x"}}),
    ("get", "/api/v1/papers/nothing-here", {}),
    ("get", "/api/v1/search", {"params": {"sort": "sideways", "q": "a"}}),
    ("get", "/api/v1/map", {"params": {"date": "yesterday"}}),
    ("post", "/api/v1/submit", {"content": b"{not json", "headers": {"content-type": "application/json"}}),
    ("get", "/feeds/papers.xml", {}),
    ("get", "/api/v1/no-such-endpoint", {}),
])
def test_every_endpoint_speaks_the_one_error_envelope(dated_client: TestClient, method: str, path: str,
                                                      kwargs: dict) -> None:
    response = getattr(dated_client, method)(path, **kwargs)
    assert 400 <= response.status_code < 500, response.text
    error = response.json()["error"]
    assert set(error) == {"code", "message", "field"} and error["code"] and error["message"]


def test_empty_form_fields_mean_not_given(dated_client: TestClient) -> None:
    """The filter form submits every field; blank ones must not be 400s."""
    params = {"q": "routing", "date_from": "", "date_to": "", "category": "", "has_code": "", "sort": "relevance"}
    api = dated_client.get("/api/v1/search", params=params)
    assert api.status_code == 200 and api.json()["hits"], api.text
    assert dated_client.get("/", params={"date": ""}).status_code == 200


def test_cors_setting_refuses_what_is_not_an_origin(tmp_path: Path) -> None:
    from paperfeed.errors import ConfigError

    with pytest.raises(ConfigError, match="PAPERFEED_CORS_ORIGINS.*not an origin"):
        dated_settings(tmp_path, cors_origins="https://ok.example, reader.example")
    assert dated_settings(tmp_path, cors_origins=" * ").cors_origins == ("*",)


def test_api_docs_load_nothing_from_elsewhere(dated_client: TestClient) -> None:
    page = dated_client.get("/docs").text
    assert "/docs-assets/swagger-ui-bundle.js" in page and "cdn" not in page.lower()
    script = dated_client.get("/docs-assets/swagger-ui-bundle.js")
    assert script.status_code == 200 and script.headers["etag"] and len(script.content) > 100_000
