-- A peer stream's head (last seq, link hash) is the outbox's last row: queueing an event is
-- one INSERT, not an INSERT and an UPDATE. peer_out keeps the acknowledged cursor.
ALTER TABLE peer_out DROP COLUMN last_seq;
ALTER TABLE peer_out DROP COLUMN last_hash;
