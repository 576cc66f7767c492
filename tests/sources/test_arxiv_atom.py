"""Parser tests on hand-written arXiv API responses (tests/fixtures/arxiv)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from paperfeed.errors import InvalidInput, SourceError
from paperfeed.models import Link, Paper, Rejected, Version
from paperfeed.sources.arxiv_atom import ArxivApiError, parse_arxiv_id, parse_feed

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "arxiv"
UTC = timezone.utc


def load(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.fixture(scope="module")
def page():
    return parse_feed(load("feed_page.xml"))


def papers_by_id(page) -> dict[str, Paper]:
    return {p.arxiv_id: p for p in page.items if isinstance(p, Paper)}


def test_feed_counters(page):
    assert (page.total_results, page.start_index, page.items_per_page) == (57, 0, 10)
    assert len(page.items) == 8


def test_entries_keep_document_order(page):
    kinds = [p.arxiv_id if isinstance(p, Paper) else "rejected" for p in page.items]
    assert kinds == ["2401.01234", "hep-th/9901001", "0704.0001", "math/0309136",
                     "rejected", "rejected", "rejected", "2411.10002"]


def test_new_style_multi_version_entry(page):
    p = papers_by_id(page)["2401.01234"]
    assert p.id == ""
    assert p.source == "arxiv-api" and p.source_id == "2401.01234v2"
    assert p.arxiv_version == 2
    assert p.title == "Sparse Attention Routing for Long-Context Language Models"
    assert p.abstract.startswith("We study how sparse attention patterns can be routed across")
    assert "\n" not in p.abstract and "  " not in p.abstract
    assert p.abstract.endswith("within 0.1 of dense attention.")
    assert p.authors == ["Ada Lovelace", "Alan Turing", "Grace Hopper"]
    assert p.extra["affiliations"] == [["Analytical Engine Lab"], [],
                                       ["Navy Research", "Yale University"]]
    assert p.categories == ["cs.CL", "cs.LG", "cs.AI", "68T50"]
    assert p.doi == "10.18653/v1/2024.acl-long.123"
    assert p.journal_ref == "Proceedings of ACL 2024, pp. 1-12"
    assert p.comments == ("12 pages, 4 figures. Accepted at ACL 2024. Code: "
                          "https://github.com/example/sparse-routing")
    assert p.published == datetime(2024, 1, 3, 18, 59, 59, tzinfo=UTC)
    assert p.updated == datetime(2024, 2, 15, 9, 30, 12, tzinfo=UTC)
    assert p.versions == [Version(1, p.published), Version(2, p.updated)]
    assert p.links == [
        Link("abs", "https://arxiv.org/abs/2401.01234"),
        Link("pdf", "https://arxiv.org/pdf/2401.01234"),
        Link("doi", "https://doi.org/10.18653/v1/2024.acl-long.123"),
    ]


def test_code_links_are_left_to_ingest(page):
    assert not papers_by_id(page)["2401.01234"].has_code


def test_old_style_single_version_entry(page):
    p = papers_by_id(page)["hep-th/9901001"]
    assert p.source_id == "hep-th/9901001v1" and p.arxiv_version == 1
    assert p.versions == [Version(1, datetime(1999, 1, 4, 12, tzinfo=UTC))]
    assert p.doi is None and p.journal_ref is None and p.comments == ""
    assert p.links == [Link("abs", "https://arxiv.org/abs/hep-th/9901001"),
                       Link("pdf", "https://arxiv.org/pdf/hep-th/9901001")]
    assert p.extra == {}


def test_intermediate_versions_are_listed_undated_and_offsets_become_utc(page):
    p = papers_by_id(page)["0704.0001"]
    assert p.updated == datetime(2008, 11, 13, 22, 23, 17, tzinfo=UTC)
    assert p.updated.utcoffset().total_seconds() == 0
    assert p.versions == [Version(1, datetime(2007, 4, 2, 19, 18, 42, tzinfo=UTC)),
                          Version(2, None), Version(3, p.updated)]
    assert p.title == ("Calculation of prompt diphoton production cross sections at "
                       "Tevatron and LHC energies")
    assert p.authors == ["C. Bal\\'azs", "E. L. Berger"]


def test_old_archive_with_subject_class_primary(page):
    p = papers_by_id(page)["math/0309136"]
    assert p.categories == ["math.GT", "math.QA"]


def test_https_ids_from_newer_api(page):
    p = papers_by_id(page)["2411.10002"]
    assert p.source_id == "2411.10002v1" and p.categories == ["cs.DS"]


def test_bad_entries_become_rejected(page):
    rejected = [r for r in page.items if isinstance(r, Rejected)]
    assert [(r.where, r.field) for r in rejected] == [
        ("entry 5", "title"), ("entry 6", "published"), ("entry 7", "id")]
    assert "2401.05555v1" in rejected[0].reason
    assert "11 Jan 2024" in rejected[1].reason
    assert "example.org" in rejected[2].reason


def test_error_feed_raises_with_arxiv_message():
    with pytest.raises(ArxivApiError, match="incorrect id format for 1234.12345") as info:
        parse_feed(load("error_feed.xml"))
    assert isinstance(info.value, SourceError)


def test_truncated_document_raises_source_error():
    with pytest.raises(SourceError, match="not valid XML"):
        parse_feed(load("truncated.xml"))


@pytest.mark.parametrize("body, message", [
    (b"Rate exceeded.", "not valid XML"),
    (b"", "not valid XML"),
    (b"<rss version='2.0'><channel/></rss>", "not an Atom feed"),
    (b"<feed xmlns='http://www.w3.org/2005/Atom'><entry/></feed>", "opensearch:totalResults"),
    (b"<!DOCTYPE x [<!ENTITY a 'aaaa'>]><feed xmlns='http://www.w3.org/2005/Atom'/>", "DTD"),
])
def test_malformed_documents_raise_source_error(body, message):
    with pytest.raises(SourceError, match=message):
        parse_feed(body)


def test_empty_feed():
    page = parse_feed(load("empty_feed.xml"))
    assert (page.total_results, page.items) == (0, [])


@pytest.mark.parametrize("text, expected", [
    ("2401.01234v2", ("2401.01234", 2)),
    ("2401.01234", ("2401.01234", None)),
    ("arXiv:2401.01234", ("2401.01234", None)),
    ("  arxiv:2401.01234v10 ", ("2401.01234", 10)),
    ("https://arxiv.org/abs/2401.01234v3", ("2401.01234", 3)),
    ("http://export.arxiv.org/abs/2401.01234", ("2401.01234", None)),
    ("https://arxiv.org/pdf/2401.01234v1.pdf", ("2401.01234", 1)),
    ("https://arxiv.org/pdf/2401.01234", ("2401.01234", None)),
    ("0704.0001", ("0704.0001", None)),
    ("hep-th/9901001v1", ("hep-th/9901001", 1)),
    ("https://arxiv.org/abs/hep-th/9901001", ("hep-th/9901001", None)),
    ("math.GT/0309136", ("math/0309136", None)),
    ("cond-mat/0102536v2", ("cond-mat/0102536", 2)),
])
def test_parse_arxiv_id_accepts_common_forms(text, expected):
    assert parse_arxiv_id(text) == expected


@pytest.mark.parametrize("text", [
    "", "hello", "2401.123", "2413.01234", "2401.012345", "2401.01234v0",
    "https://example.org/abs/2401.01234", "hep-th/99010", "10.1000/xyz",
    "2401.01234 2401.01235",
])
def test_parse_arxiv_id_rejects_others(text):
    with pytest.raises(InvalidInput) as info:
        parse_arxiv_id(text)
    assert info.value.field == "arxiv_id"
    assert "2401.01234" in info.value.hint
