"""Tests for paperfeed.index.vectors: exact search, incremental sync, crash recovery,
mismatch refusal, filters, related papers, and the HNSW graph past its threshold.

The real bundled static embedder is used wherever vectors need not be controlled; a
tiny table embedder (title -> given vector) where they must be."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from paperfeed.errors import ConfigError
from paperfeed.index.embed import Embedder
from paperfeed.index.vectors import VectorIndex, paper_text
from paperfeed.store import Store

from tests.conftest import make_paper

NOW = datetime(2026, 11, 27, tzinfo=timezone.utc)
TOPICS = [
    "Knowledge distillation for small language models",
    "Protein structure prediction with deep networks",
    "Graph neural networks for molecule property prediction",
    "Contrastive pretraining of vision transformers",
    "Speech recognition with self-supervised audio models",
    "Retrieval augmented generation for question answering",
    "Reinforcement learning for robot manipulation",
    "Privacy attacks on federated learning",
    "Quantization of large language models for inference",
    "Causal inference from observational clinical data",
    "Sparse attention for long documents",
    "Diffusion models for image synthesis",
]


class TableEmbedder:
    """Returns the vector registered for each paper's title (text before the first '. ')."""

    def __init__(self, dim: int, name: str = "table") -> None:
        self.name, self.dim = name, dim
        self.table: dict[str, np.ndarray] = {}

    def encode(self, texts: list[str], *, batch_size: int = 0, progress: bool = False) -> np.ndarray:
        return np.stack([self.table[text.split(". ", 1)[0]] for text in texts]).astype(np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        return self.table[text]


def unit_rows(n: int, dim: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def write_table_papers(store: Store, embedder: TableEmbedder, vectors: np.ndarray, *, first: int = 0) -> None:
    papers = []
    for i, vector in enumerate(vectors, start=first):
        title = f"Paper {i}"
        embedder.table[title] = vector
        papers.append(make_paper(title, id=f"p{i}", abstract="x"))
    store.write_papers(papers, ingested_at=NOW)


def pks_by_id(store: Store) -> dict[str, int]:
    return {change.paper.id: change.pk for batch in store.iter_changes(after_rev=0) for change in batch}


def pk_of(store: Store, paper_id: str) -> int:
    return pks_by_id(store)[paper_id]


def open_index(store: Store, tmp_path: Path, embedder: Embedder, **kwargs: object) -> VectorIndex:
    return VectorIndex(tmp_path / "vec", store_identity=store.identity(), model_name=embedder.name,
                       dim=embedder.dim, **kwargs)  # type: ignore[arg-type]


def brute_force(vectors: np.ndarray, pks: np.ndarray, query: np.ndarray, k: int) -> list[int]:
    order = np.lexsort((pks, -(vectors @ query)))[:k]
    return [int(pks[i]) for i in order]


def topic_index(store: Store, tmp_path: Path, static: Embedder) -> VectorIndex:
    store.write_papers([make_paper(title, id=f"t{i}") for i, title in enumerate(TOPICS)], ingested_at=NOW)
    index = open_index(store, tmp_path, static)
    assert index.sync(store, static) == len(TOPICS)
    return index


# ------------------------------------------------------------------------------------------ exact mode


def test_exact_search_equals_brute_force(store: Store, tmp_path: Path, static: Embedder) -> None:
    index = topic_index(store, tmp_path, static)
    changes = [change for batch in store.iter_changes(after_rev=0) for change in batch]
    pks = np.array([change.pk for change in changes])
    vectors = static.encode([paper_text(change.paper) for change in changes])
    for text in ("compressing language models", "molecules and graphs", "robots"):
        query = static.encode_query(text)
        hits = index.search(query, limit=5)
        assert [pk for pk, _ in hits] == brute_force(vectors, pks, query, 5)
        scores = dict(zip(pks.tolist(), (vectors @ query).tolist()))
        assert all(score == pytest.approx(scores[pk], abs=1e-6) for pk, score in hits)
    assert index.search(static.encode_query("anything"), limit=100)[-1][1] <= index.search(
        static.encode_query("anything"), limit=1)[0][1]
    assert len(index.search(static.encode_query("anything"), limit=100)) == len(TOPICS)


def test_paper_text_joins_title_and_abstract() -> None:
    assert paper_text(make_paper("A title", abstract="An abstract.")) == "A title. An abstract."
    assert paper_text(make_paper("Why?", abstract="Because.")) == "Why? Because."
    assert paper_text(make_paper("Only a title", abstract="")) == "Only a title"


def test_sync_appends_new_papers_and_replaces_updated_ones_in_place(store: Store, tmp_path: Path,
                                                                    static: Embedder) -> None:
    index = topic_index(store, tmp_path, static)
    assert index.sync(store, static) == 0  # nothing new
    store.write_papers([make_paper(TOPICS[0], id="t0", abstract="Now about coral reef ecology and fish.")],
                       ingested_at=NOW)
    store.write_papers([make_paper("Ocean acidification and coral bleaching", id="new")], ingested_at=NOW)
    assert index.sync(store, static) == 2
    assert index.count() == len(TOPICS) + 1
    params = json.loads((tmp_path / "vec" / "params.json").read_text())
    assert params["count"] == len(TOPICS) + 1 and params["indexed_rev"] == store.max_rev()
    assert (tmp_path / "vec" / "vectors.f32").stat().st_size == params["count"] * static.dim * 4
    pks = np.fromfile(tmp_path / "vec" / "pks.i64", dtype=np.int64)
    assert len(set(pks.tolist())) == len(pks)  # the update replaced its row
    t0 = pk_of(store, "t0")
    expected = static.encode([f"{TOPICS[0]}. Now about coral reef ecology and fish."])[0]
    np.testing.assert_allclose(index.vector_for(t0), expected, atol=1e-6)
    hits = index.search(static.encode_query("coral reefs"), limit=2)
    assert {pk for pk, _ in hits} == {t0, pk_of(store, "new")}
    assert index.vector_for(10_000) is None


def test_a_second_reader_sees_another_writers_sync(store: Store, tmp_path: Path, static: Embedder) -> None:
    writer = topic_index(store, tmp_path, static)
    reader = open_index(store, tmp_path, static)  # e.g. the web server while `ingest` runs
    store.write_papers([make_paper("Ocean acidification and coral bleaching", id="new")], ingested_at=NOW)
    writer.sync(store, static)
    assert reader.count() == len(TOPICS) + 1
    assert reader.search(static.encode_query("coral bleaching"), limit=1)[0][0] == pk_of(store, "new")


def test_torn_sync_is_cut_off_on_open_and_redone(store: Store, tmp_path: Path, static: Embedder) -> None:
    index = topic_index(store, tmp_path, static)
    store.write_papers([make_paper(f"Extra paper {i} on ocean science", id=f"x{i}") for i in range(6)],
                       ingested_at=NOW)

    class Dies:
        name, dim, calls = static.name, static.dim, 0

        def encode(self, texts: list[str], **kwargs: object) -> np.ndarray:
            Dies.calls += 1
            if Dies.calls > 1:
                raise RuntimeError("killed mid-sync")
            return static.encode(texts)

    with pytest.raises(RuntimeError):
        index.sync(store, Dies(), batch_size=2)  # type: ignore[arg-type]
    folder = tmp_path / "vec"
    assert json.loads((folder / "params.json").read_text())["count"] == len(TOPICS)
    assert (folder / "pks.i64").stat().st_size == (len(TOPICS) + 2) * 8  # appended, never committed
    with open(folder / "vectors.f32", "ab") as handle:
        handle.write(b"\x00" * 100)  # and a half-written row on top

    reopened = open_index(store, tmp_path, static)
    assert (folder / "vectors.f32").stat().st_size == len(TOPICS) * static.dim * 4
    assert (folder / "pks.i64").stat().st_size == len(TOPICS) * 8
    assert reopened.sync(store, static) == 6
    pks = np.fromfile(folder / "pks.i64", dtype=np.int64)
    assert len(pks) == len(set(pks.tolist())) == len(TOPICS) + 6
    np.testing.assert_allclose(reopened.vector_for(pk_of(store, "x1")),
                               static.encode(["Extra paper 1 on ocean science. We study extra paper 1 on "
                                              "ocean science in depth."])[0], atol=1e-6)


# ------------------------------------------------------------------------------------------ refusals


@pytest.mark.parametrize("change", ["model_name", "dim", "store_identity"])
def test_opening_with_another_model_dim_or_store_is_refused(store: Store, tmp_path: Path, static: Embedder,
                                                            change: str) -> None:
    topic_index(store, tmp_path, static)
    kwargs: dict[str, object] = {"store_identity": store.identity(), "model_name": static.name, "dim": static.dim}
    kwargs[change] = {"model_name": "all-MiniLM-L6-v2", "dim": 384, "store_identity": "other-store"}[change]
    with pytest.raises(ConfigError) as caught:
        VectorIndex(tmp_path / "vec", **kwargs)  # type: ignore[arg-type]
    assert str(kwargs[change]) in caught.value.message
    assert "paperfeed reindex" in caught.value.hint
    if change != "store_identity":
        assert static.name in caught.value.message and "256" in caught.value.message
    fresh = VectorIndex.reset(tmp_path / "vec", **kwargs)  # what `paperfeed reindex` does
    assert fresh.count() == 0


def test_an_index_from_another_schema_version_is_refused(store: Store, tmp_path: Path, static: Embedder) -> None:
    topic_index(store, tmp_path, static)
    params_path = tmp_path / "vec" / "params.json"
    params = json.loads(params_path.read_text())
    params_path.write_text(json.dumps({**params, "schema_version": 99, "a_future_field": 1}))
    with pytest.raises(ConfigError, match="schema v99"):
        open_index(store, tmp_path, static)


def test_syncing_with_another_embedder_is_refused(store: Store, tmp_path: Path, static: Embedder) -> None:
    index = topic_index(store, tmp_path, static)
    with pytest.raises(ConfigError, match="table"):
        index.sync(store, TableEmbedder(static.dim, name="table"))  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------ filters, neighbours


def test_allowed_pks_restricts_results(store: Store, tmp_path: Path, static: Embedder) -> None:
    index = topic_index(store, tmp_path, static)
    query = static.encode_query("language models")
    everything = index.search(query, limit=len(TOPICS))
    allowed = [pk for pk, _ in everything][3::2]
    hits = index.search(query, limit=3, allowed_pks=np.array(allowed + [99_999]))
    assert [pk for pk, _ in hits] == [pk for pk, _ in everything if pk in allowed][:3]
    assert index.search(query, limit=3, allowed_pks=[]) == []


def test_neighbours_exclude_the_paper_itself_and_excluded_ones(store: Store, tmp_path: Path,
                                                               static: Embedder) -> None:
    index = topic_index(store, tmp_path, static)
    store.write_papers([make_paper("Knowledge distillation of language models", id="kd2")], ingested_at=NOW)
    index.sync(store, static)
    t0, kd2 = pk_of(store, "t0"), pk_of(store, "kd2")
    related = index.neighbours(t0, limit=3)
    assert len(related) == 3 and t0 not in {pk for pk, _ in related}
    assert related[0][0] == kd2
    assert kd2 not in {pk for pk, _ in index.neighbours(t0, limit=3, exclude_pks=[kd2])}
    assert index.neighbours(123_456, limit=3) == []


def test_rebuild_re_embeds_everything(store: Store, tmp_path: Path, static: Embedder) -> None:
    index = topic_index(store, tmp_path, static)
    before = index.search(static.encode_query("proteins"), limit=3)
    assert index.rebuild(store, static) == len(TOPICS)
    assert index.count() == len(TOPICS)
    assert index.search(static.encode_query("proteins"), limit=3) == before


# ------------------------------------------------------------------------------------------ HNSW graph


def test_hnsw_recall_against_exact_on_random_vectors(store: Store, tmp_path: Path) -> None:
    embedder = TableEmbedder(dim=32)
    vectors = unit_rows(5000, 32, seed=1)
    write_table_papers(store, embedder, vectors)
    index = open_index(store, tmp_path, embedder, hnsw_threshold=1000, m=16, ef_construction=64, ef_search=64)
    index.sync(store, embedder, batch_size=2500)
    assert json.loads((tmp_path / "vec" / "params.json").read_text())["hnsw"]["built_rows"] == 5000
    pks = np.fromfile(tmp_path / "vec" / "pks.i64", dtype=np.int64)
    recall = []
    for query in unit_rows(100, 32, seed=2):
        truth = set(brute_force(vectors, pks, query, 10))
        recall.append(len(truth & {pk for pk, _ in index.search(query, limit=10)}) / 10)
    assert np.mean(recall) >= 0.95


def test_hnsw_is_built_past_the_threshold_and_stays_right_after_updates(store: Store, tmp_path: Path) -> None:
    dim = 16
    embedder = TableEmbedder(dim)
    write_table_papers(store, embedder, unit_rows(300, dim, seed=3))
    index = open_index(store, tmp_path, embedder, hnsw_threshold=200, graph_batch=50, scan_max_rows=100)
    index.sync(store, embedder)
    folder = tmp_path / "vec"
    graph = json.loads((folder / "params.json").read_text())["hnsw"]
    assert graph["built_rows"] == 300 and (folder / graph["file"]).exists()

    # Paper 7 moves far away: its row is rewritten and served exactly, not from the stale graph.
    target = unit_rows(1, dim, seed=4)[0]
    old7 = embedder.table["Paper 7"]
    embedder.table["Paper 7"] = target
    store.write_papers([make_paper("Paper 7", id="p7", abstract="changed")], ingested_at=NOW)
    write_table_papers(store, embedder, unit_rows(10, dim, seed=5), first=300)  # a small tail
    assert index.sync(store, embedder) == 11
    graph = json.loads((folder / "params.json").read_text())["hnsw"]
    pk = pks_by_id(store)
    p7 = pk["p7"]
    assert graph["built_rows"] == 300 and len(graph["stale_rows"]) == 1
    top = index.search(target, limit=1)[0]
    assert top[0] == p7 and top[1] == pytest.approx(1.0, abs=1e-5)
    assert p7 not in {pk for pk, _ in index.search(old7, limit=5)} or index.vector_for(p7) @ old7 > 0.5
    tail_pk = pk["p305"]
    assert index.search(embedder.table["Paper 305"], limit=1)[0][0] == tail_pk

    # Filters in graph mode: a selective one (exact scan of codes) and a loose one (graph walk).
    allowed = np.array([pk[f"p{i}"] for i in (3, 7, 11, 302)])
    hits = index.search(target, limit=2, allowed_pks=allowed)
    assert hits[0][0] == p7 and {pk for pk, _ in hits} <= set(allowed.tolist())
    loose = np.array([pk[f"p{i}"] for i in range(0, 310, 2)] + [p7])
    assert index.search(target, limit=1, allowed_pks=loose)[0][0] == p7

    # Once tail + stale reach graph_batch the graph absorbs them; the old file goes away.
    write_table_papers(store, embedder, unit_rows(60, dim, seed=6), first=310)
    index.sync(store, embedder)
    new_graph = json.loads((folder / "params.json").read_text())["hnsw"]
    assert new_graph["built_rows"] == 370 and new_graph["stale_rows"] == []
    assert not (folder / graph["file"]).exists() and (folder / new_graph["file"]).exists()
    assert index.search(target, limit=1)[0][0] == p7
    assert index.search(embedder.table["Paper 333"], limit=1)[0][0] == pks_by_id(store)["p333"]
    assert index.neighbours(p7, limit=3)[0][0] != p7


@pytest.mark.parametrize("pks", [[3, 1, 2, 7], [10, 20, 10**12, 5], list(range(1, 9))])
def test_pk_lookup_finds_rows_for_dense_sparse_and_unsorted_pks(pks: list[int]) -> None:
    from paperfeed.index.vecfiles import PkLookup

    lookup = PkLookup(np.array(pks, dtype=np.int64))
    assert lookup.rows_of(np.array(pks)).tolist() == list(range(len(pks)))
    assert lookup.rows_of(np.array([-1, 0, 9, 10**13])).tolist() == [-1, -1, -1, -1]


def test_a_query_without_signal_finds_nothing(store: Store, tmp_path: Path, static: Embedder) -> None:
    index = topic_index(store, tmp_path, static)
    assert index.search(np.zeros(static.dim, dtype=np.float32), limit=5) == []
    with pytest.raises(ValueError, match="shape"):
        index.search(np.ones(3, dtype=np.float32), limit=5)


def test_the_graph_is_built_beside_the_embedding_and_matches_exact_search(store: Store, tmp_path: Path) -> None:
    embedder = TableEmbedder(dim=16)
    vectors = unit_rows(1000, 16, seed=7)
    write_table_papers(store, embedder, vectors)
    index = open_index(store, tmp_path, embedder, hnsw_threshold=200, graph_batch=50, m=16, ef_construction=64)
    fed: list[int] = []
    original = index._feed_graph

    def watching(building, old, count):  # type: ignore[no-untyped-def]
        started = original(building, old, count)
        fed.append(-1 if started is None else count)
        return started

    index._feed_graph = watching  # type: ignore[method-assign]
    assert index.sync(store, embedder, batch_size=100) == 1000
    assert fed[:2] == [-1, 200] and fed[-1] == 1000  # started once the threshold was crossed
    assert json.loads((tmp_path / "vec" / "params.json").read_text())["hnsw"]["built_rows"] == 1000
    pks = np.fromfile(tmp_path / "vec" / "pks.i64", dtype=np.int64)
    recall = [len(set(brute_force(vectors, pks, q, 10)) & {pk for pk, _ in index.search(q, limit=10)}) / 10
              for q in unit_rows(50, 16, seed=8)]
    assert np.mean(recall) >= 0.95


def test_a_sync_that_fails_while_the_graph_builds_leaves_no_graph_and_no_thread(store: Store, tmp_path: Path) -> None:
    embedder = TableEmbedder(dim=16)
    write_table_papers(store, embedder, unit_rows(1000, 16, seed=9))

    class DiesLate(TableEmbedder):
        calls = 0

        def encode(self, texts: list[str], **kwargs: object) -> np.ndarray:
            DiesLate.calls += 1
            if DiesLate.calls > 6:  # the graph started at batch 2
                raise RuntimeError("killed mid-sync")
            return super().encode(texts)

    dies = DiesLate(dim=16)
    dies.table = embedder.table
    index = open_index(store, tmp_path, embedder, hnsw_threshold=200, graph_batch=50)
    with pytest.raises(RuntimeError, match="killed"):
        index.sync(store, dies, batch_size=100)  # type: ignore[arg-type]
    assert not any(thread.name == "hnsw-build" for thread in threading.enumerate())
    assert not list((tmp_path / "vec").glob("hnsw-*"))
    assert index.sync(store, embedder, batch_size=100) == 1000  # and the next sync starts over
    assert json.loads((tmp_path / "vec" / "params.json").read_text())["hnsw"]["built_rows"] == 1000
