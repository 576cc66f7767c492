"""The web app over the real demo corpus: pages, their JSON twins, the error envelope."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

SEED_TITLE = "Talking Models: Distill Pre-trained Knowledge to Downstream Models via Interactive Communication"


def test_demo_corpus_is_loaded_and_searchable(client: TestClient) -> None:
    body = client.get("/api/v1/search", params={"q": "pre-trained knowledge"}).json()
    titles = [hit["paper"]["title"] for hit in body["hits"]]
    assert len(titles) == 20 and body["pagination"]["has_next"]
    assert SEED_TITLE in titles
    assert all("knowledge" in (h["paper"]["title"] + h["paper"]["abstract"]).lower() for h in body["hits"][:5])


def test_page_and_json_twin_show_the_same_papers(client: TestClient) -> None:
    api = client.get("/api/v1/search", params={"q": "distillation", "per_page": 5}).json()
    page = client.get("/search", params={"q": "distillation", "per_page": 5})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for hit in api["hits"]:
        assert f'href="/papers/{hit["paper"]["id"]}"' in page.text


def test_home_lists_papers_with_paging(client: TestClient) -> None:
    first = client.get("/api/v1/papers", params={"per_page": 50}).json()
    assert first["pagination"] == {"page": 1, "per_page": 50, "has_next": True, "total": 123}
    third = client.get("/api/v1/papers", params={"per_page": 50, "page": 3}).json()
    assert len(third["papers"]) == 23 and not third["pagination"]["has_next"]
    assert client.get("/").status_code == 200


def test_paper_page_and_twin(client: TestClient) -> None:
    hit = client.get("/api/v1/search", params={"q": SEED_TITLE, "per_page": 1}).json()["hits"][0]
    paper_id = hit["paper"]["id"]
    body = client.get(f"/api/v1/papers/{paper_id}").json()
    twin = body["paper"]
    assert twin["title"] == SEED_TITLE and twin["abstract"].startswith("Many recent breakthroughs")
    related = [p["id"] for p in body["related"]]
    assert len(related) == 8 and paper_id not in related
    page = client.get(f"/papers/{paper_id}")
    assert page.status_code == 200 and "Many recent breakthroughs" in page.text
    assert "Related papers" in page.text and f'href="/papers/{related[0]}"' in page.text


def test_pasted_title_redirects_to_the_paper(client: TestClient) -> None:
    response = client.get("/search", params={"q": SEED_TITLE}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/papers/pf-")


def test_search_filters_sort_and_mode_parameters(client: TestClient) -> None:
    code_only = client.get("/api/v1/search", params={"q": "knowledge", "has_code": "true"}).json()
    assert code_only["hits"] and all(hit["paper"]["has_code"] for hit in code_only["hits"])
    keyword = client.get("/api/v1/search", params={"q": "knowledge", "mode": "bm25"}).json()
    assert keyword["mode"] == "bm25" and keyword["hits"]
    newest = client.get("/api/v1/search", params={"q": "knowledge", "sort": "newest"})  # undated papers
    assert newest.status_code == 200 and newest.json()["hits"]
    bad = client.get("/api/v1/search", params={"q": "knowledge", "mode": "psychic"})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "mode"


def test_code_links_from_seed_abstracts_are_extracted(client: TestClient) -> None:
    papers = client.get("/api/v1/papers", params={"per_page": 100}).json()["papers"]
    papers += client.get("/api/v1/papers", params={"per_page": 100, "page": 2}).json()["papers"]
    with_code = [p for p in papers if p["has_code"]]
    assert len(with_code) >= 25  # the seed has 38 papers with links, most to GitHub
    for paper in with_code:
        for link in paper["links"]:
            assert not link["url"].endswith((".", ",", ")"))


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/v1/papers", {"page": "0"}, "page"),
        ("/api/v1/papers", {"page": "abc"}, "page"),
        ("/api/v1/papers", {"per_page": "1000"}, "per_page"),
        ("/api/v1/search", {"q": "x", "per_page": "-1"}, "per_page"),
        ("/api/v1/search", {"q": "x" * 1001}, "q"),
        ("/api/v1/search", {"q": "x", "page": "99999"}, "offset"),
    ],
)
def test_bad_parameters_are_400s_in_the_error_envelope(client: TestClient, path: str, params: dict, field: str) -> None:
    response = client.get(path, params=params)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["field"] == field and error["code"] in {"invalid", "bad_request"} and error["message"]


def test_unknown_paper_is_a_404_envelope_and_an_html_page(client: TestClient) -> None:
    api = client.get("/api/v1/papers/no-such-paper")
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"
    page = client.get("/papers/no-such-paper")
    assert page.status_code == 404 and "No paper has the id" in page.text
    assert client.get("/api/v1/nowhere").json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "query", ["title:(", "AND OR NOT", "*", "a:b:c", "<script>alert(1)</script>", "\\", "[1 TO", "ti:x -y +z"]
)
def test_hostile_queries_never_500_and_are_escaped(client: TestClient, query: str) -> None:
    api = client.get("/api/v1/search", params={"q": query})
    assert api.status_code == 200, api.text
    page = client.get("/search", params={"q": query})
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text


@pytest.mark.parametrize(
    ("query", "position"), [('"unclosed phrase', 0), ("ti:", 0), ("graph year:2025..2020", 11), ('a "<script>', 2)]
)
def test_bad_query_syntax_is_a_400_naming_the_position(client: TestClient, query: str, position: int) -> None:
    api = client.get("/api/v1/search", params={"q": query})
    assert api.status_code == 400
    error = api.json()["error"]
    assert error["field"] == "q" and f"at position {position}" in error["message"]
    page = client.get("/search", params={"q": query})
    assert page.status_code == 400 and f"at position {position}" in page.text
    assert "<script>" not in page.text


def test_openapi_lists_the_api(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/v1/papers", "/api/v1/search", "/api/v1/papers/{paper_id}"} <= set(paths)
