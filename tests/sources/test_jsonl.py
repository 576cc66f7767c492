"""Generic JSON lines, BEIR corpora, the demo seed, and real files from ../shared."""

from __future__ import annotations

import gzip
import io
import itertools
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from paperfeed.errors import InvalidInput, SourceError
from paperfeed.models import Link, Paper, Rejected, SourceItem
from paperfeed.sources.jsonl import derive_title, open_maybe_gzip, parse_jsonl

FIXTURES = Path(__file__).parents[1] / "fixtures" / "jsonl"
SHARED = Path(__file__).parents[2].parent / "shared"


def parse_file(name: str, **kwargs: Any) -> list[SourceItem]:
    with open_maybe_gzip(FIXTURES / name) as stream:
        return list(parse_jsonl(stream, **kwargs))


def parse_records(*records: dict[str, Any], **kwargs: Any) -> list[SourceItem]:
    data = b"".join(json.dumps(record).encode() + b"\n" for record in records)
    return list(parse_jsonl(io.BytesIO(data), **kwargs))


def one_paper(**record: Any) -> Paper:
    [paper] = parse_records({"title": "T", **record})
    assert isinstance(paper, Paper), paper
    return paper


def test_beir_record_maps_to_a_paper_with_its_id() -> None:
    first = parse_file("beir_corpus.jsonl", source="beir-scifact")[0]
    assert first == Paper(
        title="Microstructural development of human newborn cerebral white matter assessed in vivo by "
        "diffusion tensor magnetic resonance imaging.",
        id="4983",
        abstract=first.abstract if isinstance(first, Paper) else "",
        source="beir-scifact",
        source_id="4983",
    )
    assert isinstance(first, Paper) and first.abstract.startswith("Alterations of the architecture")


def test_empty_beir_title_is_derived_from_text() -> None:
    items = parse_file("beir_corpus.jsonl")
    papers = {p.id: p for p in items if isinstance(p, Paper)}
    assert len(papers) == 4
    nf = papers["MED-10"]
    assert nf.extra == {"title_derived": True}
    assert nf.title.endswith("…") and len(nf.title) <= 120
    assert nf.abstract.startswith(nf.title[:-1])
    assert papers["MED-118"].title == "Background. Alkylphenols are endocrine disruptors found in human milk"
    assert papers["31715818"].extra == {
        "metadata": {"url": "https://pubmed.ncbi.nlm.nih.gov/31715818/", "pubmed_id": "31715818"}
    }


def test_generic_records_with_every_optional_field() -> None:
    first, second, year, year_str, offset = parse_file("records.jsonl")
    assert first == Paper(
        title="Attention Is All You Need",
        id="my-paper-1",
        abstract="The dominant sequence transduction models are based on complex recurrent networks.",
        authors=["Ashish Vaswani", "Noam Shazeer", "Niki Parmar"],
        categories=["cs.CL", "cs.LG"],
        arxiv_id="1706.03762",
        arxiv_version=7,
        published=datetime(2017, 6, 12, 17, 57, 34, tzinfo=UTC),
        links=[
            Link("abs", "https://arxiv.org/abs/1706.03762"),
            Link("pdf", "https://arxiv.org/pdf/1706.03762"),
            Link("other", "https://github.com/tensorflow/tensor2tensor"),
        ],
        source="jsonl",
        source_id="my-paper-1",
    )
    assert isinstance(second, Paper)
    assert second.authors == ["Jacob Devlin", "Ming-Wei Chang", "Kenton Lee", "Kristina Toutanova"]
    assert second.categories == ["cs.CL", "cs.AI"]
    assert second.doi == "10.18653/v1/N19-1423" and second.links_of("doi") == ["https://doi.org/10.18653/v1/N19-1423"]
    assert second.published == datetime(2018, 10, 11, tzinfo=UTC)
    assert isinstance(year, Paper) and year.published == datetime(1998, 1, 1, tzinfo=UTC) and year.id == ""
    assert isinstance(year_str, Paper) and year_str.published == datetime(2003, 1, 1, tzinfo=UTC)
    assert isinstance(offset, Paper) and offset.published == datetime(2024, 1, 2, 8, tzinfo=UTC)


