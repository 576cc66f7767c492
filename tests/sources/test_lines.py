"""The shared bounded line reader and JSON record decoder."""

from __future__ import annotations

import gzip
import io
import json
import tracemalloc
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import BinaryIO, cast

import pytest

from paperfeed.errors import InvalidInput, SourceError
from paperfeed.models import Rejected
from paperfeed.sources.lines import (
    MAX_RECORD_BYTES,
    BadField,
    TooLong,
    check_fetched_at,
    clean_doi,
    clean_text,
    decode_json_object,
    decode_json_object_fast,
    http_url,
    iter_json_objects,
    iter_lines,
    parse_iso_datetime,
    peek,
)


def lines_of(data: bytes, limit: int = MAX_RECORD_BYTES) -> list[tuple[int, bytes | TooLong]]:
    return list(iter_lines(io.BytesIO(data), limit=limit))


def test_blank_and_whitespace_lines_are_skipped_but_counted() -> None:
    assert lines_of(b"a\n\n  \t \nb\r\n\r\nc") == [(1, b"a"), (4, b"b"), (6, b"c")]


def test_crlf_and_missing_final_newline() -> None:
    assert lines_of(b"one\r\ntwo") == [(1, b"one"), (2, b"two")]


def test_empty_input_yields_nothing() -> None:
    assert lines_of(b"") == []


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"])
def test_line_of_exactly_the_limit_is_kept(newline: bytes) -> None:
    assert lines_of(b"x" * 10 + newline + b"next\n", limit=10) == [(1, b"x" * 10), (2, b"next")]
    assert lines_of(b"x" * 10, limit=10) == [(1, b"x" * 10)]


@pytest.mark.parametrize("size", [11, 12, 13, 50])
@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b""])
def test_line_over_the_limit_is_reported_with_its_size(size: int, newline: bytes) -> None:
    after = b"next\n" if newline else b""
    expected: list[tuple[int, bytes | TooLong]] = [(1, TooLong(size, 10))]
    if newline:
        expected.append((2, b"next"))
    assert lines_of(b"y" * size + newline + after, limit=10) == expected


def test_too_long_reason_reads_like_the_spec() -> None:
    assert TooLong(104_857_600, 1_000_000).reason == "record is 104,857,600 bytes; the limit is 1,000,000"


def test_100_mb_line_is_rejected_without_holding_it_in_memory(tmp_path: Path) -> None:
    path = tmp_path / "huge.jsonl"
    chunk = b"x" * (1 << 20)
    with path.open("wb") as out:
        out.write(b'{"id": "first"}\n{"title": "')
        for _ in range(100):
            out.write(chunk)
        out.write(b'"}\n{"id": "last"}\n')
    huge = 11 + 100 * len(chunk) + 2
    tracemalloc.start()
    try:
        with path.open("rb") as stream:
            items = list(iter_json_objects(stream))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert items == [
        (1, {"id": "first"}),
        Rejected(where="line 2", reason=f"record is {huge:,} bytes; the limit is 1,000,000"),
        (3, {"id": "last"}),
    ]
    assert peak < 8 * MAX_RECORD_BYTES, f"peak {peak:,} bytes: the long line was held in memory"


