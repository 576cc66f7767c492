from datetime import datetime, timezone

from paperfeed.ingest import merge, run_ingest
from paperfeed.models import Link, PaperFilter, Rejected, Version
from paperfeed.store import Store

from tests.conftest import make_paper

T1 = datetime(2024, 1, 1, tzinfo=timezone.utc)
T2 = datetime(2024, 3, 1, tzinfo=timezone.utc)


def test_second_run_of_the_same_input_changes_nothing(store: Store) -> None:
    items = [make_paper(f"Paper number {i}", arxiv_id=f"2401.{i:05d}") for i in range(50)]
    first = run_ingest(store, items, batch_size=7)
    assert (first.added, first.updated, first.unchanged) == (50, 0, 0)
    again = run_ingest(store, [make_paper(f"Paper number {i}", arxiv_id=f"2401.{i:05d}") for i in range(50)])
    assert (again.added, again.updated, again.unchanged) == (0, 0, 50)
    assert store.count_papers() == 50


def test_arxiv_versions_fold_into_one_paper_keeping_the_newest(store: Store) -> None:
    v1 = make_paper("Old title", arxiv_id="2401.00001", arxiv_version=1, versions=[Version(1, T1)], updated=T1)
    v2 = make_paper("New title", arxiv_id="2401.00001", arxiv_version=2, versions=[Version(2, T2)], updated=T2)
    report = run_ingest(store, [v2, v1])  # older version arriving later must not win
    assert (report.added, report.records) == (1, 2)
    paper = store.get_paper("2401.00001")
    assert paper is not None and paper.title == "New title" and paper.arxiv_version == 2
    assert [v.version for v in paper.versions] == [1, 2]
    assert run_ingest(store, [v1, v2]).unchanged == 2


def test_doi_and_title_author_dedup_across_sources(store: Store) -> None:
    run_ingest(store, [make_paper("Graph Networks", doi="10.5/GN", source="a")])
    by_doi = run_ingest(store, [make_paper("Graph networks (journal version)", doi="https://doi.org/10.5/gn", source="b")])
    by_title = run_ingest(store, [make_paper("GRAPH NETWORKS.", source="c", links=[Link("code", "https://github.com/g/n")])])
    assert by_doi.added == 0 and by_title.added == 0
    assert store.count_papers() == 1
    (paper,) = store.list_papers(filters=PaperFilter(), limit=5)[0]
    assert paper.has_code


def test_same_title_but_different_ids_from_one_source_stay_apart(store: Store) -> None:
    report = run_ingest(
        store,
        [make_paper("Summary", id="d1", source="jsonl", source_id="d1", authors=[]),
         make_paper("Summary", id="d2", source="jsonl", source_id="d2", authors=[])],
    )
    assert report.added == 2 and store.count_papers() == 2


def test_rejections_are_reported_and_the_rest_lands(store: Store) -> None:
    items = [make_paper("Good one"), Rejected(where="line 2", field="title", reason="missing"), make_paper("Good two")]
    report = run_ingest(store, items)
    assert report.added == 2 and report.rejected_count == 1
    assert str(report.rejected[0]) == "line 2: field 'title': missing"


def test_links_in_abstract_and_comments_are_extracted(store: Store) -> None:
    run_ingest(
        store,
        [make_paper("Linked", arxiv_id="2401.00009",
                    abstract="Code: https://github.com/a/b.", comments="Project page https://a.github.io/b/.")],
    )
    paper = store.get_paper("2401.00009")
    assert paper is not None
    assert paper.links_of("code") == ["https://github.com/a/b"]
    assert paper.links_of("project") == ["https://a.github.io/b/"]


def test_merge_is_stable_when_a_record_is_applied_again() -> None:
    hf = make_paper("T", arxiv_id="1", links=[Link("code", "https://github.com/x/y")], extra={"hf_upvotes": 5})
    api = make_paper("T", arxiv_id="1", arxiv_version=3, doi="10.1/t", updated=T2)
    merged = merge(merge(hf, api), hf)
    assert merged == merge(hf, api)
    assert merged.doi == "10.1/t" and merged.has_code and merged.extra == {"hf_upvotes": 5}


class _PapersOnlyBackend:
    """A store backend without the optional `write_rows` (as a new backend may start)."""

    def __init__(self, inner: Store) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> object:
        if name == "write_rows":
            raise AttributeError(name)
        return getattr(self._inner, name)


def test_backend_without_write_rows_gets_the_same_outcomes(store: Store) -> None:
    backend = _PapersOnlyBackend(store)
    assert not hasattr(backend, "write_rows")
    v1 = make_paper("Old title", arxiv_id="2401.00001", arxiv_version=1, versions=[Version(1, T1)], updated=T1)
    v2 = make_paper("New title", arxiv_id="2401.00001", arxiv_version=2, versions=[Version(2, T2)], updated=T2)
    first = run_ingest(backend, [v1, make_paper("Other", doi="10.5/o")], batch_size=1)  # type: ignore[arg-type]
    assert (first.added, first.updated) == (2, 0)
    second = run_ingest(backend, [v2, v1, make_paper("Other", doi="10.5/o")])  # type: ignore[arg-type]
    assert (second.added, second.updated, second.unchanged) == (0, 1, 2)
    paper = store.get_paper("2401.00001")
    assert paper is not None and paper.title == "New title" and store.max_rev() == 3
