"""Live arXiv API fetcher: polite, persistent and resumable.

HTTP lives here; parsing lives in `arxiv_atom` (pure). arXiv asks for at most
one request every 3 s on one connection, so every request goes through a
`RateLimiter` (clock and sleep injectable so tests run instantly). HTTP 429/5xx,
connection errors, timeouts, unparseable pages (arXiv sometimes truncates
them or answers "Rate exceeded.") and empty pages before `totalResults` is
reached are retried with exponential backoff (honouring `Retry-After`); after
`max_retries` a `SourceError` names the URL and the last problem.

Cursor protocol (explicit commit). `iter_category` yields `ArxivBatch`es::

    for batch in iter_category(category="cs.CL", since=date(2026, 11, 1),
                               client=client, cursor=store):
        store.upsert(batch.papers)   # persist first ...
        batch.commit()               # ... then advance the cursor

`commit()` writes the cursor (JSON under `arxiv-api:cursor:<category>`), so a
crash between persisting and committing only re-fetches that one page. The
generator refuses to fetch the next page until the previous batch is
committed, so a forgotten commit fails loudly instead of silently skipping.

The cursor holds the query window (`window_from`/`window_to`, arXiv
submittedDate bounds in GMT), the next offset `start`, `done`, and the newest
submission seen (`last_submitted`, plus `last_ids` submitted in that minute).
 * A run interrupted mid-window resumes the same window at `start` (results
   are sorted by submittedDate ascending, so offsets stay stable).
 * After a complete run the next window starts at `last_submitted`'s minute
   (submittedDate has minute granularity); papers in `last_ids` are dropped,
   so a daily cron sees only new submissions. `lookback` widens that start
   to catch papers announced after later-submitted ones (re-delivers some).
 * A different `since`/`until` than the cursor's starts a new window; an
   earlier `since` re-fetches from there (backfill), a later one moves ahead.
Only new submissions are found: revisions keep their v1 submittedDate.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Protocol

import httpx

from paperfeed.errors import InvalidInput, SourceError
from paperfeed.models import Paper, Rejected
from paperfeed.sources.arxiv_atom import ArxivApiError, FeedPage, parse_arxiv_id, parse_feed

DEFAULT_BASE_URL = "https://export.arxiv.org/api/query"
USER_AGENT = "paperfeed/0.1 (self-hosted research-paper discovery; arXiv API client)"
MAX_DELAY = 600.0  # cap on one backoff / Retry-After wait, so cron runs end
_CATEGORY_RE = re.compile(r"^[a-z]+(?:-[a-z]+)?(?:\.[A-Za-z]+(?:-[A-Za-z]+)?)?$")
_MINUTE = "%Y%m%d%H%M"
log = logging.getLogger(__name__)

Item = Paper | Rejected


class CursorStore(Protocol):
    """Small key/value state the store provides (e.g. a `state` table)."""

    def get_state(self, key: str) -> str | None: ...

    def set_state(self, key: str, value: str) -> None: ...


class RateLimiter:
    """Guarantees >= min_interval seconds between request starts.

    Share one instance between calls to keep the limit across them.
    """

    def __init__(self, min_interval: float = 3.0, *, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.min_interval = min_interval
        self._sleep = sleep
        self._clock = clock
        self._last: float | None = None

    def wait(self) -> None:
        if self._last is not None:
            remaining = self._last + self.min_interval - self._clock()
            if remaining > 0:
                self._sleep(remaining)
        self._last = self._clock()


class _Transient(Exception):
    """One attempt failed in a way worth retrying."""

    def __init__(self, problem: str, retry_after: float | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.retry_after = retry_after


@dataclass
class _Fetcher:
    """Rate-limited GET + parse with retries; one per run."""

    client: httpx.Client
    base_url: str
    limiter: RateLimiter
    max_retries: int
    sleep: Callable[[float], None]
    backoff: float

    def get_page(self, params: dict[str, str], *, start: int | None = None) -> FeedPage:
        """Fetch one page; with `start`, an empty page short of totalResults is transient."""
        url = httpx.URL(self.base_url, params=params)
        problem = ""
        for attempt in range(self.max_retries + 1):
            self.limiter.wait()
            try:
                return self._attempt(url, start)
            except _Transient as exc:
                problem = exc.problem
                if attempt < self.max_retries:
                    delay = self._backoff(attempt) if exc.retry_after is None else exc.retry_after
                    log.warning("arXiv %s: %s; retrying in %.1fs", url, problem, delay)
                    self.sleep(min(delay, MAX_DELAY))
        raise SourceError(
            f"arXiv API request failed after {self.max_retries + 1} attempts: {url} ({problem})",
            hint="arXiv may be down or throttling; try later (a re-run resumes from the cursor).",
        )

    def _backoff(self, attempt: int) -> float:
        return self.backoff * 2**attempt

    def _attempt(self, url: httpx.URL, start: int | None) -> FeedPage:
        try:
            response = self.client.get(url, headers={"User-Agent": USER_AGENT},
                                       follow_redirects=True)
        except httpx.TransportError as exc:  # connect errors, timeouts, dropped connections
            raise _Transient(f"{type(exc).__name__}: {exc}") from exc
        status = response.status_code
        if status == 429 or status >= 500:
            raise _Transient(f"HTTP {status}", _retry_after(response.headers.get("Retry-After")))
        if status != 200:
            _raise_api_error(response.content)  # arXiv explains bad queries in an error feed
            raise SourceError(f"arXiv API answered HTTP {status} for {url}")
        try:
            page = parse_feed(response.content)
        except ArxivApiError:
            raise
        except SourceError as exc:
            raise _Transient(f"malformed response: {exc.message}") from exc
        if start is not None and not page.items and start < page.total_results:
            raise _Transient(f"empty page at start={start} of {page.total_results}")
        return page


def _raise_api_error(body: bytes) -> None:
    try:
        parse_feed(body)
    except ArxivApiError:
        raise
    except SourceError:
        pass


def _retry_after(value: str | None) -> float | None:
    """Retry-After is either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def new_client(timeout: float = 30.0) -> httpx.Client:
    """An httpx client suited to the arXiv API (it can be slow to answer)."""
    return httpx.Client(timeout=timeout, headers={"User-Agent": USER_AGENT})


