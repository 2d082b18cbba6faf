-- Never edit: add 0009_*.sql for changes. The outbox is keyed by the event's local order
-- (``event_seq``, then ``peer``), so the rows one event adds to every peer's stream sit
-- together in one or two pages. Keyed by (peer, seq), each peer's stream was a range in the
-- middle of the tree and an event wrote one page per peer: 43 of the 54 pages a message's
-- commit wrote with NATO's 32 nations (docs/performance.md).
--
-- A peer's stream is read in order by scanning the outbox from a position (``store.outbox``).
-- ``outbox_marks`` finds a position from a seq: it holds every 16th item of each stream
-- (seq 1, 17, 33, ...) and every item more than 64 events after the stream's previous one,
-- so from the last mark at or before any item, that item is at most 16 * 64 events further
-- (``outbox.MARK_EVERY``, ``outbox.MARK_GAP``: the same figures as below).
CREATE TABLE outbox_by_event (
    event_seq INTEGER NOT NULL,
    peer      TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    prev_hash BLOB NOT NULL,
    PRIMARY KEY (event_seq, peer)
) WITHOUT ROWID;

INSERT INTO outbox_by_event(event_seq, peer, seq, prev_hash)
SELECT event_seq, peer, seq, prev_hash FROM outbox;

CREATE TABLE outbox_marks (
    peer      TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    event_seq INTEGER NOT NULL,
    PRIMARY KEY (peer, seq)
) WITHOUT ROWID;

INSERT INTO outbox_marks(peer, seq, event_seq)
SELECT peer, seq, event_seq FROM (
    SELECT peer, seq, event_seq,
           event_seq - LAG(event_seq) OVER (PARTITION BY peer ORDER BY seq) AS gap
    FROM outbox
)
WHERE seq % 16 = 1 OR gap > 64;

-- The urgent items keep their event's position, to join the outbox by its key.
CREATE TABLE outbox_urgent_by_event (
    peer      TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    event_seq INTEGER NOT NULL,
    PRIMARY KEY (peer, seq)
) WITHOUT ROWID;

INSERT INTO outbox_urgent_by_event(peer, seq, event_seq)
SELECT u.peer, u.seq, o.event_seq FROM outbox_urgent u
JOIN outbox o ON o.peer = u.peer AND o.seq = u.seq;

DROP TABLE outbox_urgent;
ALTER TABLE outbox_urgent_by_event RENAME TO outbox_urgent;

DROP TABLE outbox;
ALTER TABLE outbox_by_event RENAME TO outbox;
