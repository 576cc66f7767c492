-- Papers, their categories, and small key/value state (cursors, index watermarks).
CREATE TABLE papers (
    pk               INTEGER PRIMARY KEY,          -- internal row number; FTS and vector rows use it
    id               TEXT NOT NULL UNIQUE,         -- stable public id (URLs, API)
    arxiv_id         TEXT UNIQUE,                  -- without version
    arxiv_version    INTEGER,
    doi              TEXT UNIQUE,                  -- lower-cased, no resolver prefix
    title_key        TEXT NOT NULL,                -- normalised title | first-author surname
    title            TEXT NOT NULL,
    abstract         TEXT NOT NULL DEFAULT '',
    authors          TEXT NOT NULL DEFAULT '[]',   -- JSON array of names, in order
    categories       TEXT NOT NULL DEFAULT '[]',   -- JSON array, primary first
    primary_category TEXT,
    published        TEXT,                         -- ISO 8601 UTC, e.g. 2024-01-02T03:04:05Z
    updated          TEXT,
    versions         TEXT NOT NULL DEFAULT '[]',   -- JSON [[version, created-or-null], ...]
    links            TEXT NOT NULL DEFAULT '[]',   -- JSON [[kind, url], ...]
    has_code         INTEGER NOT NULL DEFAULT 0,
    comments         TEXT NOT NULL DEFAULT '',
    journal_ref      TEXT,
    source           TEXT NOT NULL,
    source_id        TEXT NOT NULL,
    fetched_at       TEXT,
    ingested_at      TEXT NOT NULL,
    content_hash     TEXT NOT NULL,
    extra            TEXT NOT NULL DEFAULT '{}',
    rev              INTEGER NOT NULL             -- write batch that last changed it; indexes catch up by rev
);
CREATE INDEX papers_rev ON papers (rev, pk);
CREATE INDEX papers_title_key ON papers (title_key);
CREATE INDEX papers_published ON papers (published);

CREATE TABLE paper_categories (
    category TEXT NOT NULL,
    pk       INTEGER NOT NULL REFERENCES papers (pk) ON DELETE CASCADE,
    PRIMARY KEY (pk, category)
) WITHOUT ROWID;
CREATE INDEX paper_categories_category ON paper_categories (category, pk);

CREATE TABLE state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
