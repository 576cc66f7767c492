"""Search inside PostgreSQL: keyword ranking (postings, or the tsvector), vectors in pgvector.

Both objects answer the calls search.py makes of the file indexes (KeywordIndex,
VectorIndex) and return the same shapes, so the hybrid fusion in search.py is shared.
The design and its limits are in docs/postgres.md. In short:

* Keyword: plain word queries are ranked by BM25 from the impact-ordered postings
  (`postgres_postings.py`, migration 0040). Phrases, fields, `+`/`-` and the newest-first
  sort use `papers.search`, a tsvector of title (weight A), abstract (B) and authors (C):
  clauses become tsqueries (phraseto_tsquery, english; `au:` uses the simple config),
  fields restrict by weight, the score is IDF (from `keyword_terms`) x ts_rank summed over
  clauses, over at most CANDIDATE_CAP matches (AND-first when the cap is hit).
* Vectors: `paper_vectors` (model, pk, embedding), one partial HNSW index per model over
  `embedding::vector(dim)` with cosine distance, built after the first sync.
"""

from __future__ import annotations

import hashlib
import math
import struct
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

import numpy as np
from psycopg import sql

from paperfeed.models import PaperFilter, SearchHit
from paperfeed.query import ParsedQuery, _without_stopwords
from paperfeed.store import postgres_postings as postings
from paperfeed.store.postgres import WRITE_LOCK, filter_sql

if TYPE_CHECKING:
    from paperfeed.index.embed import Embedder
    from paperfeed.query import Clause
    from paperfeed.store import Store
    from paperfeed.store.postgres import PostgresStore

CANDIDATE_CAP = 10_000  # OR matches scored per query, at most (docs/postgres.md)
# ts_rank weights {D, C, B, A}: authors (C), abstract (B), title (A) a little above it,
# as the Tantivy ranker adds a light title boost to title + abstract.
RANK_WEIGHTS = "{0, 0.75, 0.75, 1.0}"  # each must lie in [0, 1]
RANK_NORMALISATION = 1  # divide by 1 + log(document length): BM25's length normalisation, roughly
# `abs:` is title + abstract, as on the Tantivy index, which keeps the abstract only inside
# its combined text field (docs/search.md): the same query means the same on both stores.
FIELD_WEIGHTS = {"title": "{a}", "abstract": "{a,b}", "authors": "{c}"}
SYNC_LOCK = 0x70617067
EF_SEARCH_MIN = 64
HNSW_BUILD_MEMORY_MB = 1024  # at least this much for the one-off graph build (a cap on use, not a reservation)
HNSW_BYTES_PER_LINKS = 512  # per row beside its vector: m 16 -> 32 level-0 neighbour ids plus tuple headers


# -- keyword ------------------------------------------------------------------------------
class PgKeywordIndex:
    """Keyword search inside the database; nothing to build: the postings and the tsvector
    are written with the papers."""

    def __init__(self, store: "PostgresStore") -> None:
        self.store = store

    def sync(self, store: "Store", *, on_progress: Callable[[int], None] | None = None) -> int:
        """The tsvector and the postings follow every write by themselves (in the write's
        transaction); this only reports how many papers are new since last time."""
        with self.store._conn() as conn:
            newest_rev = int(conn.execute("SELECT coalesce(max(rev), 0) AS r FROM papers").fetchone()["r"])
            new_papers = int(conn.execute("SELECT count(*) AS n FROM papers WHERE rev > %s",
                                          (_state_int(conn, "keyword_rev"),)).fetchone()["n"])
            _set_state(conn, "keyword_rev", newest_rev)
        return new_papers

    def rebuild(self, *, batch_size: int = 5000, on_progress: Callable[[int], None] | None = None) -> int:
        """Recompute every paper's postings with today's average lengths (ingest uses the
        averages of the day each paper was written); one transaction per batch."""
        done, after = 0, 0
        while True:
            with self.store._transaction() as conn:
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
                pks = [r["pk"] for r in conn.execute(
                    "SELECT pk FROM papers WHERE pk > %s ORDER BY pk LIMIT %s", (after, batch_size))]
                if not pks:
                    return done
                conn.execute("SELECT paperfeed_index_keywords(%s::bigint[])", (pks,))
            done, after = done + len(pks), pks[-1]
            if on_progress:
                on_progress(done)

    def document_count(self) -> int:
        return self.store.count_papers()

    def search_parsed(
        self, parsed: ParsedQuery, *, filters: PaperFilter, limit: int, newest: bool = False
    ) -> list[SearchHit]:
        """Top `limit` papers for the query's text clauses within `filters`."""
        clauses = _without_stopwords(parsed.clauses)
        with self.store._conn() as conn:
            if postings.answers(clauses, newest=newest):
                weighted = postings.weigh(conn, clauses)
                rows = postings.ranked(conn, weighted, filters, limit, filter_sql(filters, alias="p"))
            else:
                rows = _tsvector_ranked(conn, _KeywordQuery(clauses), filters, limit, newest=newest)
        return [
            SearchHit(row["id"], float(row["score"]), rank, "bm25")
            for rank, row in enumerate(rows[:limit], start=1)
        ]


