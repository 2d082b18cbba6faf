-- Never edit: add 0007_*.sql for changes. Federation's urgent lane (docs/federation.md).
-- The items of a peer's stream that may be sent ahead of their place (a FLASH message on a
-- compact channel, a receipt of one): a row here beside their outbox row, so the link finds
-- them without reading the backlog, and queueing any other event costs nothing more.
CREATE TABLE outbox_urgent (
    peer TEXT NOT NULL,
    seq  INTEGER NOT NULL,
    PRIMARY KEY (peer, seq)
) WITHOUT ROWID;

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
