"""Atom and RSS feeds: valid per feedparser, stable entry ids, discoverable, cacheable."""

from __future__ import annotations

import feedparser
import pytest
from fastapi.testclient import TestClient


def parse(client: TestClient, path: str, **params: str) -> feedparser.FeedParserDict:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed


@pytest.mark.parametrize(("fmt", "version"), [("atom", "atom10"), ("rss", "rss20")])
def test_newest_papers_feed_is_valid(dated_client: TestClient, fmt: str, version: str) -> None:
    feed = parse(dated_client, f"/feeds/papers.{fmt}")
    assert feed.version == version and len(feed.entries) == 12
    first = feed.entries[0]
    assert first.title == "Diffusion models for video generation"
    assert first.link.startswith("http://testserver/papers/")
    assert first.id.startswith("tag:paperfeed,2026:paper/")
    assert "diffusion model generates video" in first.summary
    assert first.published_parsed[:3] == (2026, 11, 4)
    routing = next(e for e in feed.entries if e.title.endswith("part 4"))
    assert [a.name for a in routing.authors] if fmt == "atom" else routing.author, routing
    assert {t.term for t in routing.tags} == {"cs.CL", "cs.LG"}


def test_entry_ids_are_stable_across_fetches_and_formats(dated_client: TestClient) -> None:
    atom = parse(dated_client, "/feeds/papers.atom")
    again = parse(dated_client, "/feeds/papers.atom", limit="5")
    rss = parse(dated_client, "/feeds/papers.rss")
    assert [e.id for e in again.entries] == [e.id for e in atom.entries][:5]
    assert [e.id for e in rss.entries] == [e.id for e in atom.entries]
    assert len({e.id for e in atom.entries}) == 12


def test_category_feed(dated_client: TestClient) -> None:
    feed = parse(dated_client, "/feeds/category/cs.LG.atom")
    assert feed.entries and all("cs.LG" in {t.term for t in e.tags} for e in feed.entries)
    assert len(feed.entries) == 3
    assert parse(dated_client, "/feeds/category/hep-th.rss").entries == []


def test_search_feed_and_its_discovery_link(dated_client: TestClient) -> None:
    feed = parse(dated_client, "/feeds/search.atom", q="sparse attention", category="cs.LG")
    assert len(feed.entries) == 3 and all("routing" in e.title for e in feed.entries)
    dates = [e.published_parsed for e in feed.entries]
    assert dates == sorted(dates, reverse=True)  # newest first
    page = dated_client.get("/search", params={"q": "sparse attention", "category": "cs.LG"}).text
    assert ('<link rel="alternate" type="application/atom+xml" title="paperfeed: sparse attention (Atom)" '
            'href="/feeds/search.atom?q=sparse+attention&amp;category=cs.LG">') in page


def test_feed_etag_answers_304(dated_client: TestClient) -> None:
    first = dated_client.get("/feeds/papers.atom")
    etag = first.headers["etag"]
    again = dated_client.get("/feeds/papers.atom", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert first.headers["content-type"] == "application/atom+xml; charset=utf-8"


def test_hostile_text_in_feeds_stays_well_formed(dated_client: TestClient) -> None:
    parse(dated_client, "/feeds/search.atom", q="<b>&\x01 routing")
    parse(dated_client, "/feeds/search.rss", q="]]> <![CDATA[ routing")


@pytest.mark.parametrize(("path", "params", "field"), [
    ("/feeds/papers.json", {}, "format"),
    ("/feeds/papers.atom", {"limit": "0"}, "limit"),
    ("/feeds/papers.rss", {"limit": "101"}, "limit"),
    ("/feeds/search.atom", {}, "q"),
    ("/feeds/search.atom", {"q": "x", "date_from": "0001-01-01"}, "date_from"),
    ("/feeds/category/not a category!.atom", {}, "category"),
])
def test_bad_feed_requests_are_400_envelopes(dated_client: TestClient, path: str, params: dict, field: str) -> None:
    response = dated_client.get(path, params=params)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["field"] == field
