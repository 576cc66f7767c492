"""Bounded JSON-lines reading and the field cleaners the JSON file sources share.

Bulk dumps (the arXiv snapshot is several GB) are read one line at a time, and no line
is held in memory beyond `MAX_RECORD_BYTES`: a corrupt file with a 100 MB line costs one
bounded chunk at a time and becomes one `Rejected`, not a memory spike or a crash.
The cleaners live here so every JSON source treats text, dates, URLs and DOIs alike.
"""

from __future__ import annotations

import io
import json
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO

import orjson

from paperfeed.errors import InvalidInput, SourceError
from paperfeed.models import Link, Rejected

MAX_RECORD_BYTES = 1_000_000  # one JSON record (line); real records are < 100 kB
_DRAIN_CHUNK = 1 << 20  # bytes read at a time while skipping an over-long line
_READ_ERRORS = (OSError, EOFError, zlib.error)  # truncated/corrupt gzip, I/O failures

# Control characters str.split() does not treat as whitespace (NUL, ESC, DEL, ...).
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1b\x7f]")
_SPACE_RUN = re.compile(" {2,}")
_SHORT_TEXT = 200  # below this, split/join beats the fast path's fixed checks
# JSON forbids raw control characters in strings, so they can only arrive as \u00XX
# escapes (or a raw DEL); \uD800-\uDFFF escapes may be lone surrogates, which json.loads
# accepts but nothing can encode. Lines with neither (nearly all) skip the slow checks.
_SUSPECT_ESCAPE = re.compile(r"\\u(?:00[01]|007|[dD][89a-fA-F])")
_SUSPECT_ESCAPE_BYTES = re.compile(_SUSPECT_ESCAPE.pattern.encode("ascii"))
_VERBATIM_KEYS = frozenset({"_id", "id"})  # never scrubbed: bad ids are refused, not altered
_URL_SCHEMES = ("https://", "http://")
_DOI_PREFIXES = ("https://doi.org/", "http://doi.org/", "https://dx.doi.org/", "http://dx.doi.org/", "doi:")


@dataclass(frozen=True, slots=True)
class TooLong:
    """Stands in for a line longer than the limit; its bytes were read and dropped."""

    size: int
    limit: int

    @property
    def reason(self) -> str:
        return f"record is {self.size:,} bytes; the limit is {self.limit:,}"


class BadField(Exception):
    """Raised while mapping one record; the parser turns it into a `Rejected`."""

    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def iter_lines(stream: BinaryIO, *, limit: int = MAX_RECORD_BYTES) -> Iterator[tuple[int, bytes | TooLong]]:
    """Yield (1-based line number, line without its newline) for every non-blank line.

    A line longer than `limit` bytes yields a `TooLong` instead; it is skipped in
    chunks, so memory stays bounded by `limit` whatever the input holds.
    """
    line_no = 0
    while True:
        raw = _readline(stream, limit + 2, line_no)  # +2: room for "\r\n" after `limit` bytes
        if not raw:
            return
        line_no += 1
        if len(raw) == limit + 2 and raw[-1:] != b"\n":
            yield line_no, TooLong(_drain_line(stream, raw, line_no), limit)
            continue
        content = raw.rstrip(b"\r\n")
        if len(content) > limit:
            yield line_no, TooLong(len(content), limit)
        elif content and not content.isspace():
            yield line_no, content


def _readline(stream: BinaryIO, size: int, line_no: int) -> bytes:
    """One bounded readline, turning read failures into a `SourceError` that says where."""
    try:
        raw = stream.readline(size)
    except _READ_ERRORS as exc:
        raise SourceError(
            f"could not read the input after line {line_no}: {exc}",
            hint="The file may be truncated or corrupt; check it (for .gz: gzip -t FILE).",
        ) from exc
    if isinstance(raw, str):
        raise SourceError("the input is a text stream", hint="Open the file in binary mode ('rb').")
    return raw


