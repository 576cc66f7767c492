"""Live-fetch tests against a real HTTP server on 127.0.0.1 (see conftest.py).

Time is faked: the injected clock only advances when the fetcher sleeps, so
the rate limit and backoff are checked exactly and no test waits 3 s.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest

from paperfeed.errors import InvalidInput, SourceError
from paperfeed.models import Paper, Rejected
from paperfeed.sources.arxiv_api import (
    USER_AGENT, ArxivBatch, RateLimiter, cursor_key, fetch_by_ids, iter_category)
from paperfeed.sources.arxiv_atom import ArxivApiError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "arxiv"
SINCE = date(2026, 11, 1)
TODAY = date(2026, 11, 27)


class FakeClock:
    """Monotonic clock that advances only through `sleep`."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class DictCursor:
    def __init__(self) -> None:
        self.data: dict[str, str] = {}

    def get_state(self, key: str) -> str | None:
        return self.data.get(key)

    def set_state(self, key: str, value: str) -> None:
        self.data[key] = value

    def state(self, category: str = "cs.CL") -> dict:
        return json.loads(self.data[cursor_key(category)])


class Crash(Exception):
    pass


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def request_times(clock):
    return []


@pytest.fixture
def client(clock, request_times):
    hooks = {"request": [lambda request: request_times.append(clock())]}
    with httpx.Client(timeout=2.0, event_hooks=hooks) as c:
        yield c


@pytest.fixture
def cursor():
    return DictCursor()


def run(server, client, clock, cursor, *, store=None, crash_on_page=None, **kwargs):
    """Consume iter_category like ingest does: persist, then commit."""
    store = {} if store is None else store
    options = dict(category="cs.CL", since=SINCE, client=client, cursor=cursor,
                   base_url=server.url, page_size=3, sleep=clock.sleep, clock=clock,
                   today=lambda: TODAY)
    options.update(kwargs)
    for n, batch in enumerate(iter_category(**options), start=1):
        for paper in batch.papers:
            store[paper.arxiv_id] = paper
        if n == crash_on_page:
            raise Crash(f"killed after storing page {n}")
        batch.commit()
    return store


def add_papers(server, count: int, day: int = 2, prefix: str = "2611.0") -> list[str]:
    ids = []
    for i in range(count):
        arxiv_id = f"{prefix}{1000 + i:04d}"
        server.arxiv.add(arxiv_id, f"2026-11-{day:02d}T{8 + i // 60:02d}:{i % 60:02d}:00+00:00")
        ids.append(arxiv_id)
    return ids


def assert_rate_limited(times: list[float], interval: float = 3.0) -> None:
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert gaps and min(gaps) >= interval - 1e-9, gaps


# ----------------------------------------------------------------- paging


def test_full_run_pages_through_everything(arxiv_server, client, clock, cursor, request_times):
    ids = add_papers(arxiv_server, 8)
    arxiv_server.arxiv.add("2611.09999", "2026-11-03T00:00:00+00:00", category="cs.LG")
    store = run(arxiv_server, client, clock, cursor)
    assert sorted(store) == ids
    assert arxiv_server.starts == [0, 3, 6]
    first = arxiv_server.seen[0]
    assert first.query == {
        "search_query": "cat:cs.CL AND submittedDate:[202611010000 TO 202611272359]",
        "sortBy": "submittedDate", "sortOrder": "ascending", "start": "0", "max_results": "3"}
    assert first.headers["User-Agent"] == USER_AGENT
    assert_rate_limited(request_times)
    assert clock.sleeps == [3.0, 3.0]  # only the rate limit, no backoff
    state = cursor.state()
    assert state["done"] is True and state["start"] == 8
    assert state["last_submitted"] == "2026-11-02T08:07:00+00:00"
    assert all(p.source == "arxiv-api" and p.fetched_at for p in store.values())


def test_batches_report_offsets(arxiv_server, client, clock, cursor):
    add_papers(arxiv_server, 5)
    batches = []
    for batch in iter_category(category="cs.CL", since=SINCE, client=client, cursor=cursor,
                               base_url=arxiv_server.url, page_size=3, sleep=clock.sleep,
                               clock=clock, today=lambda: TODAY):
        batches.append((batch.start, batch.next_start, batch.total_results, batch.is_last))
        batch.commit()
    assert batches == [(0, 3, 5, False), (3, 5, 5, True)]