def test_seed_format() -> None:
    items = parse_file("seed_sample.jsonl", source="seed")
    assert all(isinstance(p, Paper) and p.source == "seed" and p.id == "" for p in items)
    first, second, third = items
    assert isinstance(first, Paper) and isinstance(second, Paper) and isinstance(third, Paper)
    assert first.extra == {"seed_rank": 1}
    assert first.links == [Link("other", "https://lamo2023.github.io")]
    assert second.links == []
    assert third.links_of("other") == ["https://github.com/thunlp/PLMpapers", "https://github.com/x/y"]
    assert not third.has_code  # classification is ingest's job


def test_malformed_lines_are_rejected_and_parsing_continues() -> None:
    items = parse_file("malformed.jsonl")
    assert [(r.where, r.field) for r in items if isinstance(r, Rejected)] == [
        ("line 2", "_id"),
        ("line 3", "_id"),
        ("line 4", "_id"),
        ("line 5", "published"),
        ("line 6", "title"),
        ("line 7", None),
        ("line 8", None),
        ("line 10", "links"),
        ("line 11", "year"),
        ("line 12", "title"),
        ("line 13", None),
        ("line 14", "date"),
    ]
    assert [p.id for p in items if isinstance(p, Paper)] == ["ok-1", "ok-15"]
    reasons = {r.where: r.reason for r in items if isinstance(r, Rejected)}
    assert "'last Tuesday'" in reasons["line 5"] and "YYYY-MM-DD" in reasons["line 5"] and "year" in reasons["line 5"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-02", datetime(2024, 1, 2, tzinfo=UTC)),
        ("2024-01-02T10:00:00Z", datetime(2024, 1, 2, 10, tzinfo=UTC)),
        ("2024-01-02T10:00:00", datetime(2024, 1, 2, 10, tzinfo=UTC)),
        ("2024-01-02 10:00:00+01:00", datetime(2024, 1, 2, 9, tzinfo=UTC)),
        (2019, datetime(2019, 1, 1, tzinfo=UTC)),
        ("2019", datetime(2019, 1, 1, tzinfo=UTC)),
        (" 2019 ", datetime(2019, 1, 1, tzinfo=UTC)),
    ],
)
def test_accepted_dates(value: Any, expected: datetime) -> None:
    assert one_paper(published=value).published == expected


@pytest.mark.parametrize("value", ["02/01/2024", "Jan 2024", "2024-02-30", 12.5, True, 99, [2024], {"y": 2024}])
@pytest.mark.parametrize("key", ["published", "date", "year"])
def test_refused_dates_name_the_field_and_value(key: str, value: Any) -> None:
    [rejected] = parse_records({"title": "T", key: value})
    assert isinstance(rejected, Rejected) and rejected.field == key
    assert str(value)[:10] in rejected.reason and "accepted:" in rejected.reason


@pytest.mark.parametrize(
    ("record", "expected"),
    [({"_id": 123}, "123"), ({"id": "abc-1"}, "abc-1"), ({"_id": "a", "id": "b"}, "a"), ({}, "")],
)
def test_ids(record: dict[str, Any], expected: str) -> None:
    paper = one_paper(**record)
    assert paper.id == paper.source_id == expected


@pytest.mark.parametrize("bad", ["a b", "tab\there", "nul\u0000x", "x" * 201, "", 1.5, ["a"], False, "nbsp\u00a0x"])
def test_bad_ids_are_rejected(bad: Any) -> None:
    [rejected] = parse_records({"_id": bad, "title": "T"})
    assert isinstance(rejected, Rejected) and rejected.field == "_id", rejected


