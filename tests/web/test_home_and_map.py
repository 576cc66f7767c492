"""Home (day/week/month with navigation and "new" badges) and the map, page and JSON twin."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient


def titles(body: dict) -> list[str]:
    return [p["title"] for p in body["papers"]]


def test_home_defaults_to_the_newest_day_with_papers(dated_client: TestClient) -> None:
    body = dated_client.get("/api/v1/papers").json()
    assert body["period"] == {"view": "day", "start": "2026-11-04", "end": "2026-11-04",
                              "label": "Wednesday, November 4, 2026"}
    assert titles(body) == ["Diffusion models for video generation"]
    assert body["previous"]["start"] == "2026-11-03" and body["next"] is None  # today is Nov 4


def test_day_view_lists_that_day_newest_first_with_paging(dated_client: TestClient) -> None:
    first = dated_client.get("/api/v1/papers", params={"date": "2026-11-02", "per_page": 5}).json()
    assert first["pagination"] == {"page": 1, "per_page": 5, "has_next": True, "total": 7}
    assert titles(first)[0].endswith("part 7") and all("part" in t for t in titles(first))
    second = dated_client.get("/api/v1/papers", params={"date": "2026-11-02", "per_page": 5, "page": 2}).json()
    assert len(second["papers"]) == 2 and not second["pagination"]["has_next"]
    assert first["next"]["start"] == "2026-11-03" and first["previous"]["start"] == "2026-11-01"


def test_week_and_month_views(dated_client: TestClient) -> None:
    week = dated_client.get("/api/v1/papers", params={"view": "week", "date": "2026-11-04"}).json()
    assert (week["period"]["start"], week["period"]["end"]) == ("2026-11-02", "2026-11-08")
    assert week["pagination"]["total"] == 9
    month = dated_client.get("/api/v1/papers", params={"view": "month", "date": "2026-10-20"}).json()
    assert month["period"]["label"] == "October 2026"
    assert set(titles(month)) == {"Reinforcement learning for robot grasping", "A survey of retrieval augmented generation"}
    assert month["previous"]["start"] == "2026-09-01" and month["next"]["start"] == "2026-11-01"


def test_new_badge_marks_the_last_three_days(dated_client: TestClient) -> None:
    month = dated_client.get("/api/v1/papers", params={"view": "month", "date": "2026-11-04"}).json()
    new = [p["published"][:10] for p in month["papers"] if p["new"]]
    assert len(new) == 9 and set(new) == {"2026-11-02", "2026-11-03", "2026-11-04"}  # today is Nov 4
    old_week = dated_client.get("/api/v1/papers", params={"view": "week", "date": "2026-10-30"}).json()
    assert [p["new"] for p in old_week["papers"]] == [False]
    page = dated_client.get("/", params={"view": "week", "date": "2026-11-04"}).text
    assert page.count('class="new"') == 9


def test_home_page_navigation_links_and_cards(dated_client: TestClient) -> None:
    page = dated_client.get("/", params={"date": "2026-11-02"}).text
    assert "<h1>Monday, November 2, 2026</h1>" in page
    assert 'href="/?view=day&amp;date=2026-11-01"' in page and 'href="/?view=day&amp;date=2026-11-03"' in page
    assert page.count('<article class="card">') == 7
    assert "Ada Lovelace, Alan Turing, Grace Hopper et al." in page  # four authors, shortened
    assert page.count(">code</a>") == 3 and 'href="https://github.com/example/routing-0"' in page
    assert re.search(r'class="votes"[^>]*>.*?<span class="count">0</span>', page)  # the vote count slot


def test_empty_day_says_so(dated_client: TestClient) -> None:
    body = dated_client.get("/api/v1/papers", params={"date": "2026-11-01"}).json()
    assert body["papers"] == [] and body["pagination"]["total"] == 0
    assert "No papers in this day" in dated_client.get("/", params={"date": "2026-11-01"}).text


@pytest.mark.parametrize(("params", "field"), [
    ({"view": "year"}, "view"), ({"date": "2026-13-01"}, "date"), ({"date": "0001-01-01"}, "date"),
    ({"date": "9999-12-31", "view": "month"}, "date"), ({"per_page": "0"}, "per_page"),
    ({"page": "461168601842738792"}, "page"),  # found by the fuzzer: was an SQLite OverflowError
])
def test_bad_home_parameters_are_400s(dated_client: TestClient, params: dict, field: str) -> None:
    api = dated_client.get("/api/v1/papers", params=params)
    assert api.status_code == 400 and api.json()["error"]["field"] == field, api.text
    assert dated_client.get("/", params=params).status_code == 400


def test_undated_store_lists_every_paper(client: TestClient) -> None:
    body = client.get("/api/v1/papers", params={"per_page": 5}).json()
    assert body["period"] is None and body["pagination"]["total"] == 123
    assert "listed newest-added first rather than by day" in client.get("/").text


def test_map_places_each_paper_of_the_period(dated_client: TestClient) -> None:
    body = dated_client.get("/api/v1/map", params={"view": "week", "date": "2026-11-02"}).json()
    points = body["points"]
    assert body["papers_in_period"] == 9 and len(points) == 9
    assert all(0 <= p["x"] <= 1 and 0 <= p["y"] <= 1 for p in points)
    assert len({(p["x"], p["y"]) for p in points}) > 3  # spread out, not stacked
    assert body["colours"]["cs.CL"] != body["colours"]["cs.CV"]
    # the seven "sparse attention" papers sit closer to each other than to the protein paper
    routing = [(p["x"], p["y"]) for p in points if "routing" in p["title"]]
    protein = next((p["x"], p["y"]) for p in points if "protein" in p["title"])
    centre = (sum(x for x, _ in routing) / 7, sum(y for _, y in routing) / 7)
    spread = max(abs(x - centre[0]) + abs(y - centre[1]) for x, y in routing)
    assert abs(protein[0] - centre[0]) + abs(protein[1] - centre[1]) > spread


def test_map_page_is_svg_with_a_link_per_dot(dated_client: TestClient) -> None:
    page = dated_client.get("/map", params={"view": "week", "date": "2026-11-02"}).text
    assert page.count('fill-opacity="0.8"') == 9 and page.count('<a href="/papers/') >= 9
    assert "<svg" in page and "http" not in page.split("<svg", 1)[1].split("</svg>")[0].replace(
        'xmlns="http://www.w3.org/2000/svg"', "")  # nothing loaded from elsewhere
    assert dated_client.get("/api/v1/map", params={"view": "decade"}).status_code == 400


def test_map_of_an_empty_period(dated_client: TestClient) -> None:
    """Found by the fuzzer: a period without papers was a 500."""
    body = dated_client.get("/api/v1/map", params={"view": "day", "date": "2026-11-01"}).json()
    assert body["points"] == [] and body["papers_in_period"] == 0
    assert "No papers in this day" in dated_client.get("/map", params={"view": "day", "date": "2026-11-01"}).text