def test_explicit_until_bounds_the_window(arxiv_server, client, clock, cursor):
    add_papers(arxiv_server, 2, day=2)
    add_papers(arxiv_server, 2, day=20, prefix="2611.1")
    store = run(arxiv_server, client, clock, cursor, until=date(2026, 11, 10))
    assert sorted(store) == ["2611.01000", "2611.01001"]
    assert "TO 202611102359]" in arxiv_server.seen[0].query["search_query"]


def test_no_results_marks_cursor_done(arxiv_server, client, clock, cursor):
    assert run(arxiv_server, client, clock, cursor) == {}
    assert len(arxiv_server.seen) == 1
    assert cursor.state()["done"] is True


# ------------------------------------------------------------------ resume


def test_crash_between_pages_resumes_at_saved_offset(arxiv_server, client, clock, cursor):
    ids = add_papers(arxiv_server, 10)
    store: dict[str, Paper] = {}
    with pytest.raises(Crash):
        run(arxiv_server, client, clock, cursor, store=store, crash_on_page=3)
    state = cursor.state()
    assert (state["start"], state["done"]) == (6, False)  # page 3 was stored, not committed
    arxiv_server.seen.clear()

    run(arxiv_server, client, clock, cursor, store=store)
    assert arxiv_server.starts == [6, 9]
    assert "[202611010000 TO 202611272359]" in arxiv_server.seen[0].query["search_query"]
    assert sorted(store) == ids
    assert cursor.state()["done"] is True


def test_resume_keeps_the_original_window_on_a_later_day(arxiv_server, client, clock, cursor):
    ids = add_papers(arxiv_server, 6)
    store: dict[str, Paper] = {}
    with pytest.raises(Crash):
        run(arxiv_server, client, clock, cursor, store=store, crash_on_page=2)
    arxiv_server.seen.clear()
    run(arxiv_server, client, clock, cursor, store=store, today=lambda: date(2026, 11, 28))
    assert "TO 202611272359]" in arxiv_server.seen[0].query["search_query"]
    assert sorted(store) == ids


def test_second_run_fetches_only_newer_papers(arxiv_server, client, clock, cursor):
    add_papers(arxiv_server, 7)  # newest: 2611.01006 at 2026-11-02 08:06
    run(arxiv_server, client, clock, cursor)
    arxiv_server.seen.clear()
    arxiv_server.arxiv.add("2611.02000", "2026-11-02T08:06:30+00:00")  # same minute, new
    arxiv_server.arxiv.add("2611.02001", "2026-11-26T09:00:00+00:00")
    arxiv_server.arxiv.add("2611.00001", "2026-11-01T00:00:00+00:00", category="cs.LG")

    second = run(arxiv_server, client, clock, cursor, today=lambda: date(2026, 11, 28))
    assert sorted(second) == ["2611.02000", "2611.02001"]
    assert arxiv_server.seen[0].query["search_query"] == (
        "cat:cs.CL AND submittedDate:[202611020806 TO 202611282359]")
    state = cursor.state()
    assert state["last_submitted"] == "2026-11-26T09:00:00+00:00"
    assert state["last_ids"] == ["2611.02001"]

    arxiv_server.seen.clear()
    assert run(arxiv_server, client, clock, cursor, today=lambda: date(2026, 11, 28)) == {}


def test_lookback_catches_late_announced_papers(arxiv_server, client, clock, cursor):
    add_papers(arxiv_server, 3)  # 08:00..08:02 on Nov 2
    run(arxiv_server, client, clock, cursor)
    arxiv_server.seen.clear()
    arxiv_server.arxiv.add("2611.03000", "2026-11-02T07:30:00+00:00")  # announced late
    assert run(arxiv_server, client, clock, cursor) == {}
    arxiv_server.seen.clear()
    again = run(arxiv_server, client, clock, cursor, lookback=timedelta(hours=1))
    assert "[202611020702 TO" in arxiv_server.seen[0].query["search_query"]
    assert sorted(again) == ["2611.01000", "2611.01001", "2611.03000"]  # 08:02 was last_ids