def test_explicit_url_duplicating_the_abs_link_is_kept_once() -> None:
    paper = one_paper(arxiv_id="2401.01234", url="https://arxiv.org/abs/2401.01234", links="https://x.org/p")
    assert [link.url for link in paper.links] == [
        "https://arxiv.org/abs/2401.01234",
        "https://arxiv.org/pdf/2401.01234",
        "https://x.org/p",
    ]


def test_code_links_in_text_are_not_extracted() -> None:
    assert one_paper(text="Code: https://github.com/a/b").links == []


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"authors": 5}, "authors"),
        ({"authors": [1, 2]}, "authors"),
        ({"categories": 5}, "categories"),
        ({"links": {"a": 1}}, "links"),
        ({"url": "ftp://x"}, "url"),
        ({"doi": "nope"}, "doi"),
        ({"arxiv_id": "nope"}, "arxiv_id"),
        ({"metadata": "nope"}, "metadata"),
        ({"rank": "1"}, "rank"),
        ({"text": 5}, "text"),
    ],
)
def test_bad_fields_are_named(record: dict[str, Any], field: str) -> None:
    [rejected] = parse_records({"title": "T", **record})
    assert isinstance(rejected, Rejected) and rejected.field == field, rejected


def test_derive_title() -> None:
    assert derive_title("Short. Then more text follows here.") == "Short. Then more text follows here"
    first = derive_title("Statins reduce mortality in patients. Second sentence.")
    assert first == "Statins reduce mortality in patients"
    long = " ".join(["word"] * 100)
    title = derive_title(long)
    assert title.endswith("…") and len(title) <= 120 and not title[:-1].endswith(" ")


def test_gzip_input_matches_plain(tmp_path: Path) -> None:
    plain = (FIXTURES / "beir_corpus.jsonl").read_bytes()
    packed = tmp_path / "corpus.jsonl.gz"
    packed.write_bytes(gzip.compress(plain))
    mislabelled = tmp_path / "corpus.jsonl"
    mislabelled.write_bytes(gzip.compress(plain))
    expected = parse_file("beir_corpus.jsonl")
    for path in (packed, mislabelled):
        with open_maybe_gzip(path) as stream:
            assert list(parse_jsonl(stream)) == expected


def test_open_maybe_gzip_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="cannot open"):
        open_maybe_gzip(tmp_path / "nope.jsonl")


def test_source_must_be_a_name() -> None:
    with pytest.raises(InvalidInput):
        list(parse_jsonl(io.BytesIO(b""), source=""))


# Real files shared with the project (skipped where this checkout lacks them).


def shared_file(relative: str) -> Path:
    path = SHARED / relative
    if not path.exists():
        pytest.skip(f"{path} is not present in this checkout")
    return path


def test_real_seed_page_parses_completely() -> None:
    with open_maybe_gzip(shared_file("seed/hf-papers-search-page.jsonl")) as stream:
        items = list(parse_jsonl(stream, source="seed"))
    rejected = [str(r) for r in items if isinstance(r, Rejected)]
    assert rejected == []
    papers = [p for p in items if isinstance(p, Paper)]
    assert len(papers) == 123
    assert [p.extra["seed_rank"] for p in papers] == list(range(1, 124))
    assert sum(1 for p in papers if p.links) == 38
    assert all(p.title and p.abstract for p in papers)


@pytest.mark.parametrize("relative", ["data/beir/scifact/corpus.jsonl.gz", "data/beir/nfcorpus-preproc/corpus.jsonl"])
def test_real_beir_corpora_first_records(relative: str) -> None:
    with open_maybe_gzip(shared_file(relative)) as stream:
        items = list(itertools.islice(parse_jsonl(stream, source="beir"), 200))
    assert len(items) == 200
    assert [str(r) for r in items if isinstance(r, Rejected)] == []
    assert all(isinstance(p, Paper) and p.id and p.title and p.abstract for p in items)