def _tsvector_ranked(conn: Any, query: "_KeywordQuery", filters: PaperFilter, limit: int,
                     *, newest: bool) -> list[dict[str, Any]]:
    """Queries with phrases, fields, + or -: ranked over the tsvectors of the matches."""
    query.weigh(conn)
    if not query.positive or newest:
        return _newest(conn, query, filters, limit)
    rows, matched = _ranked(conn, query, filters, limit, all_words=False)
    if matched >= CANDIDATE_CAP and len(query.optional) > 1:
        first, _ = _ranked(conn, query, filters, limit, all_words=True)
        seen = {row["id"] for row in first}
        rows = first + [row for row in rows if row["id"] not in seen]
    return rows


class _KeywordQuery:
    """A query's clauses as SQL: conditions, and the score expression."""

    def __init__(self, clauses: Sequence["Clause"]) -> None:
        self.clauses = list(clauses)
        self.positive = [c for c in self.clauses if not c.exclude]
        self.optional = [c for c in self.positive if not (c.required or c.field)]
        self.required = [c for c in self.positive if c.required or c.field]
        self.excluded = [c for c in self.clauses if c.exclude]
        self.idf: dict[int, float] = {}
        self.df: dict[int, int] = {}  # id(clause) -> papers holding its rarest word

    def weigh(self, conn: Any) -> None:
        """IDF per positive clause: the rarest of its words (a phrase is as rare as that)."""
        if not self.positive:
            return
        total = max(1, int(conn.execute("SELECT docs FROM keyword_totals").fetchone()["docs"]))
        for index, clause in enumerate(self.positive):
            row = conn.execute(
                "SELECT coalesce(min(t.df), 0) AS n, count(w) AS words "
                "FROM unnest(tsvector_to_array(to_tsvector(%s::regconfig, %s))) AS w "
                "LEFT JOIN keyword_terms t ON t.lexeme = w",
                (_config(clause), clause.text),
            ).fetchone()
            n = min(int(row["n"]), total)
            self.idf[index] = math.log(1 + (total - n + 0.5) / (n + 0.5)) if row["words"] else 0.0
            self.df[id(clause)] = n

    def candidate_clauses(self) -> list["Clause"]:
        """The optional clauses whose matches are gathered: rarest first, while their
        document frequencies add up to at most CANDIDATE_CAP (always at least one). A paper
        matching only the commoner words could only score from low-IDF terms, so it is
        skipped without being scored: the same bet WAND makes, decided up front."""
        chosen: list["Clause"] = []
        total = 0
        for clause in sorted(self.optional, key=lambda c: self.df.get(id(c), 0)):
            df = self.df.get(id(clause), 0)
            if chosen and total + df > CANDIDATE_CAP:
                break
            chosen.append(clause)
            total += df
        return chosen

    def match(self, clause: "Clause") -> tuple[sql.Composable, list[Any]]:
        tsquery = sql.SQL("phraseto_tsquery({}::regconfig, {})").format(sql.Literal(_config(clause)), sql.Placeholder())
        condition = sql.SQL("p.search @@ {q}").format(q=tsquery)
        params: list[Any] = [clause.text]
        if clause.field:
            condition = sql.SQL("({c} AND ts_filter(p.search, {w}) @@ {q})").format(
                c=condition, w=sql.Literal(FIELD_WEIGHTS[clause.field]), q=tsquery)
            params.append(clause.text)
        return condition, params

    def where(self, *, all_words: bool) -> tuple[sql.Composable, list[Any]]:
        parts: list[sql.Composable] = []
        params: list[Any] = []
        must = self.positive if all_words else self.required
        for clause in must:
            condition, args = self.match(clause)
            parts.append(condition)
            params += args
        if not must and self.optional:
            # one tsquery OR-ing the words, so a single GIN scan finds the candidates
            gather = self.candidate_clauses()
            ors = sql.SQL(" || ").join(
                sql.SQL("phraseto_tsquery({}::regconfig, {})").format(sql.Literal(_config(c)), sql.Placeholder())
                for c in gather)
            parts.append(sql.SQL("p.search @@ ({})").format(ors))
            params += [c.text for c in gather]
        for clause in self.excluded:
            condition, args = self.match(clause)
            parts.append(sql.SQL("NOT {}").format(condition))
            params += args
        return sql.SQL(" AND ").join(parts or [sql.SQL("TRUE")]), params

    def score(self) -> tuple[sql.Composable, list[Any]]:
        terms: list[sql.Composable] = []
        params: list[Any] = []
        for index, clause in enumerate(self.positive):
            target = sql.SQL("p.search")
            if clause.field:
                target = sql.SQL("ts_filter(p.search, {})").format(sql.Literal(FIELD_WEIGHTS[clause.field]))
            terms.append(sql.SQL("{idf} * ts_rank({w}, {t}, phraseto_tsquery({cfg}::regconfig, {q}), {n})").format(
                idf=sql.Literal(round(self.idf.get(index, 0.0), 6)), w=sql.Literal(RANK_WEIGHTS), t=target,
                cfg=sql.Literal(_config(clause)), q=sql.Placeholder(), n=sql.Literal(RANK_NORMALISATION)))
            params.append(clause.text)
        return sql.SQL(" + ").join(terms or [sql.SQL("0")]), params


