import contextlib
import json
import os
import signal
import threading
import time
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
import tantivy

from paperfeed.errors import ConfigError, IndexUnavailable
from paperfeed.index.keyword import SCHEMA_VERSION, KeywordIndex
from paperfeed.models import Link, PaperFilter
from paperfeed.query import parse_query
from paperfeed.store import Store

from tests.conftest import make_paper

NOW = datetime(2026, 11, 27, tzinfo=timezone.utc)


def _index(store: Store, tmp_path: Path) -> KeywordIndex:
    return KeywordIndex(tmp_path / "kw", store_identity=store.identity())


def _ids(index: KeywordIndex, text: str, **filters: object) -> list[str]:
    hits = index.search(index.parse(text), filters=PaperFilter(**filters), limit=10)  # type: ignore[arg-type]
    return [hit.paper_id for hit in hits]


def test_title_matches_rank_above_abstract_matches_and_stemming_applies(store: Store, tmp_path: Path) -> None:
    store.write_papers(
        [
            make_paper("Knowledge distillation for transformers", id="t", abstract="A method."),
            make_paper("Vision models", id="a", abstract="We touch on distilling knowledge briefly."),
            make_paper("Unrelated", id="u", abstract="Nothing here."),
        ],
        ingested_at=NOW,
    )
    index = _index(store, tmp_path)
    assert index.sync(store) == 3
    assert _ids(index, '"distillation"') == ["t", "a"]  # "distilling" stems to the same term


def test_sync_follows_updates_without_duplicates(store: Store, tmp_path: Path) -> None:
    index = _index(store, tmp_path)
    store.write_papers([make_paper("Alpha title", id="x")], ingested_at=NOW)
    index.sync(store)
    store.write_papers([make_paper("Beta title", id="x")], ingested_at=NOW)
    assert index.sync(store) == 1
    assert _ids(index, '"alpha"') == []
    assert _ids(index, '"beta"') == ["x"]
    assert index.document_count() == 1
    assert index.sync(store) == 0  # nothing new


def test_filters_narrow_keyword_hits(store: Store, tmp_path: Path) -> None:
    store.write_papers(
        [
            make_paper("Graph learning one", id="g1", categories=["cs.LG"],
                       published=datetime(2023, 5, 1, tzinfo=timezone.utc)),
            make_paper("Graph learning two", id="g2", categories=["cs.CL", "cs.LG"],
                       published=datetime(2025, 5, 1, tzinfo=timezone.utc),
                       links=[Link("code", "https://github.com/g/two")]),
        ],
        ingested_at=NOW,
    )
    index = _index(store, tmp_path)
    index.sync(store)
    assert sorted(_ids(index, '"graph"', category="cs.LG")) == ["g1", "g2"]
    assert _ids(index, '"graph"', category="cs.CL") == ["g2"]
    assert _ids(index, '"graph"', has_code=True) == ["g2"]
    assert _ids(index, '"graph"', date_to=date(2024, 1, 1)) == ["g1"]
    assert _ids(index, '"graph"', date_from=date(2025, 5, 1), date_to=date(2025, 5, 1)) == ["g2"]


def test_index_of_another_store_is_refused(store: Store, tmp_path: Path) -> None:
    _index(store, tmp_path)  # writes nothing until a sync
    index = _index(store, tmp_path)
    store.write_papers([make_paper("Something")], ingested_at=NOW)
    index.sync(store)
    with pytest.raises(ConfigError, match="reindex"):
        KeywordIndex(tmp_path / "kw", store_identity="some-other-store")


def _set_schema_version(index_path: Path, version: int) -> None:
    params_path = index_path / "params.json"
    params_path.write_text(json.dumps({**json.loads(params_path.read_text()), "schema_version": version}))


def _write_v1_index(index_path: Path, store: Store) -> None:
    """What release 1 left on disk: a separate `abstract` field, params saying schema v1."""
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("pk", stored=True, indexed=True, fast=True)
    builder.add_text_field("id", stored=True, tokenizer_name="raw")
    for name in ("text", "title", "abstract"):
        builder.add_text_field(name, tokenizer_name="en_stem")
    builder.add_text_field("authors", tokenizer_name="default")
    builder.add_text_field("category", tokenizer_name="raw")
    for name in ("day", "year", "has_code"):
        builder.add_integer_field(name, indexed=True, fast=True)
    index_path.mkdir()
    writer = tantivy.Index(builder.build(), path=str(index_path)).writer(heap_size=15_000_000, num_threads=1)
    writer.add_document(tantivy.Document(pk=1, id="s", text="Sparse retrieval", title="Sparse retrieval",
                                         abstract="", authors="", category="cs.IR", day=0, year=0, has_code=0))
    writer.commit()
    writer.wait_merging_threads()
    (index_path / "params.json").write_text(json.dumps(
        {"schema_version": 1, "store_identity": store.identity(), "indexed_rev": 1, "documents": 1}))


