"""Vote and comment counts on cards (home, search, trending) and in the list APIs' paper
objects, on both stores; one query per list however many cards."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from paperfeed.web.session import CSRF_COOKIE
from tests.web.test_community_web import CapturingMailer, app_client, sign_in  # noqa: F401 - fixture


def _post(client: TestClient, path: str, **data: str) -> int:
    return client.post(path, data={**data, "csrf": client.cookies[CSRF_COOKIE]}, follow_redirects=False).status_code


def _activity(client: TestClient, mailer: CapturingMailer) -> None:
    """fresh0: 2 votes, 3 comments (one deleted: 2 visible); fresh1: 1 vote; old: 1 comment."""
    for email in ("ada@example.org", "bob@example.org"):
        sign_in(client, mailer, email)
        assert _post(client, "/vote", paper_id="fresh0", next="/") == 303
    assert _post(client, "/vote", paper_id="fresh1", next="/") == 303
    for paper_id, body in (("fresh0", "one"), ("fresh0", "two"), ("fresh0", "gone"), ("old", "late")):
        assert _post(client, "/comments", paper_id=paper_id, body=body) == 303
    gone = [c for c in client.get("/api/v1/comments", params={"paper_id": "fresh0"}).json()["comments"]
            if c["body"] == "gone"][0]
    assert _post(client, f"/comments/{gone['id']}/delete") == 303


def _counts(papers: list[dict]) -> dict[str, tuple[int, int]]:  # type: ignore[type-arg]
    return {p["id"]: (p["votes"], p["comment_count"]) for p in papers}


EXPECTED = {"fresh0": (2, 2), "fresh1": (1, 0), "fresh2": (0, 0)}
WITH_OLD = {**EXPECTED, "old": (0, 1)}  # "paper" also finds the old one


def test_list_apis_carry_real_votes_and_comment_counts(app_client: tuple[TestClient, CapturingMailer]) -> None:
    client, mailer = app_client
    _activity(client, mailer)
    home = client.get("/api/v1/papers", params={"view": "week"}).json()["papers"]
    assert _counts(home) == EXPECTED
    found = client.get("/api/v1/search", params={"q": "fresh paper", "mode": "bm25"}).json()["hits"]
    assert _counts([h["paper"] for h in found]) == WITH_OLD
    trending = client.get("/api/v1/trending", params={"view": "week"}).json()["papers"]
    assert _counts(trending) == EXPECTED
    one = client.get("/api/v1/papers/fresh0").json()["paper"]
    assert (one["votes"], one["comment_count"]) == (2, 2)
    old = client.get("/api/v1/papers/old").json()["paper"]
    assert (old["votes"], old["comment_count"]) == (0, 1)
    made = client.post("/collections", data={"name": "counts", "paper_id": "fresh0",
                                             "csrf": client.cookies[CSRF_COOKIE]}, follow_redirects=False)
    cid = made.headers["location"].rsplit("/", 1)[1]
    exported = client.get(f"/api/v1/collections/{cid}.json").json()["papers"]
    assert _counts(exported) == {"fresh0": (2, 2)}


def _card_numbers(html: str) -> dict[str, tuple[int, int]]:
    cards = re.findall(r'<article class="card">.*?</article>', html, flags=re.S)
    found = {}
    for card in cards:
        paper_id = re.search(r'href="/papers/([^"#]+)"', card).group(1)  # type: ignore[union-attr]
        votes = int(re.search(r'<span class="count">(\d+)</span>', card).group(1))  # type: ignore[union-attr]
        comments = int(re.search(r'class="comment-count"[^>]*>.*?</span> (\d+)<', card).group(1))  # type: ignore[union-attr]
        found[paper_id] = (votes, comments)
    return found


def test_cards_show_comment_counts_beside_votes(app_client: tuple[TestClient, CapturingMailer]) -> None:
    client, mailer = app_client
    _activity(client, mailer)
    for url, expected in (("/?view=week", EXPECTED), ("/search?q=fresh+paper&mode=bm25", WITH_OLD),
                          ("/trending?view=week", EXPECTED)):
        assert _card_numbers(client.get(url).text) == expected, url
    assert 'href="/papers/fresh0#comments"' in client.get("/trending?view=week").text


def test_one_count_query_per_list(app_client: tuple[TestClient, CapturingMailer]) -> None:
    client, mailer = app_client
    _activity(client, mailer)
    community = client.app.state.engine.store.community  # type: ignore[attr-defined]
    calls: list[int] = []
    original = community.card_counts
    community.card_counts = lambda ids: calls.append(len(list(ids))) or original(ids)
    try:
        client.get("/?view=week")
        client.get("/api/v1/papers", params={"view": "week"})
    finally:
        del community.card_counts
    assert calls == [3, 3]  # one call per list, with every card's id
