-- Email (issue 7): subscribers, their saved searches and follows, used single-use link
-- nonces, digests composed per (subscriber, period), and the outbox. docs/email.md.
-- Times are ISO 8601 UTC text (COLLATE "C" where compared), like papers, so one store
-- module (store/mail_tables.py) serves both backends.
CREATE TABLE subscribers (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email             TEXT NOT NULL,
    email_key         TEXT COLLATE "C" NOT NULL UNIQUE,
    user_id           BIGINT,
    status            TEXT NOT NULL CHECK (status IN ('pending', 'active', 'paused', 'unsubscribed', 'bouncing')),
    frequency         TEXT NOT NULL DEFAULT 'daily' CHECK (frequency IN ('daily', 'weekly')),
    weekday           BIGINT CHECK (weekday BETWEEN 0 AND 6),
    trending_top_n    BIGINT NOT NULL DEFAULT 10,
    next_due_at       TEXT COLLATE "C",
    delivered_rev     BIGINT NOT NULL DEFAULT 0,
    bounce_count      BIGINT NOT NULL DEFAULT 0,
    links_valid_after TEXT NOT NULL,
    confirm_sent_at   TEXT,
    confirmed_at      TEXT,
    unsubscribed_at   TEXT,
    created_at        TEXT NOT NULL
);
CREATE INDEX subscribers_due ON subscribers (next_due_at) WHERE status = 'active';

CREATE TABLE subscriber_searches (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscriber_id BIGINT NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    query         TEXT NOT NULL,
    filters       TEXT NOT NULL DEFAULT '{}',
    label         TEXT NOT NULL,
    query_key     TEXT NOT NULL,
    UNIQUE (subscriber_id, query_key)
);

CREATE TABLE subscriber_follows (
    subscriber_id BIGINT NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
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
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscriber_id BIGINT NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    period_key    TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('queued', 'empty')),
    through_rev   BIGINT NOT NULL,
    created_at    TEXT NOT NULL,
    UNIQUE (subscriber_id, period_key)
);

CREATE TABLE digest_items (
    digest_id     BIGINT NOT NULL REFERENCES digests (id) ON DELETE CASCADE,
    subscriber_id BIGINT NOT NULL,
    paper_pk      BIGINT NOT NULL,
    PRIMARY KEY (subscriber_id, paper_pk)
);

CREATE TABLE outbox (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind             TEXT NOT NULL CHECK (kind IN ('confirm', 'digest', 'sign_in')),
    subscriber_id    BIGINT REFERENCES subscribers (id) ON DELETE CASCADE,
    digest_id        BIGINT UNIQUE REFERENCES digests (id) ON DELETE CASCADE,
    recipient        TEXT NOT NULL,
    message          BYTEA,
    message_id       TEXT NOT NULL UNIQUE,
    priority         BIGINT NOT NULL,
    expires_at       TEXT,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'expired')),
    attempts         BIGINT NOT NULL DEFAULT 0,
    first_attempt_at TEXT,
    next_attempt_at  TEXT COLLATE "C" NOT NULL,
    last_code        BIGINT,
    last_error       TEXT,
    created_at       TEXT NOT NULL,
    sent_at          TEXT
);
CREATE INDEX outbox_due ON outbox (priority, next_attempt_at) WHERE status = 'pending';
