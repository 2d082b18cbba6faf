-- Never edit: add 0008_*.sql for changes. A node escalates only its own nation's receipts, so
-- the index of receipts due holds only those: ``receipts_due_own`` (nation, next_at) is created
-- for the node's nation when the node is built (``projections.index_own_receipts``). The index
-- of every nation's receipts put two or three entries of each message in the middle of the
-- tree, where SQLite rebalances sibling pages: three of the 10-13 pages a message's commit
-- wrote (docs/performance.md).
DROP INDEX IF EXISTS receipts_due;