def test_exact_100_mib_line_reason(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    with path.open("wb") as out:
        for _ in range(100):
            out.write(b"z" * (1 << 20))
        out.write(b"\n")
    with path.open("rb") as stream:
        [(number, item)] = list(iter_lines(stream))
    assert number == 1 and isinstance(item, TooLong)
    assert item.reason == "record is 104,857,600 bytes; the limit is 1,000,000"


def test_text_stream_is_refused_with_a_hint() -> None:
    with pytest.raises(SourceError, match="text stream") as info:
        list(iter_lines(io.StringIO("{}\n")))  # type: ignore[arg-type]
    assert "'rb'" in info.value.hint


def test_truncated_gzip_raises_source_error_naming_the_line() -> None:
    data = gzip.compress(b'{"a": 1}\n' * 5000)
    stream = cast(BinaryIO, gzip.GzipFile(fileobj=io.BytesIO(data[: len(data) // 2])))
    with pytest.raises(SourceError, match="could not read the input after line"):
        list(iter_lines(stream))


def test_json_objects_with_bad_lines() -> None:
    data = b'{"a": 1}\nnot json\n\xff\xfe\n[1]\n\n{"b": 2}\n'
    assert list(iter_json_objects(io.BytesIO(data))) == [
        (1, {"a": 1}),
        Rejected("line 2", "not valid JSON: Expecting value (column 1)"),
        Rejected("line 3", "not UTF-8 text: byte 0xff at offset 0"),
        Rejected("line 4", "expected a JSON object, got an array"),
        (6, {"b": 2}),
    ]


def test_lone_surrogate_escape_is_rejected_but_a_pair_is_kept() -> None:
    lone = decode_json_object(b'{"title": "bad \\ud800 here"}', "line 1")
    assert isinstance(lone, Rejected) and "surrogate" in lone.reason
    assert decode_json_object(b'{"title": "smile \\ud83d\\ude00"}', "line 1") == {"title": "smile \U0001f600"}


def test_control_characters_are_dropped_from_every_string() -> None:
    record = decode_json_object(b'{"t": "a\\u0000b\\u001bc\x7f", "l": [{"n": "x\\u0007"}], "k": 1}', "line 1")
    assert record == {"t": "abc", "l": [{"n": "x"}], "k": 1}


def test_byte_order_mark_and_deep_nesting() -> None:
    assert decode_json_object('\ufeff{"a": 1}'.encode(), "line 1") == {"a": 1}
    deep = decode_json_object(b"[" * 100_000 + b"]" * 100_000, "line 1")
    assert isinstance(deep, Rejected) and "nested too deeply" in deep.reason


def test_peek_returns_a_stream_that_still_starts_with_the_head() -> None:
    data = b"".join(json.dumps({"n": n}).encode() + b"\n" for n in range(5000))
    head, stream = peek(io.BytesIO(data), 100)
    assert head == data[:100]
    assert stream.read() == data


@pytest.mark.parametrize(
    "text",
    [
        "  A fully differential calculation\nis presented.\n",
        "plain",
        "tabs\tand\r\nwindows  lines",
        "unicode\u00a0space and\u2009thin",
        "Bal\u00e1zs  and\nBerger ",
        "\x1cfile separator\x1f",
        "",
        "   ",
        "  A long hard-wrapped abstract line that goes on\nand on  with a double space " * 10,
        "  long text\twith a tab somewhere in the middle of it, " * 10,
        "  long text with a non-breaking\u00a0space in it, " * 10,
        "  long text with a file separator\x1c in it, and a trailing newline\n" * 10,
    ],
)
def test_clean_text_collapses_whitespace_like_split_join(text: str) -> None:
    assert clean_text(text) == " ".join(text.split())


def test_parse_iso_datetime_is_aware_utc() -> None:
    assert parse_iso_datetime("2024-01-02") == datetime(2024, 1, 2, tzinfo=UTC)
    assert parse_iso_datetime("2024-01-02T18:59:59.000Z") == datetime(2024, 1, 2, 18, 59, 59, tzinfo=UTC)
    assert parse_iso_datetime("2024-01-02T10:00:00+02:00").hour == 8
    with pytest.raises(ValueError):
        parse_iso_datetime("02/01/2024")


def test_http_url() -> None:
    assert http_url(" https://github.com/x/y ", "url") == "https://github.com/x/y"
    assert http_url("", "url") is None and http_url(None, "url") is None
    for bad in ("javascript:alert(1)", "github.com/x", "https://a b"):
        with pytest.raises(BadField):
            http_url(bad, "url")


def test_clean_doi() -> None:
    assert clean_doi("https://doi.org/10.1103/PhysRevD.76.013009") == "10.1103/PhysRevD.76.013009"
    assert clean_doi("doi:10.1/x 10.2/y") == "10.1/x"
    assert clean_doi(None) is None
    with pytest.raises(BadField) as info:
        clean_doi("not-a-doi")
    assert info.value.field == "doi"


def test_check_fetched_at() -> None:
    aware = datetime(2024, 1, 2, 12, tzinfo=timezone(timedelta(hours=2)))
    assert check_fetched_at(aware) == datetime(2024, 1, 2, 10, tzinfo=UTC)
    assert check_fetched_at(None) is None
    with pytest.raises(InvalidInput, match="no timezone"):
        check_fetched_at(datetime(2024, 1, 2))


@pytest.mark.parametrize("line", [
    b'{"a": "x\\u0000y", "id": "\\u0007"}', b'{"a": "\\ud800"}', b'{"a": "\\ud83d\\ude00"}', b'{"a": NaN}',
    b'\xef\xbb\xbf{"a": 1}', b'{"a": "\x7f"}', b'{"a": 1, "a": 2}', b'[1]', b'{"a": "\xff"}', b'{"a": 1} x',
    b'{"a": "\\u001b"}', b'  {"a": ["\\u00e9", {"b": null}]}  ', b'{"a": 1e400}', b"{" * 2000 + b"}" * 2000,
    b'{"title": "T", "versions": [{"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"}]}',
])
def test_orjson_fast_path_decides_like_the_standard_decoder(line: bytes) -> None:
    assert decode_json_object_fast(line, "line 3") == decode_json_object(line, "line 3")
