"""PostgreSQL keyword postings (migration 0040): kept exact by every write, backfilled by
the migration, ranked as BM25 over them (docs/postgres.md, "Keyword ranking")."""

from __future__ import annotations

import math
import random
from datetime import datetime, timezone
from typing import Any, Iterator

import pytest
from click.testing import CliRunner

from paperfeed.cli import main
from paperfeed.models import PaperFilter
from paperfeed.query import parse_query, plain_query
from paperfeed.store import open_store
from paperfeed.store import postgres_postings
from paperfeed.store.copy import copy_store
from paperfeed.store.postgres import PostgresStore
from paperfeed.store.postgres_search import PgKeywordIndex

from tests.conftest import make_paper

NOW = datetime(2026, 11, 3, tzinfo=timezone.utc)
WORDS = ("graph neural network attention protein folding sparse retrieval dense vision "
         "language model diffusion robot policy reward causal inference kernel").split()


@pytest.fixture
def pg(pg_url: str) -> Iterator[PostgresStore]:
    store = open_store(pg_url)
    store.migrate()
    assert isinstance(store, PostgresStore)
    yield store
    store.close()


def _random_papers(count: int, seed: int = 3) -> list[Any]:
    rng = random.Random(seed)
    return [make_paper(" ".join(rng.choices(WORDS, k=rng.randint(3, 8))).capitalize(), id=f"r{n}",
                       abstract=" ".join(rng.choices(WORDS, k=rng.randint(5, 60))),
                       categories=[rng.choice(["cs.LG", "cs.CL"])])
            for n in range(count)]


def _postings(store: PostgresStore) -> set[tuple[str, str, int]]:
    rows = store._all("SELECT t.lexeme, p.id, k.impact FROM keyword_postings k "
                      "JOIN keyword_terms t USING (term_id) JOIN papers p ON p.pk = k.pk")
    return {(r["lexeme"], r["id"], r["impact"]) for r in rows}


def _assert_stats_exact(store: PostgresStore) -> None:
    """Document frequencies and N equal a full recount over the tsvectors."""
    recount = {r["word"]: r["ndoc"] for r in store._all("SELECT word, ndoc FROM ts_stat('SELECT search FROM papers')")}
    kept = {r["lexeme"]: r["df"] for r in store._all("SELECT lexeme, df FROM keyword_terms WHERE df > 0")}
    assert kept == recount
    lexemes = store._one("SELECT coalesce(sum(length(search)), 0) AS n FROM papers")["n"]  # type: ignore[index]
    assert store._one("SELECT count(*) AS n FROM keyword_postings")["n"] == lexemes  # type: ignore[index]
    assert store._one("SELECT docs FROM keyword_totals")["docs"] == store.count_papers()  # type: ignore[index]


def test_every_write_keeps_postings_and_frequencies_exact(pg: PostgresStore) -> None:
    pg.write_papers(_random_papers(40), ingested_at=NOW)
    _assert_stats_exact(pg)
    # an update rewrites a paper under the same pk: its old words must leave the index
    pg.write_papers([make_paper("Zebra crossings", id="r0", abstract="zebra stripes")], ingested_at=NOW)
    _assert_stats_exact(pg)
    assert {lexeme for lexeme, pid, _ in _postings(pg) if pid == "r0"} == {
        "zebra", "cross", "stripe", "ada", "lovelace", "alan", "turing"}


def _bm25(store: PostgresStore, lexemes: list[str]) -> dict[str, float]:
    """BM25 from the tsvectors, computed here in Python: text = title + abstract, plus
    0.3 x title and authors, k1 1.2, b 0.75, one IDF per lexeme."""
    rows = store._all("SELECT p.id, u.lexeme, u.weights FROM papers p, unnest(p.search) u")
    tf: dict[str, dict[str, dict[str, int]]] = {}
    for r in rows:
        counts = tf.setdefault(r["id"], {}).setdefault(r["lexeme"], {"A": 0, "B": 0, "C": 0})
        for weight in r["weights"]:
            counts[weight] += 1
    lengths = {pid: {f: sum(c[f] for c in words.values()) for f in "ABC"} for pid, words in tf.items()}
    n = len(tf)
    avg = {f: sum(lengths[p][f] for p in tf) / n for f in "ABC"}

    def part(count: int, length: int, average: float) -> float:
        return 0.0 if count == 0 else count * 2.2 / (count + 1.2 * (0.25 + 0.75 * length / average))

    scores: dict[str, float] = {}
    for lexeme in lexemes:
        df = sum(1 for words in tf.values() if lexeme in words)
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        for pid, words in tf.items():
            if lexeme in words:
                c, length = words[lexeme], lengths[pid]
                text = part(c["A"] + c["B"], length["A"] + length["B"], avg["A"] + avg["B"])
                impact = text + 0.3 * part(c["A"], length["A"], avg["A"]) + part(c["C"], length["C"], avg["C"])
                scores[pid] = scores.get(pid, 0.0) + idf * impact
    return scores


