-- Email (issue 7): subscribers, their saved searches and follows, used single-use link
-- nonces, digests composed per (subscriber, period), and the outbox. docs/email.md.
-- Times are ISO 8601 UTC text, like papers.
CREATE TABLE subscribers (
    id                INTEGER PRIMARY KEY,
    email             TEXT NOT NULL,
    email_key         TEXT NOT NULL UNIQUE,
    user_id           INTEGER,
    status            TEXT NOT NULL CHECK (status IN ('pending', 'active', 'paused', 'unsubscribed', 'bouncing')),
    frequency         TEXT NOT NULL DEFAULT 'daily' CHECK (frequency IN ('daily', 'weekly')),
    weekday           INTEGER CHECK (weekday BETWEEN 0 AND 6),
    trending_top_n    INTEGER NOT NULL DEFAULT 10,
    next_due_at       TEXT,
    delivered_rev     INTEGER NOT NULL DEFAULT 0,
    bounce_count      INTEGER NOT NULL DEFAULT 0,
    links_valid_after TEXT NOT NULL,
    confirm_sent_at   TEXT,
    confirmed_at      TEXT,
    unsubscribed_at   TEXT,
    created_at        TEXT NOT NULL
);
CREATE INDEX subscribers_due ON subscribers (next_due_at) WHERE status = 'active';

CREATE TABLE subscriber_searches (
    id            INTEGER PRIMARY KEY,
    subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    query         TEXT NOT NULL,
    filters       TEXT NOT NULL DEFAULT '{}',
    label         TEXT NOT NULL,
    query_key     TEXT NOT NULL,
    UNIQUE (subscriber_id, query_key)
);

CREATE TABLE subscriber_follows (
    subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    kind          TEXT NOT NULL CHECK (kind IN ('author', 'category')),
    value         TEXT NOT NULL,
    PRIMARY KEY (subscriber_id, kind, value)
);

CREATE TABLE used_tokens (
    nonce_digest TEXT PRIMARY KEY,
    purpose      TEXT NOT NULL,
    used_at      TEXT NOT NULL,
    expires_at   TEXT
);

CREATE TABLE digests (
    id            INTEGER PRIMARY KEY,
    subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    period_key    TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('queued', 'empty')),
    through_rev   INTEGER NOT NULL,
    created_at    TEXT NOT NULL,
    UNIQUE (subscriber_id, period_key)
);

CREATE TABLE digest_items (
    digest_id     INTEGER NOT NULL REFERENCES digests (id) ON DELETE CASCADE,
    subscriber_id INTEGER NOT NULL,
    paper_pk      INTEGER NOT NULL,
    PRIMARY KEY (subscriber_id, paper_pk)
);

CREATE TABLE outbox (
    id               INTEGER PRIMARY KEY,
    kind             TEXT NOT NULL CHECK (kind IN ('confirm', 'digest', 'sign_in')),
    subscriber_id    INTEGER REFERENCES subscribers (id) ON DELETE CASCADE,
    digest_id        INTEGER UNIQUE REFERENCES digests (id) ON DELETE CASCADE,
    recipient        TEXT NOT NULL,
    message          BLOB,
    message_id       TEXT NOT NULL UNIQUE,
    priority         INTEGER NOT NULL,
    expires_at       TEXT,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'expired')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    first_attempt_at TEXT,
    next_attempt_at  TEXT NOT NULL,
    last_code        INTEGER,
    last_error       TEXT,
    created_at       TEXT NOT NULL,
    sent_at          TEXT
);
CREATE INDEX outbox_due ON outbox (priority, next_attempt_at) WHERE status = 'pending';
