-- Never edit: add 0007_*.sql for changes. Federation's urgent lane (docs/federation.md):
-- a FLASH message on a compact channel is marked in the outbox, so the link finds it in the
-- backlog by this partial index (other rows never enter it), and sends it ahead.
ALTER TABLE outbox ADD COLUMN urgent INTEGER NOT NULL DEFAULT 0;
CREATE INDEX outbox_urgent ON outbox(peer, seq) WHERE urgent = 1;

-- A peer's item applied ahead of its place in the peer's stream: when the in-order copy
-- arrives it must be the same bytes (digest: SHA-256 of the event), and then it only
-- advances the cursor.
CREATE TABLE peer_ahead (
    peer     TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    digest   BLOB NOT NULL,
    at       REAL NOT NULL,
    PRIMARY KEY (peer, seq)
) WITHOUT ROWID;