def _config(clause: "Clause") -> str:
    return "simple" if clause.field == "authors" else "english"


def _ranked(conn: Any, query: _KeywordQuery, filters: PaperFilter, limit: int,
            *, all_words: bool) -> tuple[list[dict[str, Any]], int]:
    """Best `limit` of the first CANDIDATE_CAP matches, and how many matches were scored."""
    where, where_params = query.where(all_words=all_words)
    filter_where, filter_params = filter_sql(filters, alias="p")
    score, score_params = query.score()
    statement = sql.SQL(
        # `|| ''` detoasts (decompresses) each candidate's tsvector once, not once per clause
        "WITH candidates AS MATERIALIZED (SELECT p.pk, p.id, p.search || ''::tsvector AS search "
        "FROM papers p WHERE {where} AND {filters} LIMIT {cap}) "
        "SELECT c.id, c.score, count(*) OVER () AS matched FROM "
        "(SELECT p.id, p.pk, {score} AS score FROM candidates p) c "
        "ORDER BY c.score DESC, c.pk LIMIT {limit}"
    ).format(where=where, filters=sql.SQL(filter_where), cap=sql.Literal(CANDIDATE_CAP),
             score=score, limit=sql.Literal(int(limit)))
    rows = conn.execute(statement, [*where_params, *filter_params, *score_params]).fetchall()
    return rows, int(rows[0]["matched"]) if rows else 0


def _newest(conn: Any, query: _KeywordQuery, filters: PaperFilter, limit: int) -> list[dict[str, Any]]:
    where, where_params = query.where(all_words=False)
    filter_where, filter_params = filter_sql(filters, alias="p")
    statement = sql.SQL(
        "SELECT p.id, 1.0 AS score FROM papers p WHERE {where} AND {filters} "
        "ORDER BY p.published IS NULL, p.published DESC, p.pk DESC LIMIT {limit}"
    ).format(where=where, filters=sql.SQL(filter_where), limit=sql.Literal(int(limit)))
    return conn.execute(statement, [*where_params, *filter_params]).fetchall()


