-- Never edit: add 0008_*.sql for changes. A node escalates only its own nation's receipts, so
-- the index of receipts due holds only those: ``receipts_due_own`` (next_at, partial on the
-- node's nation) is created for the node's nation when the node is built
-- (``projections.index_own_receipts``). The index of every nation's receipts put two or three
-- entries of each message in the middle of the tree, where SQLite rebalances sibling pages:
-- three of the 10-13 pages a message's commit wrote (docs/performance.md). (This comment was
-- corrected in the session that added the file; the SQL is unchanged.)
DROP INDEX IF EXISTS receipts_due;