def _make_fetcher(client: httpx.Client, base_url: str, limiter: RateLimiter | None,
                  min_interval: float, max_retries: int, sleep: Callable[[float], None],
                  clock: Callable[[], float], backoff: float) -> _Fetcher:
    limiter = limiter or RateLimiter(min_interval, sleep=sleep, clock=clock)
    return _Fetcher(client, base_url, limiter, max_retries, sleep, backoff)


def _stamp(items: list[Item]) -> list[Item]:
    now = datetime.now(timezone.utc)
    for item in items:
        if isinstance(item, Paper):
            item.fetched_at = now
    return items


# --------------------------------------------------------------------- by id


def fetch_by_ids(ids: Iterable[str], *, client: httpx.Client, base_url: str = DEFAULT_BASE_URL,
                 limiter: RateLimiter | None = None, min_interval: float = 3.0,
                 max_retries: int = 5, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic, backoff: float = 3.0,
                 chunk_size: int = 50) -> list[Item]:
    """Fetch papers by arXiv id (any form `parse_arxiv_id` accepts).

    A bad id raises InvalidInput before any request. An id arXiv does not
    know comes back as Rejected(where="id <given>", field="arxiv_id").
    """
    wanted: dict[str, str] = {}  # query id (maybe versioned) -> text the caller gave
    for text in ids:
        arxiv_id, version = parse_arxiv_id(text)
        wanted.setdefault(f"{arxiv_id}v{version}" if version else arxiv_id, text)
    fetcher = _make_fetcher(client, base_url, limiter, min_interval, max_retries, sleep,
                            clock, backoff)
    query_ids = list(wanted)
    items: list[Item] = []
    for i in range(0, len(query_ids), chunk_size):
        chunk = query_ids[i:i + chunk_size]
        params = {"id_list": ",".join(chunk), "start": "0", "max_results": str(len(chunk))}
        items.extend(fetcher.get_page(params).items)
    found = {p.arxiv_id for p in items if isinstance(p, Paper)}
    found |= {p.source_id for p in items if isinstance(p, Paper)}
    for query_id, text in wanted.items():
        if query_id not in found:
            items.append(Rejected(where=f"id {text}", field="arxiv_id",
                                  reason=f"arXiv has no paper {query_id}"))
    return _stamp(items)


# --------------------------------------------------------------- by category


@dataclass
class _Cursor:
    """What the cursor JSON holds; see the module docstring."""

    since: str
    until: str | None
    window_from: str
    window_to: str
    start: int = 0
    done: bool = False
    last_submitted: str | None = None
    last_ids: list[str] = field(default_factory=list)

    def record(self, papers: list[Paper]) -> None:
        """Track the newest submission minute and the ids submitted in it."""
        for paper in papers:
            if paper.published is None or paper.arxiv_id is None:
                continue
            minute = paper.published.strftime(_MINUTE)
            last = self._last_minute()
            if last is None or minute > last:
                self.last_submitted = paper.published.isoformat()
                self.last_ids = [paper.arxiv_id]
            elif minute == last and paper.arxiv_id not in self.last_ids:
                self.last_ids.append(paper.arxiv_id)

    def _last_minute(self) -> str | None:
        if not self.last_submitted:
            return None
        return datetime.fromisoformat(self.last_submitted).strftime(_MINUTE)


