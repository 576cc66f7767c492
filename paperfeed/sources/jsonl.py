"""Generic JSON lines: BEIR corpus files, hand-made exports and the demo seed.

One record a line, optionally gzip-compressed. Field names follow BEIR (`_id`, `title`,
`text`, `metadata`) with common alternatives (`id`, `abstract`, `date`, `year`, ...), so
evaluation corpora and users' own exports load through the same path.
"""

from __future__ import annotations

import gzip
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, BinaryIO, cast

from paperfeed.errors import InvalidInput, SourceError
from paperfeed.models import Link, Paper, Rejected, SourceItem
from paperfeed.sources.arxiv_snapshot import arxiv_links, split_arxiv_id, split_author_string
from paperfeed.sources.lines import (
    BadField,
    check_fetched_at,
    clean_doi,
    clean_text,
    doi_links,
    http_url,
    iter_json_objects,
    json_type,
    parse_iso_datetime,
    text_field,
)

SOURCE = "jsonl"
MAX_ID_CHARS = 200
DERIVED_TITLE_CHARS = 120
_ID_KEYS = ("_id", "id")
_TEXT_KEYS = ("text", "abstract")
_DATE_KEYS = ("published", "date", "year")
_DATE_FORMATS = "YYYY-MM-DD, an ISO 8601 datetime like 2024-01-02T10:00:00Z, or a year like 2024"
_BAD_ID_CHAR = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")
_YEAR = re.compile(r"\d{4}")
_FIRST_SENTENCE = re.compile(r"(.{20,}?[.!?])(?=\s|$)")  # skip "Background." style stubs
_CATEGORY_SEPARATORS = re.compile(r"[\s,;]+")
_GZIP_MAGIC = b"\x1f\x8b"


def open_maybe_gzip(path: str | os.PathLike[str]) -> BinaryIO:
    """Open `path` for binary reading, transparently decompressing gzip (by magic bytes,
    not by name, so a mislabelled file still works). Raises SourceError if unreadable."""
    try:
        with open(path, "rb") as probe:
            compressed = probe.read(2) == _GZIP_MAGIC
        return cast(BinaryIO, gzip.open(path, "rb")) if compressed else open(path, "rb")
    except OSError as exc:
        raise SourceError(f"cannot open {os.fspath(path)!r}: {exc.strerror or exc}", hint="Check the path.") from exc


def parse_jsonl(stream: BinaryIO, *, source: str = SOURCE, fetched_at: datetime | None = None) -> Iterator[SourceItem]:
    """Yield a Paper per JSON-lines record, or a Rejected naming the line and field.

    `source` labels the papers (e.g. "seed" for the demo corpus, "beir-scifact").
    """
    if not isinstance(source, str) or not source.strip():
        raise InvalidInput(f"source {source!r} must be a non-empty name", field="source")
    fetched_at = check_fetched_at(fetched_at)
    for item in iter_json_objects(stream):
        if isinstance(item, Rejected):
            yield item
            continue
        line_no, record = item
        try:
            yield record_to_paper(record, source=source, fetched_at=fetched_at)
        except BadField as exc:
            yield Rejected(where=f"line {line_no}", reason=exc.reason, field=exc.field)


def record_to_paper(record: dict[str, Any], *, source: str = SOURCE, fetched_at: datetime | None = None) -> Paper:
    """Map one decoded record to a Paper; raises BadField when it cannot."""
    paper_id = _record_id(record)
    title, text, extra = text_field(record, "title"), _text(record), _extra(record)
    if not title:
        if not text:
            raise BadField("title", "title and text are both missing or empty")
        title, extra["title_derived"] = derive_title(text), True
    arxiv_id, version = _arxiv_id(record.get("arxiv_id"))
    doi = clean_doi(record.get("doi"))
    links = (arxiv_links(arxiv_id) if arxiv_id else []) + doi_links(doi)
    return Paper(
        title=title,
        id=paper_id,
        abstract=text,
        authors=_authors(record.get("authors")),
        categories=_categories(record.get("categories")),
        arxiv_id=arxiv_id,
        arxiv_version=version,
        doi=doi,
        published=_published(record),
        links=_dedupe(links + _explicit_links(record)),
        source=source,
        source_id=paper_id,
        fetched_at=fetched_at,
        extra=extra,
    )


def derive_title(text: str, max_chars: int = DERIVED_TITLE_CHARS) -> str:
    """A display title for a record that has none: the first sentence of `text`,
    cut at a word boundary to `max_chars` with "…" (NFCorpus has no titles)."""
    match = _FIRST_SENTENCE.match(text)
    sentence = match[1].removesuffix(".") if match else text
    if len(sentence) <= max_chars:
        return sentence
    cut = sentence[: max_chars - 1]
    space = cut.rfind(" ")
    if space > max_chars // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + "…"