def _drain_line(stream: BinaryIO, start: bytes, line_no: int) -> int:
    """Read and drop the rest of an over-long line; return its length without the newline."""
    size, previous, chunk = len(start), b"", start
    while chunk and not chunk.endswith(b"\n"):
        previous, chunk = chunk, _readline(stream, _DRAIN_CHUNK, line_no)
        size += len(chunk)
    if not chunk:
        return size  # the file ended inside the line
    crlf = chunk.endswith(b"\r\n") or (chunk == b"\n" and previous.endswith(b"\r"))
    return size - (2 if crlf else 1)


def iter_json_objects(
    stream: BinaryIO, *, limit: int = MAX_RECORD_BYTES
) -> Iterator[tuple[int, dict[str, Any]] | Rejected]:
    """Yield (line number, object) per JSON-lines record, or a `Rejected` for a bad line."""
    for line_no, content in iter_lines(stream, limit=limit):
        where = f"line {line_no}"
        if isinstance(content, TooLong):
            yield Rejected(where=where, reason=content.reason)
            continue
        value = decode_json_object(content, where)
        yield value if isinstance(value, Rejected) else (line_no, value)


def decode_json_object_fast(content: bytes, where: str) -> dict[str, Any] | Rejected:
    """`decode_json_object` through orjson (~2x faster on a snapshot line), for sources
    whose fields are strings and lists of strings, such as the arXiv snapshot.

    Any line orjson refuses takes the standard path, which decides and explains, so
    both accept the same input (json's NaN, a BOM) and word errors alike. The one
    difference: orjson reads an integer beyond 64 bits as a float, which such a source
    refuses either way (a number where a string belongs).
    """
    try:
        value = orjson.loads(content)
    except (orjson.JSONDecodeError, RecursionError):
        value = None
    if type(value) is dict:
        if (b"\\u" in content and _SUSPECT_ESCAPE_BYTES.search(content)) or b"\x7f" in content:
            return sanitize_object(value, where)
        return value
    return decode_json_object(content, where)


def decode_json_object(content: bytes, where: str) -> dict[str, Any] | Rejected:
    """Decode one UTF-8 JSON object; any defect becomes a `Rejected` naming it."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Rejected(where, f"not UTF-8 text: byte 0x{content[exc.start]:02x} at offset {exc.start}")
    if text[:1] == "\ufeff":
        text = text[1:]
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return Rejected(where, f"not valid JSON: {exc.msg} (column {exc.colno})")
    except RecursionError:
        return Rejected(where, "not valid JSON: nested too deeply")
    if not isinstance(value, dict):
        return Rejected(where, f"expected a JSON object, got {json_type(value)}")
    if ("\\u" in text and _SUSPECT_ESCAPE.search(text)) or "\x7f" in text:
        return sanitize_object(value, where)
    return value


def sanitize_object(value: dict[str, Any], where: str) -> dict[str, Any] | Rejected:
    """Refuse lone surrogates and drop control characters from a decoded object.

    The slow path, run only for suspect records (see `_SUSPECT_ESCAPE`). Top-level ids
    are kept verbatim, so a parser refuses a bad id instead of storing an altered one.
    """
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
        return {key: item if key in _VERBATIM_KEYS else _strip_controls(item) for key, item in value.items()}
    except UnicodeEncodeError:
        return Rejected(where, "contains an unpaired UTF-16 surrogate escape (\\ud800-\\udfff)")
    except RecursionError:
        return Rejected(where, "not valid JSON: nested too deeply")


def _strip_controls(value: Any) -> Any:
    """`value` with control characters removed from every string in it."""
    if isinstance(value, str):
        return _CONTROL.sub("", value)
    if isinstance(value, list):
        return [_strip_controls(item) for item in value]
    if isinstance(value, dict):
        return {key: _strip_controls(item) for key, item in value.items()}
    return value


def json_type(value: Any) -> str:
    """The JSON name of a decoded value's type, for error messages."""
    if value is None:
        return "null"
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "an array"}
    return names.get(type(value), "an object")