def test_plain_queries_rank_by_bm25(pg: PostgresStore) -> None:
    pg.write_papers(_random_papers(60), ingested_at=NOW)
    keyword = PgKeywordIndex(pg)
    for query, lexemes in (("protein folding", ["protein", "fold"]), ("sparse kernel robots", ["spars", "kernel", "robot"])):
        hits = keyword.search_parsed(plain_query(query), filters=PaperFilter(), limit=10)
        expected = _bm25(pg, lexemes)
        best = sorted(expected.items(), key=lambda item: -item[1])[:10]
        assert [h.paper_id for h in hits] == [pid for pid, _ in best]
        for hit, (_, score) in zip(hits, best):
            assert hit.score == pytest.approx(score, abs=0.002 * len(lexemes))  # impacts are stored x1000


def test_filters_and_the_candidate_limit(pg: PostgresStore, monkeypatch: pytest.MonkeyPatch) -> None:
    pg.write_papers(_random_papers(60), ingested_at=NOW)
    keyword = PgKeywordIndex(pg)
    hits = keyword.search_parsed(plain_query("attention"), filters=PaperFilter(category="cs.CL"), limit=50)
    in_category = {p.id for p in pg.list_papers(filters=PaperFilter(category="cs.CL"), limit=100)[0]}
    holding = {pid for lexeme, pid, _ in _postings(pg) if lexeme == "attent"}
    assert hits and {h.paper_id for h in hits} == in_category & holding
    # with fewer postings read per word than match, the best papers are still found first
    monkeypatch.setattr(postgres_postings, "TOP_PER_TERM", 5)
    top = keyword.search_parsed(plain_query("attention"), filters=PaperFilter(), limit=3)
    full = sorted(_bm25(pg, ["attent"]).items(), key=lambda item: -item[1])[:3]
    assert [h.paper_id for h in top] == [pid for pid, _ in full]


def test_syntax_the_postings_cannot_answer_goes_to_the_tsvector(pg: PostgresStore) -> None:
    pg.write_papers([make_paper("Graph attention", id="a", abstract="graph attention networks"),
                     make_paper("Graph nets", id="b", abstract="attention is used")], ingested_at=NOW)
    keyword = PgKeywordIndex(pg)
    assert not postgres_postings.answers(parse_query('"graph attention"').clauses, newest=False)
    phrase = keyword.search_parsed(parse_query('"graph attention"'), filters=PaperFilter(), limit=10)
    assert [h.paper_id for h in phrase] == ["a"]
    assert [h.paper_id for h in keyword.search_parsed(parse_query("graph -networks"), filters=PaperFilter(), limit=10)] == ["b"]


def test_the_migration_backfills_stored_papers(pg: PostgresStore) -> None:
    pg.write_papers(_random_papers(30), ingested_at=NOW)
    before = _postings(pg)
    with pg._transaction() as conn:  # back to the schema before 0040, papers kept
        conn.execute("DROP TABLE keyword_postings, keyword_terms, keyword_docs, keyword_totals")
        conn.execute("DROP FUNCTION paperfeed_index_keywords, paperfeed_bm25_tf")
        conn.execute("CREATE TABLE lexeme_stats (word TEXT PRIMARY KEY, ndoc BIGINT NOT NULL)")
        conn.execute("DELETE FROM schema_migrations WHERE name = '0040_keyword_postings'")
    assert pg.migrate() == ["0040_keyword_postings"]
    assert _postings(pg) == before
    _assert_stats_exact(pg)


def test_copied_papers_are_indexed_and_reindex_recomputes(pg: PostgresStore, tmp_path: Any) -> None:
    source = open_store(f"sqlite:///{tmp_path / 'a.sqlite3'}")
    source.migrate()
    source.write_papers(_random_papers(30), ingested_at=NOW)
    assert copy_store(source, pg).verified
    source.close()
    _assert_stats_exact(pg)
    copied = _postings(pg)
    result = CliRunner().invoke(main, ["--database-url", pg.url, "reindex", "--keyword"], catch_exceptions=False)
    assert result.exit_code == 0 and "keyword postings in the database: 30 papers" in result.output
    assert _postings(pg) == copied  # one batch either way: the same average lengths
    _assert_stats_exact(pg)
