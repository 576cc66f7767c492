"""The Hugging Face daily papers parser (JSON array and JSON lines)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from paperfeed.errors import SourceError
from paperfeed.models import Link, Paper, Rejected, SourceItem
from paperfeed.sources import hf_daily
from paperfeed.sources.hf_daily import parse_hf_daily

FIXTURES = Path(__file__).parents[1] / "fixtures" / "hf"


def parse_file(name: str, **kwargs: Any) -> list[SourceItem]:
    with (FIXTURES / name).open("rb") as stream:
        return list(parse_hf_daily(stream, **kwargs))


def parse_bytes(data: bytes) -> list[SourceItem]:
    return list(parse_hf_daily(io.BytesIO(data)))


def item(**paper: Any) -> dict[str, Any]:
    return {"paper": {"id": "2401.01234", "title": "T", **paper}, "numComments": 1}


def test_first_item_maps_every_field() -> None:
    fetched = datetime(2024, 1, 8, 6, tzinfo=UTC)
    first = parse_file("daily_papers.json", fetched_at=fetched)[0]
    assert first == Paper(
        title="DeepSeek LLM: Scaling Open-Source Language Models with Longtermism",
        abstract="The rapid development of open-source large language models (LLMs) has been truly remarkable.",
        authors=["Xiao Bi", "Deli Chen", "Guanting Chen"],
        arxiv_id="2401.02954",
        published=datetime(2024, 1, 5, 18, 59, 13, tzinfo=UTC),
        links=[
            Link("abs", "https://arxiv.org/abs/2401.02954"),
            Link("pdf", "https://arxiv.org/pdf/2401.02954"),
            Link("code", "https://github.com/deepseek-ai/DeepSeek-LLM"),
            Link("project", "https://deepseek.com"),
        ],
        source="hf-daily",
        source_id="2401.02954",
        fetched_at=fetched,
        extra={"hf_upvotes": 42, "hf_comments": 3, "hf_submitted_on_daily_at": "2024-01-08T01:23:45.678000+00:00"},
    )


def test_array_file_rejects_bad_items_by_number() -> None:
    items = parse_file("daily_papers.json")
    assert [type(i) for i in items] == [Paper, Paper, Rejected, Rejected, Rejected]
    assert [(r.where, r.field) for r in items if isinstance(r, Rejected)] == [
        ("item 3", "title"),
        ("item 4", "publishedAt"),
        ("item 5", "githubRepo"),
    ]
    second = items[1]
    assert isinstance(second, Paper)
    assert second.authors == [] and not second.has_code and second.links_of("project") == []


def test_json_lines_file_gives_the_same_papers() -> None:
    array, lines = parse_file("daily_papers.json"), parse_file("daily_papers.jsonl")
    assert [p for p in lines if isinstance(p, Paper)] == [p for p in array if isinstance(p, Paper)]
    assert [(r.where, r.field) for r in lines if isinstance(r, Rejected)] == [
        ("line 3", None),
        ("line 5", "title"),
        ("line 6", "publishedAt"),
        ("line 7", "githubRepo"),
    ]


def test_error_object_raises_source_error() -> None:
    with pytest.raises(SourceError, match="Invalid date format"):
        parse_file("error.json")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"error": "Rate limited"}', "Rate limited"),
        (b'{"error": "Rate limited"}\n' + json.dumps(item()).encode() + b"\n", "Rate limited"),
        (b'{"papers": []}', "expected a JSON array"),
        (b'"hello"', "got a string"),
        (b"42", "got a number"),
        (b"", "empty"),
        (b"  \n ", "empty"),
        (b"<html>Bad gateway</html>", "not a JSON array"),
        (b'[{"paper": {"id": "2401.01234"', "not valid JSON"),
        (b"[\xff]", "not UTF-8"),
    ],
)
def test_input_that_is_not_a_list_of_items_raises(data: bytes, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        parse_bytes(data)


def test_large_error_object_in_json_lines_mode_raises() -> None:
    data = json.dumps({"error": "x" * 100_000}).encode() + b"\n"
    with pytest.raises(SourceError, match="returned an error"):
        parse_bytes(data)


def test_oversized_document_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hf_daily, "MAX_DOCUMENT_BYTES", 1000)
    with pytest.raises(SourceError, match="over 1,000 bytes") as info:
        parse_bytes(json.dumps([item()] * 100).encode())
    assert "JSON lines" in info.value.hint


def test_big_json_lines_input_is_streamed() -> None:
    data = b"".join(json.dumps(item(title=f"Paper {n}")).encode() + b"\n" for n in range(2000))
    assert len(data) > 1 << 16  # larger than the sniffed head
    items = parse_bytes(data)
    assert len(items) == 2000 and all(isinstance(p, Paper) for p in items)
    assert items[-1].title == "Paper 1999"  # type: ignore[union-attr]


def test_array_with_non_object_items() -> None:
    items = parse_bytes(b'[1, {"paper": 2}, {"paper": {"title": "No id"}}]')
    assert [(r.where, r.field) for r in items if isinstance(r, Rejected)] == [
        ("item 1", None),
        ("item 2", "paper"),
        ("item 3", "id"),
    ]


def test_bare_paper_object_and_item_level_fallbacks() -> None:
    bare = {"id": "2401.01234", "title": "Bare", "summary": "S", "publishedAt": "2024-01-02T00:00:00Z"}
    wrapped = {
        "paper": {"id": "2401.01235"},
        "title": "Item title",
        "summary": "Item summary",
        "publishedAt": "2024-01-03T00:00:00.000Z",
    }
    first, second = parse_bytes(json.dumps([bare, wrapped]).encode())
    assert isinstance(first, Paper) and first.title == "Bare" and first.extra == {}
    assert isinstance(second, Paper)
    assert (second.title, second.abstract) == ("Item title", "Item summary")
    assert second.published == datetime(2024, 1, 3, tzinfo=UTC)


def test_non_arxiv_id_keeps_source_id_only() -> None:
    [paper] = parse_bytes(json.dumps([item(id="hf-internal-7")]).encode())
    assert isinstance(paper, Paper)
    assert paper.arxiv_id is None and paper.source_id == "hf-internal-7" and paper.links == []


@pytest.mark.parametrize(
    ("paper", "field"),
    [
        ({"upvotes": "many"}, "upvotes"),
        ({"authors": "A, B"}, "authors"),
        ({"authors": [{"_id": "x"}]}, "authors"),
        ({"projectPage": "javascript:alert(1)"}, "projectPage"),
        ({"submittedOnDailyAt": "Monday"}, "submittedOnDailyAt"),
        ({"summary": 5}, "summary"),
    ],
)
def test_bad_fields_are_named(paper: dict[str, Any], field: str) -> None:
    [rejected] = parse_bytes(json.dumps([item(**paper)]).encode())
    assert isinstance(rejected, Rejected) and rejected.field == field, rejected
    assert rejected.where == "item 1"


def test_array_items_are_sanitized_like_json_lines() -> None:
    data = (
        b'[{"paper": {"id": "2401.01234", "title": "Nul\\u0000 title"}},'
        b' {"paper": {"id": "2401.01235", "title": "\\ud800"}}]'
    )
    first, second = parse_bytes(data)
    assert isinstance(first, Paper) and first.title == "Nul title"
    assert isinstance(second, Rejected) and second.where == "item 2" and "surrogate" in second.reason
