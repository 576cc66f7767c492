"""Search through the real engine: a tiny golden corpus in a real SQLite store, the real
keyword index and the bundled static embedder."""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from paperfeed.config import Settings
from paperfeed.engine import SearchEngine
from paperfeed.errors import InvalidInput
from paperfeed.ingest import run_ingest
from paperfeed.models import Link, PaperFilter, SearchHit
import paperfeed.search as search_module
from paperfeed.query import plain_query
from paperfeed.search import Fusion, complete_scores, fuse, keyword_hits, query_vector, related_papers, search, semantic_hits
from paperfeed.index.keyword import KeywordIndex
from paperfeed.store import Store, open_store

from tests.conftest import make_paper


def _day(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, tzinfo=timezone.utc)


GOLDEN = [
    make_paper("Attention is all you need", arxiv_id="1706.03762", authors=["Ashish Vaswani"],
               abstract="The Transformer, a sequence transduction model based solely on attention mechanisms.",
               categories=["cs.CL"], published=_day(2017, 6, 12),
               links=[Link("code", "https://github.com/tensorflow/tensor2tensor")]),
    make_paper("Distilling the knowledge in a neural network", arxiv_id="1503.02531", authors=["Geoffrey Hinton"],
               abstract="Compress the knowledge of an ensemble of models into a single small student model.",
               categories=["stat.ML"], published=_day(2015, 3, 9)),
    make_paper("Masked autoencoders are scalable vision learners", arxiv_id="2111.06377", authors=["Kaiming He"],
               abstract="Masking random patches of an input image and reconstructing the missing pixels.",
               categories=["cs.CV"], published=_day(2021, 11, 11)),
    make_paper("Dense passage retrieval for open-domain question answering", arxiv_id="2004.04906",
               authors=["Vladimir Karpukhin"], categories=["cs.CL"], published=_day(2020, 4, 10),
               abstract="Retrieval with dense representations learned from questions and passages by a dual encoder."),
    make_paper("Protein structure prediction with deep learning", arxiv_id="2107.00001", authors=["John Jumper"],
               abstract="Predicting the three-dimensional shape of proteins from amino acid sequences.",
               categories=["q-bio.BM"], published=_day(2021, 7, 15)),
]


@pytest.fixture
def engine(store: Store, settings: Settings) -> SearchEngine:
    run_ingest(store, [p for p in GOLDEN])
    opened = SearchEngine.open(settings, store)
    opened.sync()
    return opened


def _ids(results) -> list[str]:  # type: ignore[no-untyped-def]
    return [paper.id for paper in results.papers]


def test_fusion_order_is_pinned() -> None:
    a = [SearchHit("x", 9.0, 1), SearchHit("y", 5.0, 2), SearchHit("z", 1.0, 3)]
    b = [SearchHit("z", 0.9, 1), SearchHit("w", 0.8, 2)]
    fused = fuse([(a, 1.0), (b, 1.0)], k=60)
    assert [h.paper_id for h in fused] == ["z", "x", "y", "w"]  # z: 1/63 + 1/61 beats x: 1/61
    assert fused[0].score == pytest.approx(1 / 63 + 1 / 61)
    assert [h.paper_id for h in fuse([(a, 1.0), (b, 0.01)], k=60)] == ["x", "y", "z", "w"]
    assert [h.rank for h in fused] == [1, 2, 3, 4] and {h.source for h in fused} == {"hybrid"}


@pytest.fixture
def zscore_engine(engine: SearchEngine, monkeypatch: pytest.MonkeyPatch) -> SearchEngine:
    """The golden engine with its embedder fused by z-scores (what MiniLM uses)."""
    assert engine.embedder is not None
    monkeypatch.setitem(search_module.FUSION, engine.embedder.name, Fusion("zscore", 1.0))
    return engine