def test_earlier_since_starts_a_backfill(arxiv_server, client, clock, cursor):
    ids = add_papers(arxiv_server, 4)
    run(arxiv_server, client, clock, cursor)
    arxiv_server.seen.clear()
    again = run(arxiv_server, client, clock, cursor, since=date(2026, 10, 1))
    assert sorted(again) == ids
    assert "[202610010000 TO" in arxiv_server.seen[0].query["search_query"]


def test_unreadable_cursor_starts_from_since(arxiv_server, client, clock, cursor):
    ids = add_papers(arxiv_server, 2)
    cursor.set_state(cursor_key("cs.CL"), "{not json")
    assert sorted(run(arxiv_server, client, clock, cursor)) == ids


def test_uncommitted_batch_stops_the_run(arxiv_server, client, clock, cursor):
    add_papers(arxiv_server, 6)
    batches = iter_category(category="cs.CL", since=SINCE, client=client, cursor=cursor,
                            base_url=arxiv_server.url, page_size=3, sleep=clock.sleep,
                            clock=clock, today=lambda: TODAY)
    first = next(batches)
    assert isinstance(first, ArxivBatch) and len(first.papers) == 3
    with pytest.raises(RuntimeError, match="commit"):
        next(batches)
    assert cursor.get_state(cursor_key("cs.CL")) is None


def test_bad_category_is_invalid_input(arxiv_server, client, clock, cursor):
    with pytest.raises(InvalidInput) as info:
        run(arxiv_server, client, clock, cursor, category="cs.CL OR cat:x")
    assert info.value.field == "category"
    assert arxiv_server.seen == []


# ----------------------------------------------------------------- retries


def test_503_is_retried_with_exponential_backoff(arxiv_server, client, clock, cursor,
                                                 request_times):
    ids = add_papers(arxiv_server, 2)
    arxiv_server.queue(arxiv_server.Reply(503, b"busy"), arxiv_server.Reply(503, b"busy"))
    assert sorted(run(arxiv_server, client, clock, cursor)) == ids
    assert len(arxiv_server.seen) == 3
    assert clock.sleeps == [3.0, 6.0]  # backoff 3 s, then 6 s; the limiter had no wait left
    assert_rate_limited(request_times)


def test_retry_after_is_respected(arxiv_server, client, clock, cursor):
    add_papers(arxiv_server, 1)
    arxiv_server.queue(arxiv_server.Reply(429, b"slow down", {"Retry-After": "17"}))
    run(arxiv_server, client, clock, cursor)
    assert clock.sleeps == [17.0]


def test_malformed_page_is_retried(arxiv_server, client, clock, cursor):
    ids = add_papers(arxiv_server, 4)
    truncated = (FIXTURES / "truncated.xml").read_bytes()
    arxiv_server.queue(arxiv_server.Reply(200, truncated),
                       arxiv_server.Reply(200, b"Rate exceeded."))
    assert sorted(run(arxiv_server, client, clock, cursor)) == ids
    assert arxiv_server.starts == [0, 0, 0, 3]


def test_empty_page_mid_stream_is_retried(arxiv_server, client, clock, cursor):
    ids = add_papers(arxiv_server, 5)
    arxiv_server.queue(arxiv_server.empty_feed(total=5, start=0, per_page=3))
    assert sorted(run(arxiv_server, client, clock, cursor)) == ids
    assert arxiv_server.starts == [0, 0, 3]


def test_persistent_empty_page_fails_and_keeps_cursor(arxiv_server, client, clock, cursor):
    add_papers(arxiv_server, 5)
    store: dict[str, Paper] = {}
    with pytest.raises(Crash):
        run(arxiv_server, client, clock, cursor, store=store, crash_on_page=2)
    empty = arxiv_server.empty_feed(total=5, start=3, per_page=3)
    arxiv_server.queue(*[empty] * 3)
    with pytest.raises(SourceError, match="empty page at start=3"):
        run(arxiv_server, client, clock, cursor, store=store, max_retries=2)
    assert cursor.state()["start"] == 3