def test_an_index_of_an_older_schema_answers_until_a_sync_rebuilds_it(store: Store, tmp_path: Path) -> None:
    store.write_papers([make_paper("Sparse retrieval", id="s")], ingested_at=NOW)
    _write_v1_index(tmp_path / "kw", store)
    store.write_papers([make_paper("Dense retrieval", id="d")], ingested_at=NOW)
    upgraded = _index(store, tmp_path)
    assert _ids(upgraded, '"retrieval"') == ["s"]  # the old files answer until the next sync
    assert upgraded.sync(store) == 2  # everything again, not only what came after rev 1
    assert upgraded.params().schema_version == SCHEMA_VERSION
    assert sorted(_ids(upgraded, '"retrieval"')) == ["d", "s"]
    assert "abstract" not in json.dumps(json.loads((tmp_path / "kw" / "meta.json").read_text())["schema"])


def test_an_index_of_a_newer_schema_is_refused(store: Store, tmp_path: Path) -> None:
    store.write_papers([make_paper("Sparse retrieval")], ingested_at=NOW)
    _index(store, tmp_path).sync(store)
    _set_schema_version(tmp_path / "kw", SCHEMA_VERSION + 1)
    with pytest.raises(ConfigError, match="reindex"):
        _index(store, tmp_path)


def test_abs_field_matches_abstract_words_through_the_combined_text_field(store: Store, tmp_path: Path) -> None:
    store.write_papers(
        [
            make_paper("Vision models", id="v", abstract="We pre-train with a contrastive loss."),
            make_paper("Contrastive language models", id="c", abstract="Masked prediction only."),
            make_paper("Audio models", id="a", abstract="A reconstruction loss."),
        ],
        ingested_at=NOW,
    )
    index = _index(store, tmp_path)
    index.sync(store)
    assert _ids(index, parse_query('abs:"contrastive loss"').to_tantivy()) == ["v"]
    assert sorted(_ids(index, parse_query("abs:loss").to_tantivy())) == ["a", "v"]


def test_an_error_in_the_bulk_sync_process_reaches_the_caller_as_itself(store: Store, tmp_path: Path) -> None:
    store.write_papers([make_paper("Alpha title", id="x")], ingested_at=NOW)
    index = _index(store, tmp_path)
    # Between opening and syncing, the folder is taken over by another store's index: the
    # child's own check refuses it, and the parent sees that ConfigError, hint and all.
    (index.path / "params.json").write_text(json.dumps(
        {"schema_version": SCHEMA_VERSION, "store_identity": "another-store", "indexed_rev": 0, "documents": 0}))
    with pytest.raises(ConfigError, match="another-store") as raised:
        index.sync_in_own_process(store.url)
    assert "reindex --keyword" in raised.value.hint


def _kill_spawned_children_once_started(stop: threading.Event) -> None:
    """SIGKILL this process's multiprocessing children (not the resource tracker) as they appear."""
    me = os.getpid()
    while not stop.is_set():
        for task in Path(f"/proc/{me}/task").iterdir():
            for pid in _read(task / "children").split():
                if "spawn_main" in _read(Path(f"/proc/{pid}/cmdline")):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(int(pid), signal.SIGKILL)
        time.sleep(0.005)


def _read(path: Path) -> str:
    """A /proc file's text, or "" once its thread or process has gone."""
    try:
        return path.read_bytes().decode("utf-8", "replace")
    except (FileNotFoundError, ProcessLookupError):
        return ""


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="finds the child through /proc")
def test_a_killed_bulk_sync_process_is_a_clear_error_and_the_next_sync_indexes_everything(
    store: Store, tmp_path: Path
) -> None:
    store.write_papers([make_paper("Alpha title", id="x"), make_paper("Beta title", id="y")], ingested_at=NOW)
    index = _index(store, tmp_path)
    stop = threading.Event()
    killer = threading.Thread(target=_kill_spawned_children_once_started, args=(stop,), daemon=True)
    killer.start()
    try:
        with pytest.raises(IndexUnavailable, match="ended before it finished") as raised:
            index.sync_in_own_process(store.url)
    finally:
        stop.set()
        killer.join()
    assert "store is intact" in raised.value.hint
    assert index.document_count() == 0  # nothing half-written
    assert index.sync_in_own_process(store.url) == 2
    assert _ids(index, '"beta"') == ["y"]
