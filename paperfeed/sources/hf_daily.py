"""Hugging Face daily papers (`/api/daily_papers`): a JSON array of items, or JSON lines.

Each item wraps a `paper` object whose `id` is the arXiv id. The array form is one
document, read whole but capped at `MAX_DOCUMENT_BYTES` (a day's response is well under
1 MB); the JSON-lines form streams through the shared bounded line reader.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, BinaryIO

from paperfeed.errors import SourceError
from paperfeed.models import Link, Paper, Rejected, SourceItem
from paperfeed.sources.arxiv_snapshot import arxiv_links, split_arxiv_id
from paperfeed.sources.lines import (
    BadField,
    check_fetched_at,
    http_url,
    iter_json_objects,
    json_type,
    parse_iso_datetime,
    peek,
    sanitize_object,
    text_field,
)

SOURCE = "hf-daily"
MAX_DOCUMENT_BYTES = 50_000_000  # the array form is parsed whole; beyond this use JSON lines
_SNIFF_BYTES = 1 << 16


def parse_hf_daily(stream: BinaryIO, *, fetched_at: datetime | None = None) -> Iterator[SourceItem]:
    """Yield a Paper per daily-papers item, or a Rejected naming the item and field.

    Raises SourceError when the input is not a list of items at all (e.g. the API's
    `{"error": ...}` object, an empty body, or a document that is not JSON).
    """
    fetched_at = check_fetched_at(fetched_at)
    head, stream = peek(stream, _SNIFF_BYTES)
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if not start:
        raise SourceError("the Hugging Face daily papers input is empty", hint="Expected a JSON array of items.")
    if start == b"[" or len(head) < _SNIFF_BYTES:
        whole = _whole_document(stream) if start == b"[" else _small_document(head)
        if whole is not None:
            yield from _map_items(_sanitized(whole), "item", fetched_at)
            return
    if start != b"{":
        raise SourceError(
            f"the Hugging Face daily papers input starts with {start!r}, not a JSON array",
            hint="Expected the /api/daily_papers response (a JSON array) or JSON lines of its items.",
        )
    yield from _map_items(_json_lines(stream), "line", fetched_at)


def _whole_document(stream: BinaryIO) -> list[Any]:
    """Read and decode the array form, refusing documents over MAX_DOCUMENT_BYTES."""
    data = stream.read(MAX_DOCUMENT_BYTES + 1)
    if len(data) > MAX_DOCUMENT_BYTES:
        raise SourceError(
            f"the Hugging Face daily papers document is over {MAX_DOCUMENT_BYTES:,} bytes",
            hint="Convert it to JSON lines (one item a line), which is streamed.",
        )
    try:
        value = _decode_document(data)
    except ValueError as exc:
        hint = "The download may be truncated." if not data.rstrip().endswith(b"]") else "Check the file."
        raise SourceError(f"the Hugging Face daily papers document is not valid JSON: {exc}", hint=hint) from exc
    return _item_list(value)


def _small_document(head: bytes) -> list[Any] | None:
    """The items when a small input is one JSON document; None when it is JSON lines."""
    try:
        value = _decode_document(head)
    except ValueError:
        return None
    return _item_list(value)


def _decode_document(data: bytes) -> Any:
    """The decoded document; ValueError (with the position) when it is not one JSON value."""
    try:
        return json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text: byte 0x{data[exc.start]:02x} at offset {exc.start}") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"{exc.msg} (line {exc.lineno}, column {exc.colno})") from exc
    except RecursionError as exc:
        raise ValueError("nested too deeply") from exc


def _item_list(value: Any) -> list[Any]:
    """The list of items in a decoded document; SourceError for an error object or scalar."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict) and _is_item(value):
        return [value]  # a one-line JSON-lines file
    if isinstance(value, dict) and "error" in value:
        raise SourceError(
            f"the Hugging Face API returned an error instead of papers: {str(value['error'])[:300]}",
            hint="Check the request (date, parameters) and try again later.",
        )
    raise SourceError(
        f"expected a JSON array of daily papers, got {json_type(value)}",
        hint="Expected the /api/daily_papers response (a JSON array) or JSON lines of its items.",
    )


def _json_lines(stream: BinaryIO) -> Iterator[tuple[int, Any] | Rejected]:
    """JSON-lines items; a first record that is an error object, not an item, is fatal."""
    first = True
    for item in iter_json_objects(stream):
        if first and not isinstance(item, Rejected) and not _is_item(item[1]):
            _item_list(item[1])  # raises SourceError for {"error": ...}
        first = False
        yield item