def _state_int(conn: Any, key: str) -> int:
    row = conn.execute("SELECT value FROM state WHERE key = %s", (key,)).fetchone()
    return int(row["value"]) if row else 0


def _set_state(conn: Any, key: str, value: object) -> None:
    conn.execute("INSERT INTO state (key, value) VALUES (%s, %s) "
                 "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, str(value)))


# -- vectors ------------------------------------------------------------------------------
def _vector_literal(vector: np.ndarray) -> str:
    return "[" + ",".join(f"{x:.7g}" for x in np.asarray(vector, dtype=np.float32).tolist()) + "]"


class PgVectorIndex:
    """Embeddings of one model in `paper_vectors`, searched with pgvector's HNSW."""

    def __init__(self, store: "PostgresStore", model_name: str, dim: int) -> None:
        self.store, self.model_name, self.dim = store, model_name, int(dim)
        self.index_name = "paper_vectors_hnsw_" + hashlib.sha1(model_name.encode()).hexdigest()[:12]
        self.rev_key = f"vectors_rev:{model_name}"
        self.cast = sql.SQL("vector({})").format(sql.Literal(self.dim))

    def sync(self, store: "Store", embedder: "Embedder", *, on_progress: Callable[[int], None] | None = None,
             batch_size: int = 512) -> int:
        """Embed every paper written since the last sync (one syncing process at a time)."""
        from paperfeed.index.vectors import paper_text

        done = 0
        with self.store._conn() as lock_conn:
            lock_conn.execute("SELECT pg_advisory_lock(%s)", (SYNC_LOCK + 1,))
            try:
                after = _state_int(lock_conn, self.rev_key)
                newest = after
                for changes in self.store.iter_text_changes(after_rev=after, batch_size=batch_size):
                    vectors = np.asarray(embedder.encode([paper_text(c) for c in changes]), dtype=np.float32)
                    self._write(lock_conn, [(c.pk, c.rev) for c in changes], vectors)
                    newest = max(newest, changes[-1].rev)
                    # revs before the last one in this batch are complete: an interrupted
                    # sync resumes there instead of embedding everything again
                    _set_state(lock_conn, self.rev_key, max(after, changes[-1].rev - 1))
                    done += len(changes)
                    if on_progress:
                        on_progress(done)
                self._ensure_index(lock_conn)
                _set_state(lock_conn, self.rev_key, newest)
            finally:
                lock_conn.execute("SELECT pg_advisory_unlock(%s)", (SYNC_LOCK + 1,))
        return done

    def rebuild(self, store: "Store", embedder: "Embedder", *,
                on_progress: Callable[[int], None] | None = None) -> int:
        """Drop this model's vectors and embed every paper again."""
        with self.store._transaction() as conn:
            conn.execute("DELETE FROM paper_vectors WHERE model = %s", (self.model_name,))
            conn.execute("DELETE FROM state WHERE key = %s", (self.rev_key,))
        return self.sync(store, embedder, on_progress=on_progress)

    def _write(self, conn: Any, keys: list[tuple[int, int]], vectors: np.ndarray) -> None:
        """Upsert through a binary COPY into a temp table: ~25x faster than formatting
        vectors as text (pgvector's binary form: dim, 0, big-endian float32s)."""
        head = struct.pack(">hh", self.dim, 0)
        with conn.transaction(), conn.cursor() as cur:
            cur.execute("CREATE TEMP TABLE IF NOT EXISTS vector_stage "
                        "(model TEXT, pk BIGINT, rev BIGINT, embedding VECTOR) ON COMMIT DELETE ROWS")
            with cur.copy("COPY vector_stage (model, pk, rev, embedding) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["text", "int8", "int8", "bytea"])  # bytea: the raw bytes go as they are
                for (pk, rev), vector in zip(keys, np.asarray(vectors, dtype=">f4")):
                    copy.write_row((self.model_name, pk, rev, head + vector.tobytes()))
            cur.execute("INSERT INTO paper_vectors (model, pk, rev, embedding) "
                        "SELECT model, pk, rev, embedding FROM vector_stage "
                        "ON CONFLICT (model, pk) DO UPDATE SET rev = excluded.rev, embedding = excluded.embedding")

    def _ensure_index(self, conn: Any) -> None:
        # pgvector builds fast only while the graph fits in maintenance_work_mem (64 MB by
        # default: ~50k 256-d vectors); past it, it falls back to a much slower build
        with conn.transaction():
            conn.execute(sql.SQL("SET LOCAL maintenance_work_mem = {}").format(sql.Literal(self._build_memory())))
            self._create_index(conn)

    def _build_memory(self) -> str:
        """Room for the whole graph (1M 256-d rows: ~1.8 GB), so a large build stays on the fast path."""
        needed_mb = self.count() * (self.dim * 4 + HNSW_BYTES_PER_LINKS) * 5 // 4 // 2**20
        return f"{max(HNSW_BUILD_MEMORY_MB, needed_mb)}MB"

    def _create_index(self, conn: Any) -> None:
        conn.execute(sql.SQL(
            "CREATE INDEX IF NOT EXISTS {name} ON paper_vectors USING hnsw ((embedding::{cast}) vector_cosine_ops) "
            "WITH (m = 16, ef_construction = 64) WHERE model = {model}"
        ).format(name=sql.Identifier(self.index_name), cast=self.cast, model=sql.Literal(self.model_name)))

    def count(self) -> int:
        row = self.store._one("SELECT count(*) AS n FROM paper_vectors WHERE model = %s", (self.model_name,))
        return int(row["n"]) if row else 0

    def search(self, query: np.ndarray, *, limit: int,
               allowed_pks: Sequence[int] | np.ndarray | None = None) -> list[tuple[int, float]]:
        """(pk, cosine) best first; only `allowed_pks` if given."""
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        if limit <= 0 or not np.any(q):
            return []  # a query with no known token carries no signal
        restrict = sql.SQL("")
        literal = _vector_literal(q)
        params: list[Any] = [literal, self.model_name]
        if allowed_pks is not None:
            restrict = sql.SQL("AND pk = ANY(%s)")
            params.append([int(pk) for pk in allowed_pks])
        params.append(literal)
        # the ORDER BY must be `<indexed expression> <=> constant` for the HNSW index to serve it
        statement = sql.SQL(
            "SELECT pk, embedding::{cast} <=> %s::{cast} AS distance FROM paper_vectors "
            "WHERE model = %s {restrict} ORDER BY embedding::{cast} <=> %s::{cast} LIMIT {limit}"
        ).format(cast=self.cast, restrict=restrict, limit=sql.Literal(int(limit)))
        with self.store._conn() as conn, conn.transaction():
            # ef_search bounds how many rows HNSW returns; a filter is walked iteratively
            conn.execute(sql.SQL("SET LOCAL hnsw.ef_search = {}").format(sql.Literal(max(EF_SEARCH_MIN, int(limit)))))
            conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
            rows = conn.execute(statement, params).fetchall()
        hits = sorted(((int(r["pk"]), 1.0 - float(r["distance"])) for r in rows), key=lambda hit: -hit[1])
        return hits[:limit]

    def neighbours(self, pk: int, *, limit: int, exclude_pks: Iterable[int] = ()) -> list[tuple[int, float]]:
        """Papers nearest to paper `pk`, never `pk` itself."""
        row = self.store._one("SELECT embedding::text AS v FROM paper_vectors WHERE model = %s AND pk = %s",
                              (self.model_name, int(pk)))
        if row is None:
            return []
        vector = np.array([float(x) for x in row["v"].strip("[]").split(",")], dtype=np.float32)
        skip = {int(pk), *map(int, exclude_pks)}
        return [hit for hit in self.search(vector, limit=limit + len(skip)) if hit[0] not in skip][:limit]