def parse_date_value(value: Any, field: str) -> datetime:
    """An ISO date/datetime or a bare year (int or "2019" -> Jan 1) as aware UTC."""
    if isinstance(value, int) and not isinstance(value, bool) and 1000 <= value <= 9999:
        return datetime(value, 1, 1, tzinfo=UTC)
    if isinstance(value, str):
        text = value.strip()
        if _YEAR.fullmatch(text):
            return datetime(int(text), 1, 1, tzinfo=UTC)
        try:
            return parse_iso_datetime(text)
        except ValueError:
            pass
    raise BadField(field, f"{field} {str(value)[:100]!r} is not a date; accepted: {_DATE_FORMATS}")


def _record_id(record: dict[str, Any]) -> str:
    """The record's own `_id`/`id` as a URL-safe string; "" when it has none."""
    for key in _ID_KEYS:
        value = record.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise BadField(key, f"expected a string or integer id, got {json_type(value)}")
        text = str(value)
        if not text:
            raise BadField(key, "id is empty")
        if len(text) > MAX_ID_CHARS:
            raise BadField(key, f"id is {len(text):,} characters; the limit is {MAX_ID_CHARS}")
        if _BAD_ID_CHAR.search(text):
            raise BadField(key, f"id {text[:60]!r} contains whitespace or control characters")
        return text
    return ""


def _text(record: dict[str, Any]) -> str:
    """The body text: BEIR `text`, else `abstract`."""
    for key in _TEXT_KEYS:
        text = text_field(record, key)
        if text:
            return text
    return ""


def _published(record: dict[str, Any]) -> datetime | None:
    """The first of `published`, `date`, `year` that is present."""
    for key in _DATE_KEYS:
        value = record.get(key)
        if value is not None and value != "":
            return parse_date_value(value, key)
    return None


def _arxiv_id(value: Any) -> tuple[str | None, int | None]:
    """An optional `arxiv_id`, version split off ("2401.01234v2" -> ("2401.01234", 2))."""
    if value is None or value == "":
        return None, None
    return split_arxiv_id(value, "arxiv_id")


def _authors(value: Any) -> list[str]:
    """Names from a list (strings or {"name": ...}) or one "A, B and C" string."""
    if value is None:
        return []
    if isinstance(value, str):
        return split_author_string(clean_text(value))
    if not isinstance(value, list):
        raise BadField("authors", f"expected a list or a string, got {json_type(value)}")
    names: list[str] = []
    for author in value:
        name = author.get("name") if isinstance(author, dict) else author
        if not isinstance(name, str):
            raise BadField("authors", f"expected author names (strings), got {str(author)[:100]}")
        names.append(clean_text(name))
    return [name for name in names if name]


def _categories(value: Any) -> list[str]:
    """Categories from a list of strings or a space/comma separated string."""
    if value is None:
        return []
    if isinstance(value, str):
        return [part for part in _CATEGORY_SEPARATORS.split(value) if part]
    if isinstance(value, list) and all(isinstance(part, str) for part in value):
        return [part.strip() for part in value if part.strip()]
    raise BadField("categories", f"expected a list of strings or a string, got {json_type(value)}")


def _explicit_links(record: dict[str, Any]) -> list[Link]:
    """`url` and `links` as Link("other", ...): ingest classifies them later."""
    values = record.get("links")
    if values is None or isinstance(values, str):
        values = [values]
    if not isinstance(values, list):
        raise BadField("links", f"expected a list of URLs, got {json_type(values)}")
    urls = [http_url(record.get("url"), "url")] + [http_url(value, "links") for value in values]
    return [Link("other", url) for url in urls if url]


def _dedupe(links: list[Link]) -> list[Link]:
    """Links in order, each URL once (an explicit `url` often repeats the abs link)."""
    unique: dict[str, Link] = {}
    for link in links:
        unique.setdefault(link.url, link)
    return list(unique.values())


def _extra(record: dict[str, Any]) -> dict[str, Any]:
    """BEIR `metadata` (when non-empty) and the seed's `rank`."""
    extra: dict[str, Any] = {}
    metadata, rank = record.get("metadata"), record.get("rank")
    if metadata is not None and not isinstance(metadata, dict):
        raise BadField("metadata", f"expected an object, got {json_type(metadata)}")
    if metadata:
        extra["metadata"] = metadata
    if rank is not None:
        if isinstance(rank, bool) or not isinstance(rank, int):
            raise BadField("rank", f"expected an integer, got {json_type(rank)}")
        extra["seed_rank"] = rank
    return extra
