-- Community (issue 6): accounts, sessions, used sign-in nonces, votes and per-paper heat,
-- submissions, comments and reports, collections. Times are ISO 8601 UTC text, as for
-- papers. Secrets (session ids, sign-in nonces) are stored only as SHA-256 hex digests.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,          -- lower-cased
    display_name  TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    is_moderator  INTEGER NOT NULL DEFAULT 0,
    suspended     INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE sessions (
    id_hash     TEXT PRIMARY KEY,                -- sha256 of the cookie value
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE used_nonces (
    nonce_hash  TEXT PRIMARY KEY,                -- a sign-in link works once
    used_at     TEXT NOT NULL
);

CREATE TABLE votes (
    user_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    paper_pk  INTEGER NOT NULL REFERENCES papers (pk) ON DELETE CASCADE,
    voted_at  TEXT NOT NULL,
    PRIMARY KEY (user_id, paper_pk)
);
CREATE INDEX votes_paper ON votes (paper_pk);

-- One row per voted-on paper: heat is trending.heat() of its votes (docs/ranking.md);
-- published is copied so "trending this week" is one indexed range + order.
CREATE TABLE paper_heat (
    paper_pk   INTEGER PRIMARY KEY REFERENCES papers (pk) ON DELETE CASCADE,
    heat       REAL NOT NULL,
    votes      INTEGER NOT NULL,
    published  TEXT
);
CREATE INDEX paper_heat_heat ON paper_heat (heat);

CREATE TABLE submissions (
    paper_pk      INTEGER PRIMARY KEY REFERENCES papers (pk) ON DELETE CASCADE,  -- first submitter wins
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    submitted_at  TEXT NOT NULL,
    day           TEXT NOT NULL                  -- YYYY-MM-DD, the daily list it joins
);
CREATE INDEX submissions_day ON submissions (day);
CREATE INDEX submissions_at ON submissions (submitted_at);
CREATE INDEX submissions_user ON submissions (user_id);

CREATE TABLE comments (
    id          INTEGER PRIMARY KEY,
    paper_pk    INTEGER NOT NULL REFERENCES papers (pk) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    parent_id   INTEGER REFERENCES comments (id) ON DELETE CASCADE,  -- one level of replies
    body        TEXT NOT NULL,                   -- Markdown source, rendered safely on output
    created_at  TEXT NOT NULL,
    edited_at   TEXT,
    deleted     INTEGER NOT NULL DEFAULT 0,
    hidden      INTEGER NOT NULL DEFAULT 0       -- by a moderator
);
CREATE INDEX comments_paper ON comments (paper_pk, id);

CREATE TABLE comment_reports (
    comment_id  INTEGER NOT NULL REFERENCES comments (id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    reason      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (comment_id, user_id)
);

CREATE TABLE collections (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    public      INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL,
    UNIQUE (user_id, name)
);

CREATE TABLE collection_items (
    collection_id  INTEGER NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    paper_pk       INTEGER NOT NULL REFERENCES papers (pk) ON DELETE CASCADE,
    note           TEXT NOT NULL DEFAULT '',
    added_at       TEXT NOT NULL,
    PRIMARY KEY (collection_id, paper_pk)
);