def peek(stream: BinaryIO, size: int) -> tuple[bytes, BinaryIO]:
    """Read up to `size` bytes and return them with a stream that still starts with them.

    Lets a parser sniff the format (array vs JSON lines, gzip magic) of a stream that
    cannot seek, such as stdin or an HTTP body.
    """
    parts: list[bytes] = []
    got = 0
    while got < size:
        chunk = stream.read(size - got)
        if isinstance(chunk, str):
            raise SourceError("the input is a text stream", hint="Open the file in binary mode ('rb').")
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    head = b"".join(parts)
    return head, io.BufferedReader(_Replay(head, stream), buffer_size=1 << 16)


class _Replay(io.RawIOBase):
    """Raw stream that returns `head` first, then the rest of `rest`."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def clean_text(value: str) -> str:
    """Collapse runs of whitespace (incl. newlines) to one space.

    Control characters are already gone: `decode_json_object` drops them per record.
    The fast path (long ASCII text whose only whitespace is spaces and newlines, i.e.
    most hard-wrapped arXiv abstracts) avoids splitting into hundreds of words: 2x faster.
    """
    if len(value) < _SHORT_TEXT or not value.isascii() or _has_odd_ascii_space(value):
        return " ".join(value.split())
    text = value.replace("\n", " ").strip(" ")
    return _SPACE_RUN.sub(" ", text) if "  " in text else text


def _has_odd_ascii_space(value: str) -> bool:
    """True if `value` holds ASCII whitespace other than " " and "\\n" (each test is a memchr)."""
    return (
        "\t" in value or "\r" in value or "\x0b" in value or "\x0c" in value
        or "\x1c" in value or "\x1d" in value or "\x1e" in value or "\x1f" in value
    )  # fmt: skip


def text_field(record: dict[str, Any], key: str) -> str:
    """The cleaned string at `key`; "" when absent or null, `BadField` when not a string."""
    value = record.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadField(key, f"expected a string, got {json_type(value)}")
    return clean_text(value)


def parse_iso_datetime(value: str) -> datetime:
    """Parse an ISO 8601 date or datetime ("2024-01-02", "...T10:00:00Z") as aware UTC.

    A naive value is taken to be UTC. Raises ValueError when it is not ISO 8601.
    """
    parsed = datetime.fromisoformat(value.strip())
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def http_url(value: Any, field: str) -> str | None:
    """A stripped http(s) URL, None when absent/empty, `BadField` for anything else."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadField(field, f"expected a URL string, got {json_type(value)}")
    url = value.strip()
    if not url:
        return None
    if not url.lower().startswith(_URL_SCHEMES) or not url.isprintable() or " " in url:
        raise BadField(field, f"{url[:200]!r} is not an http(s) URL")
    return url


def clean_doi(value: Any, field: str = "doi") -> str | None:
    """A bare DOI ("10.1103/...") from a DOI, doi: or doi.org URL; None when absent.

    When several DOIs are given (the arXiv snapshot has a few), the first one is kept.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadField(field, f"expected a string, got {json_type(value)}")
    parts = value.split()
    if not parts:
        return None
    doi = parts[0]
    for prefix in _DOI_PREFIXES:
        if doi.lower().startswith(prefix):
            doi = doi[len(prefix) :]
            break
    if not doi.startswith("10.") or "/" not in doi:
        raise BadField(field, f"{value[:200]!r} is not a DOI (expected 10.NNNN/suffix)")
    return doi


def doi_links(doi: str | None) -> list[Link]:
    """The doi.org link for a DOI, as a list to concatenate with other links."""
    return [Link("doi", f"https://doi.org/{doi}")] if doi else []


def check_fetched_at(fetched_at: datetime | None) -> datetime | None:
    """Refuse a naive `fetched_at`: every datetime in the pipeline is aware UTC."""
    if fetched_at is None:
        return None
    if fetched_at.tzinfo is None:
        raise InvalidInput(
            f"fetched_at {fetched_at.isoformat()} has no timezone",
            hint="Pass an aware datetime, e.g. datetime.now(UTC).",
            field="fetched_at",
        )
    return fetched_at.astimezone(UTC)