def _sanitized(items: list[Any]) -> Iterator[tuple[int, Any] | Rejected]:
    """Numbered array items, cleaned as JSON-lines records are (small input: always)."""
    for number, item in enumerate(items, 1):
        if isinstance(item, dict):
            clean = sanitize_object(item, f"item {number}")
            yield clean if isinstance(clean, Rejected) else (number, clean)
        else:
            yield number, item


def _is_item(value: dict[str, Any]) -> bool:
    """A daily-papers item wraps `paper`; a bare paper object (/api/papers/ID) has `id`."""
    return "paper" in value or "id" in value


def _map_items(
    items: Iterable[tuple[int, Any] | Rejected], label: str, fetched_at: datetime | None
) -> Iterator[SourceItem]:
    """Turn (number, item) pairs into Papers, bad ones into Rejected("item N"/"line N")."""
    for entry in items:
        if isinstance(entry, Rejected):
            yield entry
            continue
        number, item = entry
        try:
            yield item_to_paper(item, fetched_at=fetched_at)
        except BadField as exc:
            yield Rejected(where=f"{label} {number}", reason=exc.reason, field=exc.field)


def item_to_paper(item: Any, *, fetched_at: datetime | None = None) -> Paper:
    """Map one daily-papers item (or a bare paper object) to a Paper; raises BadField."""
    if not isinstance(item, dict):
        raise BadField(None, f"expected an object, got {json_type(item)}")
    paper = item.get("paper", item)
    if not isinstance(paper, dict):
        raise BadField("paper", f"expected an object, got {json_type(paper)}")
    paper_id = _paper_id(paper.get("id"))
    title = text_field(paper, "title") or text_field(item, "title")
    if not title:
        raise BadField("title", "title is missing or empty")
    arxiv_id = _arxiv_id(paper_id)
    return Paper(
        title=title,
        abstract=text_field(paper, "summary") or text_field(item, "summary"),
        authors=_authors(paper.get("authors")),
        arxiv_id=arxiv_id,
        published=_date(paper, item, "publishedAt"),
        links=(arxiv_links(arxiv_id) if arxiv_id else []) + _links(paper),
        source=SOURCE,
        source_id=paper_id,
        fetched_at=fetched_at,
        extra=_extra(paper, item),
    )


def _paper_id(value: Any) -> str:
    """The paper's id (an arXiv id on HF); BadField when missing."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise BadField("id", "paper id is missing or empty" if not value else f"expected a string, got {json_type(value)}")


def _arxiv_id(paper_id: str) -> str | None:
    """HF paper ids are arXiv ids; anything else is kept only as source_id."""
    try:
        return split_arxiv_id(paper_id, "id")[0]
    except BadField:
        return None


def _authors(value: Any) -> list[str]:
    """Author names in order from [{"name": ...}, ...] (plain strings also accepted)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadField("authors", f"expected an array, got {json_type(value)}")
    names = []
    for author in value:
        name = author.get("name") if isinstance(author, dict) else author
        if not isinstance(name, str):
            raise BadField("authors", f"expected author names, got {str(author)[:100]}")
        if name.strip():
            names.append(" ".join(name.split()))
    return names


def _date(paper: dict[str, Any], item: dict[str, Any], key: str) -> datetime | None:
    """An ISO 8601 timestamp from the paper, else from the item; None when absent."""
    value = paper.get(key) or item.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            return parse_iso_datetime(value)
        except ValueError:
            pass
    raise BadField(key, f"{key} {str(value)[:100]!r} is not an ISO 8601 datetime like 2024-01-02T18:59:59.000Z")


def _links(paper: dict[str, Any]) -> list[Link]:
    """The paper's code repository and project page, when given."""
    links = []
    for key, kind in (("githubRepo", "code"), ("projectPage", "project")):
        url = http_url(paper.get(key), key)
        if url:
            links.append(Link(kind, url))
    return links


def _extra(paper: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    """HF-specific signals: upvotes, comment count, when it was featured."""
    extra: dict[str, Any] = {}
    for key, source, name in (("upvotes", paper, "hf_upvotes"), ("numComments", item, "hf_comments")):
        value = source.get(key)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool):
            raise BadField(key, f"expected an integer, got {json_type(value)}")
        extra[name] = value
    featured = _date(paper, item, "submittedOnDailyAt")
    if featured is not None:
        extra["hf_submitted_on_daily_at"] = featured.isoformat()
    return extra
