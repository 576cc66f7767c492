from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from paperfeed.errors import ConfigError
from paperfeed.models import Link, PaperFilter, Version
from paperfeed.store import Store, open_store

from tests.conftest import make_paper

NOW = datetime(2026, 11, 27, tzinfo=timezone.utc)


def test_paper_round_trips_every_field(store: Store) -> None:
    paper = make_paper(
        "Round Trip",
        id="2401.00001",
        arxiv_id="2401.00001",
        arxiv_version=2,
        versions=[Version(1, datetime(2024, 1, 1, tzinfo=timezone.utc)), Version(2, None)],
        doi="10.1/rt",
        updated=datetime(2024, 2, 1, tzinfo=timezone.utc),
        links=[Link("abs", "https://arxiv.org/abs/2401.00001"), Link("code", "https://github.com/a/b")],
        comments="10 pages",
        journal_ref="J. Things 1 (2024)",
        source_id="2401.00001v2",
        fetched_at=NOW,
        extra={"hf_upvotes": 3},
    )
    assert store.write_papers([paper], ingested_at=NOW) == []
    assert store.get_paper("2401.00001") == paper


def test_migrate_is_idempotent_and_recorded(store: Store) -> None:
    assert store.migrate() == []
    assert store.stats()["pending_migrations"] == []


def test_list_filters_and_orders_newest_first(store: Store) -> None:
    papers = [
        make_paper("Old", id="a", published=datetime(2026, 1, 1, tzinfo=timezone.utc), categories=["cs.LG"]),
        make_paper("Mid", id="b", published=datetime(2026, 6, 1, tzinfo=timezone.utc),
                   links=[Link("code", "https://github.com/x/y")]),
        make_paper("New", id="c", published=datetime(2026, 11, 1, tzinfo=timezone.utc)),
    ]
    store.write_papers(papers, ingested_at=NOW)
    listed, total = store.list_papers(filters=PaperFilter(), limit=10)
    assert [p.id for p in listed] == ["c", "b", "a"] and total == 3
    june_on, _ = store.list_papers(filters=PaperFilter(date_from=date(2026, 6, 1)), limit=10)
    assert [p.id for p in june_on] == ["c", "b"]
    until_june, _ = store.list_papers(filters=PaperFilter(date_to=date(2026, 6, 1)), limit=10)
    assert [p.id for p in until_june] == ["b", "a"]
    assert [p.id for p in store.list_papers(filters=PaperFilter(category="cs.LG"), limit=10)[0]] == ["a"]
    assert [p.id for p in store.list_papers(filters=PaperFilter(has_code=True), limit=10)[0]] == ["b"]


def test_uniqueness_conflict_refuses_that_paper_only(store: Store) -> None:
    store.write_papers([make_paper("One", id="p1", doi="10.1/same")], ingested_at=NOW)
    refused = store.write_papers(
        [make_paper("Two", id="p2", doi="10.1/same"), make_paper("Three", id="p3")], ingested_at=NOW
    )
    assert refused == [("p2", "its DOI already belongs to another paper")]
    assert store.get_paper("p3") is not None and store.get_paper("p2") is None


def test_state_round_trip(store: Store) -> None:
    assert store.get_state("k") is None
    store.set_state("k", "v1")
    store.set_state("k", "v2")
    assert store.get_state("k") == "v2"


def test_unknown_database_url_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="not understood"):
        open_store("mysql://nope")


def test_second_connection_sees_writes(store: Store) -> None:
    store.write_papers([make_paper("Shared", id="s")], ingested_at=NOW)
    other = open_store(store.url)
    try:
        assert other.get_paper("s") is not None
    finally:
        other.close()


def test_sqlite_file_is_wal(settings) -> None:  # type: ignore[no-untyped-def]
    store = open_store(settings.database_url)
    store.migrate()
    try:
        store.write_papers([make_paper("Shared", id="s")], ingested_at=NOW)
        assert Path(str(settings.data_dir / "paperfeed.sqlite3-wal")).exists()
    finally:
        store.close()


def test_a_big_category_lists_newest_first_with_its_exact_total(store: Store) -> None:
    """Past ~2,000 members the SQLite store walks the date index instead of sorting the
    category; both plans must give the same page and total."""
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    papers = [
        make_paper(f"Paper number {i}", id=f"p{i:05d}", categories=["cs.CL"] if i % 3 else ["cs.CV", "cs.CL"],
                   published=start.replace(day=1 + i % 28, hour=i % 24, minute=i % 60))
        if i < 2_400 else make_paper(f"Other paper {i}", id=f"p{i:05d}", categories=["math.AG"], published=start)
        for i in range(2_500)
    ]
    store.write_papers(papers, ingested_at=start)
    members = sorted((p for p in papers if "cs.CL" in p.categories), key=lambda p: (p.published, p.id), reverse=True)
    page, total = store.list_papers(filters=PaperFilter(category="cs.CL"), limit=30, offset=60)
    assert total == 2_400
    assert [p.id for p in page] == [p.id for p in members[60:90]]
    later = [p for p in members if p.published.date() >= date(2026, 1, 15)]
    dated, dated_total = store.list_papers(filters=PaperFilter(category="cs.CL", date_from=date(2026, 1, 15)), limit=10)
    assert dated_total == len(later) and [p.id for p in dated] == [p.id for p in later[:10]]
    small, small_total = store.list_papers(filters=PaperFilter(category="cs.CV"), limit=5)
    assert small_total == 800 and all("cs.CV" in p.categories for p in small)
    assert store.list_papers(filters=PaperFilter(category="no.such"), limit=5) == ([], 0)


def test_text_and_keyword_changes_are_the_changes_columns(store: Store) -> None:
    now = datetime(2026, 11, 27, tzinfo=timezone.utc)
    store.write_papers([make_paper("First", id="a"), make_paper("Second", id="b", published=None)], ingested_at=now)
    first_rev = store.max_rev()
    store.write_papers([make_paper("First, revised", id="a", abstract="New abstract.", authors=["Émilie du Châtelet"],
                                   links=[Link("code", "https://github.com/x/y")])], ingested_at=now)
    for after in (0, first_rev):
        changes = [c for batch in store.iter_changes(after_rev=after, batch_size=1) for c in batch]
        texts = [t for batch in store.iter_text_changes(after_rev=after, batch_size=1) for t in batch]
        assert [(t.pk, t.rev, t.title, t.abstract) for t in texts] == [
            (c.pk, c.rev, c.paper.title, c.paper.abstract) for c in changes]
        keyword = [k for batch in store.iter_keyword_changes(after_rev=after, batch_size=1) for k in batch]
        assert [(k.pk, k.rev, k.id, k.title, k.abstract, k.authors, k.categories, k.published, k.has_code)
                for k in keyword] == [
            (c.pk, c.rev, c.paper.id, c.paper.title, c.paper.abstract, c.paper.authors, c.paper.categories,
             c.paper.published, c.paper.has_code) for c in changes]
    assert [k.has_code for batch in store.iter_keyword_changes(after_rev=0) for k in batch] == [False, True]
    assert [t.title for batch in store.iter_text_changes(after_rev=first_rev) for t in batch] == ["First, revised"]
