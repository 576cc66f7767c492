-- An impact-ordered inverted index for keyword search (docs/postgres.md, "Keyword
-- ranking"). Ranking an OR query over tsvectors must decompress every match (seconds at
-- 100k papers when query words are common); these tables let a query read only the top
-- postings of each word, best first, from a B-tree.
--
-- keyword_postings holds one row per (paper, lexeme of its `search` tsvector) with the
-- lexeme's BM25 term-frequency part precomputed ("impact", x1000): it depends on the
-- paper's length and the average length only, so IDF (which depends on the word's
-- document frequency) is applied at query time from keyword_terms.df, always current.
-- The average lengths are those of the store when the paper was written (the
-- approximation: `paperfeed reindex --keyword` recomputes every impact).
-- Every write of papers calls paperfeed_index_keywords(pks) in the same transaction.
CREATE TABLE keyword_terms (
    term_id INTEGER GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lexeme  TEXT COLLATE "C" NOT NULL UNIQUE,
    df      BIGINT NOT NULL DEFAULT 0          -- papers holding the lexeme
);

CREATE TABLE keyword_docs (
    pk          BIGINT PRIMARY KEY,
    text_len    INTEGER NOT NULL,              -- lexeme occurrences in title + abstract
    title_len   INTEGER NOT NULL,
    authors_len INTEGER NOT NULL
);

CREATE TABLE keyword_totals (                  -- one row: N and the summed lengths
    id          BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (id),
    docs        BIGINT NOT NULL DEFAULT 0,
    text_len    BIGINT NOT NULL DEFAULT 0,
    title_len   BIGINT NOT NULL DEFAULT 0,
    authors_len BIGINT NOT NULL DEFAULT 0
);
INSERT INTO keyword_totals DEFAULT VALUES;

-- Columns ordered widest first (no alignment padding): 44 bytes a posting with its slot.
CREATE TABLE keyword_postings (
    pk      BIGINT NOT NULL,
    term_id INTEGER NOT NULL,
    impact  SMALLINT NOT NULL,
    PRIMARY KEY (pk, term_id) INCLUDE (impact)  -- a paper's postings: exact re-scoring, updates
);
-- A word's postings best first: the top K of a word is one index-only range scan.
CREATE INDEX keyword_postings_by_impact ON keyword_postings (term_id, impact DESC, pk);

-- BM25 parameters as in Tantivy (k1 1.2, b 0.75). A lexeme's impact in a paper is
-- bm25(title + abstract) + 0.3 x bm25(title) + bm25(authors), each with its own field
-- length, as the Tantivy ranker scores the fields text, title (boost 0.3) and authors.
CREATE FUNCTION paperfeed_bm25_tf(tf INTEGER, len INTEGER, total BIGINT, docs BIGINT)
RETURNS DOUBLE PRECISION LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN tf = 0 OR total = 0 THEN 0.0
                ELSE tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * len * docs::float8 / total)) END
$$;

CREATE FUNCTION paperfeed_index_keywords(written BIGINT[]) RETURNS VOID LANGUAGE plpgsql AS $$
BEGIN
    -- what these papers said before (an update rewrites a paper under the same pk)
    WITH gone AS (DELETE FROM keyword_postings WHERE pk = ANY(written) RETURNING term_id),
         counted AS (SELECT term_id, count(*) AS n FROM gone GROUP BY term_id)
    UPDATE keyword_terms t SET df = t.df - c.n FROM counted c WHERE t.term_id = c.term_id;
    WITH gone AS (DELETE FROM keyword_docs WHERE pk = ANY(written) RETURNING *)
    UPDATE keyword_totals s SET docs = s.docs - g.docs, text_len = s.text_len - g.text_len,
           title_len = s.title_len - g.title_len, authors_len = s.authors_len - g.authors_len
      FROM (SELECT count(*) AS docs, coalesce(sum(text_len), 0) AS text_len,
                   coalesce(sum(title_len), 0) AS title_len, coalesce(sum(authors_len), 0) AS authors_len
              FROM gone) g;

    -- occurrences of each lexeme per field: weight A title, B abstract, C authors
    CREATE TEMP TABLE IF NOT EXISTS keyword_occurrences
        (pk BIGINT, lexeme TEXT COLLATE "C", na INTEGER, nb INTEGER, nc INTEGER) ON COMMIT DELETE ROWS;
    TRUNCATE keyword_occurrences;
    INSERT INTO keyword_occurrences
    SELECT p.pk, u.lexeme, cardinality(array_positions(u.weights, 'A')),
           cardinality(array_positions(u.weights, 'B')), cardinality(array_positions(u.weights, 'C'))
      FROM papers p, unnest(p.search) u
     WHERE p.pk = ANY(written);

    INSERT INTO keyword_docs (pk, text_len, title_len, authors_len)
    SELECT pk, sum(na + nb), sum(na), sum(nc) FROM keyword_occurrences GROUP BY pk;
    UPDATE keyword_totals s SET docs = s.docs + d.docs, text_len = s.text_len + d.text_len,
           title_len = s.title_len + d.title_len, authors_len = s.authors_len + d.authors_len
      FROM (SELECT count(*) AS docs, coalesce(sum(text_len), 0) AS text_len,
                   coalesce(sum(title_len), 0) AS title_len, coalesce(sum(authors_len), 0) AS authors_len
              FROM keyword_docs WHERE pk = ANY(written)) d;

    INSERT INTO keyword_terms (lexeme)
    SELECT DISTINCT o.lexeme FROM keyword_occurrences o
     WHERE NOT EXISTS (SELECT 1 FROM keyword_terms t WHERE t.lexeme = o.lexeme)
    ON CONFLICT (lexeme) DO NOTHING;
    UPDATE keyword_terms t SET df = t.df + c.n
      FROM (SELECT lexeme, count(*) AS n FROM keyword_occurrences GROUP BY lexeme) c
     WHERE t.lexeme = c.lexeme;

    INSERT INTO keyword_postings (pk, term_id, impact)
    SELECT o.pk, t.term_id, greatest(1, least(32767, round(1000 * (
               paperfeed_bm25_tf(o.na + o.nb, d.text_len, s.text_len, s.docs)
               + 0.3 * paperfeed_bm25_tf(o.na, d.title_len, s.title_len, s.docs)
               + paperfeed_bm25_tf(o.nc, d.authors_len, s.authors_len, s.docs)))))::SMALLINT
      FROM keyword_occurrences o
      JOIN keyword_terms t ON t.lexeme = o.lexeme
      JOIN keyword_docs d ON d.pk = o.pk
     CROSS JOIN keyword_totals s;
    TRUNCATE keyword_occurrences;
END
$$;

-- Backfill: every paper already stored, 5,000 at a time (each chunk's impacts use the
-- average lengths of the papers indexed so far, as ingest does).
DO $$
DECLARE
    done BIGINT := 0;
    last BIGINT := (SELECT coalesce(max(pk), 0) FROM papers);
BEGIN
    WHILE done < last LOOP
        PERFORM paperfeed_index_keywords(ARRAY(SELECT pk FROM papers WHERE pk > done AND pk <= done + 5000));
        done := done + 5000;
    END LOOP;
END
$$;
ANALYZE keyword_postings;
ANALYZE keyword_terms;

-- Replaced by keyword_terms.df, which every write keeps exact.
DROP TABLE IF EXISTS lexeme_stats;
