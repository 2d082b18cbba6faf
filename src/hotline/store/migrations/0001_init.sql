-- hotline node store, schema 1. Never edit: add 0002_*.sql for changes.
CREATE TABLE events (
    seq     INTEGER PRIMARY KEY,            -- local append order
    id      TEXT NOT NULL UNIQUE,           -- global event id (exactly-once key)
    origin  TEXT NOT NULL,
    type    TEXT NOT NULL,
    at      REAL NOT NULL,
    raw     BLOB NOT NULL                   -- the signed envelope, canonical JSON
);

CREATE TABLE messages (
    id             TEXT PRIMARY KEY,
    seq            INTEGER NOT NULL,
    channel        TEXT NOT NULL,
    nation         TEXT NOT NULL,
    prec_rank      INTEGER NOT NULL,
    sent_at        REAL NOT NULL,
    raw            BLOB NOT NULL            -- MessageSent, JSON
);
CREATE INDEX messages_channel ON messages(channel, seq);

CREATE TABLE receipts (
    message_id   TEXT NOT NULL,
    nation       TEXT NOT NULL,
    delivered_at REAL,
    read_at      REAL,
    read_by      TEXT,
    acked_at     REAL,
    acked_by     TEXT,
    level        INTEGER NOT NULL DEFAULT 0,
    notified     TEXT NOT NULL DEFAULT '',
    escalated_at REAL,
    next_at      REAL,
    PRIMARY KEY (message_id, nation)
) WITHOUT ROWID;
CREATE INDEX receipts_due ON receipts(nation, next_at) WHERE acked_at IS NULL;

CREATE TABLE accounts (
    handle     TEXT PRIMARY KEY,
    hash       TEXT NOT NULL,
    updated_at REAL NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    handle     TEXT NOT NULL,
    issued_at  REAL NOT NULL,
    expires_at REAL NOT NULL,
    revoked_at REAL
);

-- federation: one stream per peer, persisted before it is sent
CREATE TABLE outbox (
    peer      TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    prev_hash BLOB NOT NULL,
    event_seq INTEGER NOT NULL,
    PRIMARY KEY (peer, seq)
) WITHOUT ROWID;

CREATE TABLE peer_out (
    peer      TEXT PRIMARY KEY,
    last_seq  INTEGER NOT NULL DEFAULT 0,
    last_hash BLOB NOT NULL,
    acked_seq INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE peer_in (
    peer      TEXT PRIMARY KEY,
    last_seq  INTEGER NOT NULL DEFAULT 0,
    last_hash BLOB NOT NULL
);

CREATE TABLE refused (
    id     INTEGER PRIMARY KEY,
    peer   TEXT NOT NULL,
    at     REAL NOT NULL,
    code   TEXT NOT NULL,
    reason TEXT NOT NULL,
    raw    BLOB
);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- link tests (federation): one row per test this node sent or answered
CREATE TABLE link_tests (
    test_id     TEXT PRIMARY KEY,
    origin      TEXT NOT NULL,              -- the nation that sent the test
    peer        TEXT NOT NULL,              -- the nation that must answer
    sent_at     REAL NOT NULL,
    answered_at REAL,
    rtt_ms      REAL,
    missed_at   REAL
);
CREATE INDEX link_tests_open ON link_tests(origin, sent_at) WHERE answered_at IS NULL AND missed_at IS NULL;