def test_zscore_hybrid_on_the_golden_corpus(zscore_engine: SearchEngine) -> None:
    hybrid = search(zscore_engine, "knowledge distillation teacher student")
    assert _ids(hybrid)[0] == "1503.02531" and {h.source for h in hybrid.hits} == {"hybrid"}
    assert "1503.02531" in _ids(search(zscore_engine, "teacher student compression"))[:2]
    assert _ids(search(zscore_engine, "au:vaswani models")) == ["1706.03762"]  # constraints still hold
    assert "2111.06377" not in _ids(search(zscore_engine, "image -masking -masked"))


def test_postgres_rankers_fall_back_to_rank_fusion(zscore_engine: SearchEngine) -> None:
    """The in-database rankers give no exact scores for arbitrary candidates yet, so a
    z-score embedder is fused by rank there; the file indexes give them."""
    on_postgres = zscore_engine.store.url.startswith("postgresql")
    assert search_module._can_complete_scores(zscore_engine) is not on_postgres
    expected = search_module.rrf if on_postgres else search_module.zscore_fuse
    calls: list[str] = []
    original = expected

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(expected.__name__)
        return original(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(search_module, expected.__name__, spy)
        search(zscore_engine, "knowledge distillation teacher student")
    assert calls == [expected.__name__]


def test_score_fusion_sees_both_scores_of_every_candidate(zscore_engine: SearchEngine) -> None:
    if zscore_engine.store.url.startswith("postgresql"):
        pytest.skip("the PostgreSQL rankers fall back to rank fusion (test above)")
    engine, parsed, empty = zscore_engine, plain_query("dense retrieval of protein passages"), PaperFilter()
    keyword = keyword_hits(engine, parsed, filters=empty, limit=100)
    vector = query_vector(engine, parsed)
    assert vector is not None
    dense = semantic_hits(engine, parsed, filters=empty, limit=2, vector=vector)  # short: some BM25-only papers
    bm25, cosine = complete_scores(engine, parsed, keyword, dense, vector)
    assert set(bm25) == set(cosine) == {h.paper_id for h in keyword} | {h.paper_id for h in dense}
    everything = {h.paper_id: h.score for h in semantic_hits(engine, parsed, filters=empty, limit=100, vector=vector)}
    assert cosine == pytest.approx({pid: everything[pid] for pid in cosine}, abs=1e-5)
    matched = {h.paper_id: h.score for h in keyword}
    assert bm25 == pytest.approx({pid: matched.get(pid, 0.0) for pid in bm25})  # no match: BM25 score 0
    every_id = [paper.id for paper in GOLDEN]
    scored = engine.keyword.scores_for(engine.keyword.parse(parsed.to_tantivy()), every_id)
    assert scored == pytest.approx(matched) and len(matched) < len(every_id)  # non-matching papers absent
    pks = engine.store.pks_for_ids(every_id)
    by_pk = engine.vectors.scores_for(vector, list(pks.values())) if engine.vectors else {}
    assert {pid: by_pk[pk] for pid, pk in pks.items()} == pytest.approx(everything, abs=1e-5)


def test_keyword_hits_on_the_golden_corpus(engine: SearchEngine) -> None:
    assert _ids(search(engine, "knowledge distillation", mode="bm25"))[0] == "1503.02531"
    assert _ids(search(engine, "au:hinton", mode="bm25")) == ["1503.02531"]
    assert _ids(search(engine, '"dual encoder"', mode="bm25")) == ["2004.04906"]
    assert _ids(search(engine, "ti:retrieval -question", mode="bm25")) == []
    # abs: is the abstract with its title, the same on both stores (docs/search.md)
    assert _ids(search(engine, "abs:pixels", mode="bm25")) == ["2111.06377"]
    assert _ids(search(engine, "abs:autoencoders", mode="bm25")) == ["2111.06377"]  # a title word
    assert _ids(search(engine, "abs:hinton", mode="bm25")) == []  # an author, not the text


def test_hybrid_finds_papers_by_meaning_without_shared_words(engine: SearchEngine) -> None:
    keyword_only = _ids(search(engine, "teacher student compression", mode="bm25"))
    hybrid = _ids(search(engine, "teacher student compression", mode="hybrid"))
    assert "1503.02531" in hybrid[:2]
    assert len(hybrid) >= len(keyword_only)


def test_fielded_constraints_hold_in_hybrid_mode(engine: SearchEngine) -> None:
    assert _ids(search(engine, "au:vaswani models")) == ["1706.03762"]
    assert "2111.06377" not in _ids(search(engine, "image -masking -masked"))


def test_filters_and_sorts(engine: SearchEngine) -> None:
    everything = "learning model retrieval attention knowledge protein image"
    assert set(_ids(search(engine, everything, filters=PaperFilter(category="cs.CL")))) == {"1706.03762", "2004.04906"}
    assert _ids(search(engine, everything, filters=PaperFilter(has_code=True))) == ["1706.03762"]
    recent = search(engine, everything, filters=PaperFilter(date_from=date(2021, 1, 1)), sort="newest")
    assert _ids(recent) == ["2111.06377", "2107.00001"]
    assert _ids(search(engine, "cat:cs.CV year:2021")) == ["2111.06377"]


def test_pasted_arxiv_id_or_title_goes_straight_to_the_paper(engine: SearchEngine) -> None:
    for query in ("1706.03762", "arXiv:1706.03762v5", "https://arxiv.org/abs/1706.03762", "Attention Is All You Need."):
        results = search(engine, query)
        assert results.direct and _ids(results) == ["1706.03762"], query


def test_related_papers_exclude_the_paper_itself(engine: SearchEngine) -> None:
    related = [p.id for p in related_papers(engine, "2004.04906", limit=3)]
    assert len(related) == 3 and "2004.04906" not in related


def test_bad_mode_sort_and_window_are_invalid_input(engine: SearchEngine) -> None:
    for kwargs in ({"mode": "magic"}, {"sort": "oldest"}, {"limit": 0}, {"offset": -1}):
        with pytest.raises(InvalidInput):
            search(engine, "attention", **kwargs)  # type: ignore[arg-type]


def test_a_model_that_cannot_load_falls_back_to_keywords_with_a_notice(store: Store, tmp_path: Path) -> None:
    settings = Settings.load({"data_dir": str(tmp_path / "d"), "embed_model": str(tmp_path / "no-such-model")},
                             environ={}, dotenv=tmp_path / ".env")
    run_ingest(store, list(GOLDEN))
    engine = SearchEngine.open(settings, store)
    engine.sync()
    assert engine.vectors is None and engine.notice and "keyword results only" in engine.notice
    results = search(engine, "knowledge distillation")
    assert _ids(results)[0] == "1503.02531" and results.notice == engine.notice


def test_the_web_page_shows_the_fallback_notice(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from paperfeed.web.app import create_app

    settings = Settings.load({"data_dir": str(tmp_path / "d"), "embed_model": "static:/nowhere"},
                             environ={}, dotenv=tmp_path / ".env")
    with TestClient(create_app(settings)) as client:
        page = client.get("/search", params={"q": "knowledge"})
        assert page.status_code == 200 and "Semantic search is off" in page.text
        assert "Semantic search is off" in client.get("/api/v1/search", params={"q": "knowledge"}).json()["notice"]


def test_a_bulk_sync_builds_the_keyword_index_in_a_process_of_its_own(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(settings.database_url)  # SQLite: the file indexes
    store.migrate()
    run_ingest(store, list(GOLDEN))
    engine = SearchEngine.open(settings, store)
    engine.bulk_sync_papers = len(GOLDEN)

    def not_in_this_process(*args: object, **kwargs: object) -> int:
        raise AssertionError("the bulk keyword sync ran in the parent process")

    # Patched here only: the spawned child imports the real method.
    monkeypatch.setattr(KeywordIndex, "sync", not_in_this_process)
    assert engine.sync() == len(GOLDEN)
    monkeypatch.undo()
    assert _ids(search(engine, "au:hinton", mode="bm25")) == ["1503.02531"]
    assert engine.vectors is not None and engine.vectors.count() == len(GOLDEN)
    assert engine.sync() == 0  # below the bulk size now: in this process, nothing new
    store.close()
