"""The arXiv metadata snapshot (Kaggle JSON lines) parser."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from paperfeed.errors import InvalidInput
from paperfeed.models import Link, Paper, Rejected, SourceItem, Version
from paperfeed.sources.arxiv_snapshot import parse_arxiv_snapshot, parse_rfc2822, split_arxiv_id
from paperfeed.sources.lines import BadField

FIXTURES = Path(__file__).parents[1] / "fixtures" / "snapshot"


def parse_file(name: str, **kwargs: Any) -> list[SourceItem]:
    with (FIXTURES / name).open("rb") as stream:
        return list(parse_arxiv_snapshot(stream, **kwargs))


def parse_records(*records: dict[str, Any]) -> list[SourceItem]:
    data = b"".join(json.dumps(record).encode() + b"\n" for record in records)
    return list(parse_arxiv_snapshot(io.BytesIO(data)))


def one_paper(**record: Any) -> Paper:
    base: dict[str, Any] = {"id": "2401.01234", "title": "A title"}
    [paper] = parse_records({**base, **record})
    assert isinstance(paper, Paper), paper
    return paper


def test_first_snapshot_record_maps_every_field() -> None:
    fetched = datetime(2024, 5, 1, 12, tzinfo=UTC)
    first = parse_file("arxiv-metadata-sample.jsonl", fetched_at=fetched)[0]
    assert first == Paper(
        title="Calculation of prompt diphoton production cross sections at Tevatron and LHC energies",
        abstract=(
            "A fully differential calculation in perturbative quantum chromodynamics is presented for the "
            "production of massive photon pairs at hadron colliders. All next-to-leading order perturbative "
            "contributions from quark-antiquark, gluon-(anti)quark, and gluon-gluon subprocesses are included, "
            "as well as all-orders resummation of initial-state gluon radiation valid at "
            "next-to-next-to-leading logarithmic accuracy."
        ),
        authors=["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C. -P. Yuan"],
        categories=["hep-ph"],
        arxiv_id="0704.0001",
        arxiv_version=2,
        versions=[
            Version(1, datetime(2007, 4, 2, 19, 18, 42, tzinfo=UTC)),
            Version(2, datetime(2007, 7, 24, 20, 10, 27, tzinfo=UTC)),
        ],
        doi="10.1103/PhysRevD.76.013009",
        published=datetime(2007, 4, 2, 19, 18, 42, tzinfo=UTC),
        updated=datetime(2008, 11, 13, tzinfo=UTC),
        links=[
            Link("abs", "https://arxiv.org/abs/0704.0001"),
            Link("pdf", "https://arxiv.org/pdf/0704.0001"),
            Link("doi", "https://doi.org/10.1103/PhysRevD.76.013009"),
        ],
        comments="37 pages, 15 figures; published version",
        journal_ref="Phys.Rev.D76:013009,2007",
        source="arxiv-snapshot",
        source_id="0704.0001",
        fetched_at=fetched,
        extra={"submitter": "Pavel Nadolsky"},
    )
    assert first.id == ""  # ingest derives it


def test_sample_file_parses_without_rejections() -> None:
    items = parse_file("arxiv-metadata-sample.jsonl")
    assert [type(item) for item in items] == [Paper] * 5
    papers = [item for item in items if isinstance(item, Paper)]
    assert [p.arxiv_id for p in papers] == ["0704.0001", "0704.0002", "hep-th/9901001", "math/0309136", "2401.02954"]
    assert all(p.published and p.published.tzinfo is UTC for p in papers)
    assert all(p.updated and p.updated.tzinfo is UTC for p in papers)


def test_license_is_kept_and_categories_split() -> None:
    paper = parse_file("arxiv-metadata-sample.jsonl")[1]
    assert isinstance(paper, Paper)
    assert paper.categories == ["math.CO", "cs.CG"]
    assert paper.extra == {
        "submitter": "Louis Theran",
        "license": "http://arxiv.org/licenses/nonexclusive-distrib/1.0/",
    }
    assert paper.journal_ref is None and paper.doi is None


def test_old_style_id_suffix_and_whitespace() -> None:
    paper = parse_file("arxiv-metadata-sample.jsonl")[2]
    assert isinstance(paper, Paper)
    assert paper.authors == ["J. Smith Jr", "A. N. Other"]
    assert paper.title == "Notes on D-branes and dualities"
    assert paper.abstract == "We review some properties of D-branes."
    assert paper.links_of("pdf") == ["https://arxiv.org/pdf/hep-th/9901001"]


def test_authors_fall_back_to_the_string_and_versions_are_sorted() -> None:
    paper = parse_file("arxiv-metadata-sample.jsonl")[3]
    assert isinstance(paper, Paper)
    assert paper.arxiv_id == "math/0309136" and paper.source_id == "math.GT/0309136"
    assert paper.authors == ["A. One", "B. Two", "C. Three"]
    assert [v.version for v in paper.versions] == [1, 2] and paper.arxiv_version == 2
    assert paper.published == datetime(2003, 9, 8, 9, 30, tzinfo=UTC)
    assert paper.updated == datetime(2003, 9, 10, 12, tzinfo=UTC)  # no update_date: newest version
    assert paper.extra == {}


def test_code_links_in_comments_are_left_for_ingest() -> None:
    paper = parse_file("arxiv-metadata-sample.jsonl")[4]
    assert isinstance(paper, Paper)
    assert paper.comments == "Code: https://github.com/deepseek-ai/DeepSeek-LLM"
    assert not paper.has_code
    assert paper.authors == ["DeepSeek-AI", "Xiao Bi", "Deli Chen"]


def test_malformed_lines_are_rejected_and_parsing_continues() -> None:
    items = parse_file("arxiv-metadata-malformed.jsonl")
    rejected = [(r.where, r.field) for r in items if isinstance(r, Rejected)]
    assert rejected == [
        ("line 3", None),
        ("line 4", "title"),
        ("line 5", "title"),
        ("line 6", "update_date"),
        ("line 7", "versions"),
        ("line 8", None),
        ("line 9", None),
        ("line 11", "id"),
        ("line 12", "versions"),
    ]
    assert [p.arxiv_id for p in items if isinstance(p, Paper)] == ["0704.0001", "0704.0002"]
    reasons = {r.where: r.reason for r in items if isinstance(r, Rejected)}
    assert "'13/11/2008'" in reasons["line 6"] and "2008-11-13" in reasons["line 6"]
    assert reasons["line 8"].startswith("not UTF-8")
    assert reasons["line 3"].startswith("not valid JSON")


def test_too_long_line_is_rejected_with_its_size() -> None:
    data = b'{"id": "2401.00001", "title": "' + b"x" * 1_000_001 + b'"}\n{"id": "2401.00002", "title": "ok"}\n'
    items = list(parse_arxiv_snapshot(io.BytesIO(data)))
    assert items[0] == Rejected("line 1", "record is 1,000,034 bytes; the limit is 1,000,000")
    assert isinstance(items[1], Paper) and items[1].arxiv_id == "2401.00002"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Mon, 2 Apr 2007 19:18:42 GMT", datetime(2007, 4, 2, 19, 18, 42, tzinfo=UTC)),
        ("2 Apr 2007 19:18:42 GMT", datetime(2007, 4, 2, 19, 18, 42, tzinfo=UTC)),
        ("Mon, 2 Apr 2007 19:18:42 +0200", datetime(2007, 4, 2, 17, 18, 42, tzinfo=UTC)),
        ("Mon, 02 Apr 2007 19:18:42 -0000", datetime(2007, 4, 2, 19, 18, 42, tzinfo=UTC)),
    ],
)
def test_rfc2822_dates(value: str, expected: datetime) -> None:
    assert parse_rfc2822(value) == expected
    assert parse_rfc2822(value).utcoffset() is not None


@pytest.mark.parametrize("value", ["2007-04-02", "Mon, 31 Apr 2007 19:18:42 GMT", "", "yesterday"])
def test_rfc2822_rejects_other_formats(value: str) -> None:
    with pytest.raises(ValueError):
        parse_rfc2822(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0704.0001", ("0704.0001", None)),
        ("2401.01234v3", ("2401.01234", 3)),
        ("arXiv:2401.01234", ("2401.01234", None)),
        ("hep-th/9901001", ("hep-th/9901001", None)),
        ("math.GT/0309136v2", ("math/0309136", 2)),
    ],
)
def test_split_arxiv_id(value: str, expected: tuple[str, int | None]) -> None:
    assert split_arxiv_id(value) == expected


@pytest.mark.parametrize("value", ["", "not an id", "2413.01234", "1234", None, 704.0001, "hep-th/9901001 extra"])
def test_split_arxiv_id_refuses(value: Any) -> None:
    with pytest.raises(BadField):
        split_arxiv_id(value)


def test_minimal_record_and_version_in_id() -> None:
    paper = one_paper(id="2401.01234v2")
    assert (paper.arxiv_id, paper.arxiv_version, paper.versions) == ("2401.01234", 2, [])
    assert paper.published is None and paper.updated is None
    assert paper.links_of("pdf") == ["https://arxiv.org/pdf/2401.01234"]


def test_malformed_doi_is_dropped_not_fatal() -> None:
    paper = one_paper(doi="see journal")
    assert paper.doi is None and paper.links_of("doi") == []
    assert one_paper(doi="10.1/a 10.2/b").doi == "10.1/a"


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"authors_parsed": [["Smith", 3, ""]]}, "authors_parsed"),
        ({"authors_parsed": ["Smith, J."]}, "authors_parsed"),
        ({"authors": ["A", "B"], "authors_parsed": None}, "authors"),
        ({"categories": ["cs.LG"]}, "categories"),
        ({"versions": [{"created": "Mon, 2 Apr 2007 19:18:42 GMT"}]}, "versions"),
        ({"versions": [{"version": "one"}]}, "versions"),
        ({"versions": ["v1"]}, "versions"),
        ({"update_date": 20081113}, "update_date"),
        ({"title": ["A", "title"]}, "title"),
        ({"id": None}, "id"),
    ],
)
def test_bad_fields_are_named(record: dict[str, Any], field: str) -> None:
    [item] = parse_records({"id": "2401.01234", "title": "A title", **record})
    assert isinstance(item, Rejected) and item.field == field, item
    assert item.where == "line 1"


def test_naive_fetched_at_is_refused() -> None:
    with pytest.raises(InvalidInput):
        list(parse_arxiv_snapshot(io.BytesIO(b""), fetched_at=datetime(2024, 1, 1)))


def test_parser_is_lazy() -> None:
    """A generator: nothing is read before the first item is asked for."""
    stream = io.BytesIO(b'{"id": "2401.01234", "title": "T"}\n')
    items = parse_arxiv_snapshot(stream)
    assert stream.tell() == 0
    next(items)
    assert stream.tell() > 0