def test_dropped_connection_and_timeout_are_retried(arxiv_server, clock, cursor):
    ids = add_papers(arxiv_server, 2)
    arxiv_server.queue(arxiv_server.Reply(drop=True), arxiv_server.Reply(delay=0.5, body=b"late"))
    with httpx.Client(timeout=0.1) as quick:
        assert sorted(run(arxiv_server, quick, clock, cursor)) == ids
    assert len(arxiv_server.seen) == 3
    assert clock.sleeps == [3.0, 6.0]


def test_giving_up_names_url_and_status(arxiv_server, client, clock, cursor):
    arxiv_server.queue(*[arxiv_server.Reply(503, b"down")] * 4)
    with pytest.raises(SourceError) as info:
        run(arxiv_server, client, clock, cursor, max_retries=3)
    message = str(info.value)
    assert "HTTP 503" in message and arxiv_server.url in message and "4 attempts" in message
    assert len(arxiv_server.seen) == 4
    assert clock.sleeps == [3.0, 6.0, 12.0]
    assert cursor.get_state(cursor_key("cs.CL")) is None


def test_arxiv_error_feed_is_not_retried(arxiv_server, client, clock, cursor):
    arxiv_server.queue(arxiv_server.Reply(400, (FIXTURES / "error_feed.xml").read_bytes()))
    with pytest.raises(ArxivApiError, match="incorrect id format"):
        run(arxiv_server, client, clock, cursor)
    assert len(arxiv_server.seen) == 1


def test_other_client_errors_are_not_retried(arxiv_server, client, clock, cursor):
    arxiv_server.queue(arxiv_server.Reply(403, b"forbidden"))
    with pytest.raises(SourceError, match="HTTP 403"):
        run(arxiv_server, client, clock, cursor)
    assert len(arxiv_server.seen) == 1


# ------------------------------------------------------------------- by id


def test_fetch_by_ids(arxiv_server, client, clock):
    arxiv_server.arxiv.add("2401.01234", "2024-01-03T18:59:59+00:00", version=2)
    arxiv_server.arxiv.add("hep-th/9901001", "1999-01-04T12:00:00+00:00", category="hep-th")
    items = fetch_by_ids(["https://arxiv.org/abs/2401.01234v2", "hep-th/9901001",
                          "arXiv:2402.00001", "2401.01234v2"],
                         client=client, base_url=arxiv_server.url, sleep=clock.sleep,
                         clock=clock)
    assert arxiv_server.seen[0].query == {
        "id_list": "2401.01234v2,hep-th/9901001,2402.00001", "start": "0", "max_results": "3"}
    papers = [i for i in items if isinstance(i, Paper)]
    assert [p.source_id for p in papers] == ["2401.01234v2", "hep-th/9901001v1"]
    assert items[-1] == Rejected(where="id arXiv:2402.00001", field="arxiv_id",
                                 reason="arXiv has no paper 2402.00001")


def test_fetch_by_ids_chunks_and_shares_a_rate_limiter(arxiv_server, client, clock,
                                                      request_times):
    ids = add_papers(arxiv_server, 5)
    limiter = RateLimiter(3.0, sleep=clock.sleep, clock=clock)
    first = fetch_by_ids(ids, client=client, base_url=arxiv_server.url, limiter=limiter,
                         sleep=clock.sleep, chunk_size=2)
    second = fetch_by_ids(ids[:1], client=client, base_url=arxiv_server.url,
                          limiter=limiter, sleep=clock.sleep)
    assert [p.arxiv_id for p in first] == ids and len(second) == 1
    assert len(request_times) == 4
    assert_rate_limited(request_times)


def test_fetch_by_ids_rejects_bad_ids_before_any_request(arxiv_server, client):
    with pytest.raises(InvalidInput):
        fetch_by_ids(["2401.01234", "not-an-id"], client=client, base_url=arxiv_server.url)
    assert arxiv_server.seen == []


def test_rate_limiter_only_sleeps_the_remainder(clock):
    limiter = RateLimiter(3.0, sleep=clock.sleep, clock=clock)
    limiter.wait()
    clock.now += 1.0
    limiter.wait()
    clock.now += 5.0
    limiter.wait()
    assert clock.sleeps == [2.0]
