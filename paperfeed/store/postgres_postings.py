"""Keyword ranking from the impact-ordered inverted index (`keyword_postings`).

The tables and the SQL function that fills them on every write are in
migrations/postgres/0040_keyword_postings.sql; docs/postgres.md has the design. A query of
plain words is answered in one statement:

1. for each distinct query lexeme, the top `TOP_PER_TERM` postings by impact (an
   index-only range scan of `(term_id, impact DESC, pk)`), summed per paper with the
   lexeme's IDF: a partial score;
2. the `RESCORE` best papers by partial score are scored exactly: all their postings for
   the query's lexemes, read by `(pk, term_id)`;
3. the best `limit` of those, by exact score.

The only approximation is the candidate set: a paper outside every word's top
TOP_PER_TERM cannot be found (what a WAND engine would prove unnecessary, assumed here).
docs/benchmarks.md measures how often that changes a top 10.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from psycopg import sql

from paperfeed.models import PaperFilter

if TYPE_CHECKING:
    from paperfeed.query import Clause

TOP_PER_TERM = 2000  # postings read per query word, best impact first
RESCORE = 300  # candidates scored exactly (the hybrid ranker asks for 100)
IMPACT_SCALE = 1000.0  # impacts are stored x1000 as SMALLINT


@dataclass(frozen=True)
class WeightedTerms:
    """A query's lexemes as (term_id, weight): weight is IDF times how many clauses
    the lexeme came from (as Tantivy sums one term query per clause)."""

    terms: dict[int, float]

    def __bool__(self) -> bool:
        return bool(self.terms)


def answers(clauses: Sequence["Clause"], *, newest: bool) -> bool:
    """Whether the postings can rank these clauses: plain optional words only. Phrases,
    fields, `+` and `-` need positions or whole-document checks (the tsvector path)."""
    positive = [c for c in clauses if not c.exclude]
    return bool(positive) and not newest and all(
        not (c.exclude or c.required or c.field or c.phrase) for c in clauses)


def idf(docs: int, df: int) -> float:
    """BM25's IDF, as Tantivy computes it."""
    df = min(df, docs)
    return math.log(1 + (docs - df + 0.5) / (df + 0.5))


def weigh(conn: Any, clauses: Sequence["Clause"]) -> WeightedTerms:
    """Each clause's lexemes (english config, as the tsvector), with their IDF from the
    exact document frequencies that every write keeps in `keyword_terms`."""
    rows = conn.execute(
        "SELECT t.term_id, t.df, s.docs FROM unnest(%s::text[]) AS c(text) "
        "CROSS JOIN LATERAL unnest(tsvector_to_array(to_tsvector('english', c.text))) AS w "
        "JOIN keyword_terms t ON t.lexeme = w CROSS JOIN keyword_totals s WHERE t.df > 0",
        ([c.text for c in clauses],),
    ).fetchall()
    terms: dict[int, float] = defaultdict(float)
    for row in rows:
        terms[int(row["term_id"])] += idf(int(row["docs"]), int(row["df"]))
    return WeightedTerms(dict(terms))


def ranked(conn: Any, weighted: WeightedTerms, filters: PaperFilter, limit: int,
           filter_sql: tuple[str, list[Any]]) -> list[dict[str, Any]]:
    """Rows (id, score) of the best `limit` papers, best first."""
    if not weighted or limit <= 0:
        return []
    where, params = filter_sql
    restrict = sql.SQL("")
    if not filters.is_empty():
        restrict = sql.SQL("AND EXISTS (SELECT 1 FROM papers p WHERE p.pk = k.pk AND {})").format(sql.SQL(where))
    term_ids = list(weighted.terms)
    weights = [weighted.terms[t] for t in term_ids]
    statement = sql.SQL(
        "WITH q AS (SELECT * FROM unnest(%s::int[], %s::float8[]) AS q(term_id, weight)), "
        "partial AS (SELECT h.pk FROM q CROSS JOIN LATERAL ("
        "  SELECT k.pk, k.impact FROM keyword_postings k WHERE k.term_id = q.term_id {restrict} "
        "  ORDER BY k.impact DESC LIMIT {top}) h "
        " GROUP BY h.pk ORDER BY sum(q.weight * h.impact) DESC, h.pk LIMIT {rescore}), "
        # a correlated subquery: each candidate's postings are probed by (pk, term_id)
        "exact AS MATERIALIZED (SELECT c.pk, (SELECT sum(q.weight * k.impact) FROM keyword_postings k "
        "  JOIN q ON q.term_id = k.term_id WHERE k.pk = c.pk AND k.term_id = ANY(%s::int[])) AS score "
        "  FROM partial c), "
        "best AS (SELECT pk, score FROM exact ORDER BY score DESC, pk LIMIT {limit}) "
        "SELECT p.id, b.score / {scale} AS score FROM best b JOIN papers p ON p.pk = b.pk "
        "ORDER BY b.score DESC, b.pk"
    ).format(restrict=restrict, top=sql.Literal(TOP_PER_TERM), rescore=sql.Literal(max(RESCORE, int(limit))),
             scale=sql.Literal(IMPACT_SCALE), limit=sql.Literal(int(limit)))
    return conn.execute(statement, [term_ids, weights, *params, term_ids]).fetchall()