@dataclass(eq=False)
class ArxivBatch:
    """One fetched page. Persist `items`, then call `commit()`."""

    items: list[Item]
    start: int  # offset of this page in the query
    next_start: int
    total_results: int
    is_last: bool
    _on_commit: Callable[[ArxivBatch], None] = field(repr=False)
    committed: bool = False

    @property
    def papers(self) -> list[Paper]:
        return [item for item in self.items if isinstance(item, Paper)]

    @property
    def rejected(self) -> list[Rejected]:
        return [item for item in self.items if isinstance(item, Rejected)]

    def commit(self) -> None:
        """Advance the saved cursor past this page (idempotent)."""
        if not self.committed:
            self._on_commit(self)
            self.committed = True


def cursor_key(category: str) -> str:
    return f"arxiv-api:cursor:{category}"


def iter_category(*, category: str, since: date, until: date | None = None,
                  client: httpx.Client, cursor: CursorStore,
                  base_url: str = DEFAULT_BASE_URL, page_size: int = 100,
                  min_interval: float = 3.0, max_retries: int = 5,
                  sleep: Callable[[float], None] = time.sleep,
                  clock: Callable[[], float] = time.monotonic, backoff: float = 3.0,
                  limiter: RateLimiter | None = None, lookback: timedelta = timedelta(0),
                  today: Callable[[], date] | None = None) -> Iterator[ArxivBatch]:
    """Yield pages of new submissions in `category`, resuming from the cursor.

    `until` None means up to today (UTC). `lookback` re-opens the window that
    far before the newest submission seen, to catch papers announced late
    (on hold, cross-listed); they come again, which the store's upsert absorbs.
    """
    if not _CATEGORY_RE.match(category):
        raise InvalidInput(f"'{category}' is not an arXiv category.",
                           hint="Use a category like cs.CL or hep-th.", field="category")
    key = cursor_key(category)
    end = until or (today or _utc_today)()
    planned = _plan(_load(cursor, key), since, until, end, lookback)
    if planned is None:
        return
    state: _Cursor = planned
    fetcher = _make_fetcher(client, base_url, limiter, min_interval, max_retries, sleep,
                            clock, backoff)

    def on_commit(batch: ArxivBatch) -> None:
        state.record(batch.papers)
        state.start = batch.next_start
        state.done = batch.is_last
        _save(cursor, key, state)

    while True:
        page = fetcher.get_page(_search_params(category, state, page_size), start=state.start)
        if not page.items:  # past the end (transient empties were retried)
            break
        batch = _batch(page, state, on_commit)
        yield batch
        if not batch.committed:
            raise RuntimeError("commit() each ArxivBatch after persisting it, before the next")
        if batch.is_last:
            return
    state.done = True
    _save(cursor, key, state)


def _batch(page: FeedPage, state: _Cursor, on_commit: Callable[[ArxivBatch], None]) -> ArxivBatch:
    """Drop papers the previous run already delivered (same submission minute)."""
    items = [item for item in page.items
             if not (isinstance(item, Paper) and item.arxiv_id in state.last_ids)]
    next_start = state.start + len(page.items)
    return ArxivBatch(items=_stamp(items), start=state.start, next_start=next_start,
                      total_results=page.total_results,
                      is_last=next_start >= page.total_results, _on_commit=on_commit)


def _search_params(category: str, state: _Cursor, page_size: int) -> dict[str, str]:
    window = f"[{state.window_from} TO {state.window_to}]"
    return {
        "search_query": f"cat:{category} AND submittedDate:{window}",
        "sortBy": "submittedDate",
        "sortOrder": "ascending",
        "start": str(state.start),
        "max_results": str(page_size),
    }


def _plan(saved: _Cursor | None, since: date, until: date | None, end: date,
          lookback: timedelta) -> _Cursor | None:
    """Resume an interrupted window, continue after a finished one, or start fresh."""
    since_s, until_s = since.isoformat(), until.isoformat() if until else None
    if saved and not saved.done and (saved.since, saved.until) == (since_s, until_s):
        return saved
    state = _Cursor(since=since_s, until=until_s, window_from=since.strftime("%Y%m%d0000"),
                    window_to=end.strftime("%Y%m%d2359"))
    if saved and saved.done and saved.last_submitted and since_s >= saved.since:
        newest = datetime.fromisoformat(saved.last_submitted)
        last = (newest - lookback).strftime(_MINUTE)
        if last > state.window_from:
            state.window_from = last
            state.last_submitted, state.last_ids = saved.last_submitted, saved.last_ids
    return state if state.window_from <= state.window_to else None


def _load(cursor: CursorStore, key: str) -> _Cursor | None:
    """A missing or unreadable cursor means: start from `since` (upserts make that safe)."""
    raw = cursor.get_state(key)
    if not raw:
        return None
    try:
        data = json.loads(raw)
        data.pop("v", None)
        return _Cursor(**data)
    except (ValueError, TypeError) as exc:
        log.warning("ignoring unreadable cursor %s (%s): starting from --since", key, exc)
        return None


def _save(cursor: CursorStore, key: str, state: _Cursor) -> None:
    cursor.set_state(key, json.dumps({"v": 1, **asdict(state)}, sort_keys=True))


def _utc_today() -> date:
    return datetime.now(timezone.utc).date()

