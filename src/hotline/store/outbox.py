"""The outbox: every peer's stream, keyed by the event's local order (migration 0008).

An event this node originates gets, in the transaction that stores it, one row per peer that
may hold it: ``(event_seq, peer, seq, prev_hash)``. Keyed by ``(event_seq, peer)``, the rows of
one event sit together, so a commit writes one or two outbox pages however many peers there
are. A peer's stream is read by scanning forward from a *position* (an ``event_seq``) and
keeping that peer's rows; a link keeps its position as it sends.

A position is found from a seq (a peer's cursor, when it connects) with ``outbox_marks``: every
``MARK_EVERY``-th item of a stream, and every item more than ``MARK_GAP`` events after the
stream's previous one. From the last mark at or before an item, the item is at most
``MARK_EVERY * MARK_GAP`` events further, so every lookup scans a bounded range.
"""

from __future__ import annotations

import sqlite3

#: Every 16th item of a stream is marked (seq 1, 17, 33, ...): migration 0008 uses the same.
MARK_EVERY = 16
#: An item more than 64 events after its stream's previous item is marked (migration 0008).
MARK_GAP = 64
#: From a stream's last mark at or before an item, the item is at most this many events on.
SPAN = MARK_EVERY * MARK_GAP
#: About the most outbox rows one read of a stream scans (``scan_events``): for a peer that
#: may hold few of the events, its next item can be far on, and the read goes on from there
#: at the next call. 16,384 rows are about a millisecond of the event loop.
SCAN_ROWS = 16_384

#: ``(seq, prev_hash, event, event_seq)`` of one item of a stream.
Row = tuple[int, bytes, bytes, int]

_ITEMS = (
    "SELECT o.seq, o.prev_hash, e.raw, o.event_seq FROM outbox o "
    "JOIN events e ON e.seq = o.event_seq "
)


def scan_events(peers: int) -> int:
    """How many events one read may scan at a node with ``peers`` peers (an event has at most
    one outbox row per peer)."""
    return max(16, SCAN_ROWS // max(1, peers))


def is_mark(seq: int, event_seq: int, prev_event_seq: int | None) -> bool:
    """Whether item ``seq`` of a stream is marked (``prev_event_seq``: the stream's item before)."""
    return seq % MARK_EVERY == 1 or prev_event_seq is None or event_seq - prev_event_seq > MARK_GAP


def add(
    conn: sqlite3.Connection,
    peer: str,
    seq: int,
    prev_hash: bytes,
    event_seq: int,
    prev_event_seq: int | None,
    urgent: bool,
) -> None:
    """Queue event ``event_seq`` as item ``seq`` of ``peer``'s stream (``urgent``: it may be
    sent ahead of the backlog, ``outbox_urgent``)."""
    conn.execute(
        "INSERT INTO outbox(event_seq, peer, seq, prev_hash) VALUES (?, ?, ?, ?)",
        (event_seq, peer, seq, prev_hash),
    )
    if is_mark(seq, event_seq, prev_event_seq):
        conn.execute(
            "INSERT INTO outbox_marks(peer, seq, event_seq) VALUES (?, ?, ?)",
            (peer, seq, event_seq),
        )
    if urgent:
        conn.execute(
            "INSERT INTO outbox_urgent(peer, seq, event_seq) VALUES (?, ?, ?)",
            (peer, seq, event_seq),
        )


def _mark(conn: sqlite3.Connection, peer: str, seq: int | None) -> int | None:
    """The ``event_seq`` of the last mark of ``peer``'s stream (at or before ``seq``)."""
    if seq is None:
        row = conn.execute(
            "SELECT event_seq FROM outbox_marks WHERE peer = ? ORDER BY seq DESC LIMIT 1", (peer,)
        ).fetchone()
    else:
        row = conn.execute(
            "SELECT event_seq FROM outbox_marks WHERE peer = ? AND seq <= ? "
            "ORDER BY seq DESC LIMIT 1",
            (peer, seq),
        ).fetchone()
    return None if row is None else int(row[0])


def _last_event(conn: sqlite3.Connection, peer: str) -> int | None:
    """The ``event_seq`` of the last item of ``peer``'s stream (None: empty).

    From the stream's last mark, item by item: each unmarked item is at most ``MARK_GAP``
    events after the one before, and at most ``MARK_EVERY - 1`` follow the last mark, so each
    step reads at most ``MARK_GAP`` events, even for a peer that holds few of them. (Read on an
    autocommit connection, new items may appear between the steps: the walk then stops after
    ``MARK_EVERY`` of them, at an item that was the last a moment ago.)
    """
    at = _mark(conn, peer, None)
    if at is None:
        return None
    for _ in range(MARK_EVERY):
        row = conn.execute(
            "SELECT event_seq FROM outbox WHERE event_seq > ? AND event_seq <= ? AND peer = ? "
            "ORDER BY event_seq LIMIT 1",
            (at, at + MARK_GAP, peer),
        ).fetchone()
        if row is None:
            break
        at = int(row[0])
    return at


def last(conn: sqlite3.Connection, peer: str) -> Row | None:
    """The last item of ``peer``'s stream, or None if the stream is empty."""
    at = _last_event(conn, peer)
    if at is None:
        return None
    row = conn.execute(_ITEMS + "WHERE o.event_seq = ? AND o.peer = ?", (at, peer)).fetchone()
    if row is None:  # a mark without its item: only a damaged file gets here
        raise sqlite3.DatabaseError(f"outbox: {peer}'s last mark has no item")
    return int(row[0]), bytes(row[1]), bytes(row[2]), int(row[3])


def last_seq(conn: sqlite3.Connection, peer: str) -> int:
    """The seq of the last item of ``peer``'s stream (0 if empty)."""
    at = _last_event(conn, peer)
    if at is None:
        return 0
    row = conn.execute(
        "SELECT seq FROM outbox WHERE event_seq = ? AND peer = ?", (at, peer)
    ).fetchone()
    return 0 if row is None else int(row[0])


def top(conn: sqlite3.Connection) -> int:
    """The highest ``event_seq`` in the outbox (0 if empty)."""
    row = conn.execute("SELECT MAX(event_seq) FROM outbox").fetchone()
    return 0 if row is None or row[0] is None else int(row[0])


def position(conn: sqlite3.Connection, peer: str, seq: int) -> int:
    """Where to read ``peer``'s stream from to get the items after ``seq``: the
    ``event_seq`` of item ``seq`` (of the last item, if the stream is shorter)."""
    if seq > 0:
        start = _mark(conn, peer, seq)
        if start is not None:
            row = conn.execute(
                "SELECT event_seq FROM outbox WHERE event_seq >= ? AND event_seq <= ? "
                "AND peer = ? AND seq <= ? ORDER BY event_seq DESC LIMIT 1",
                (start, start + SPAN, peer, seq),
            ).fetchone()
            if row is None:  # the mark's own row qualifies: only a damaged file gets here
                raise sqlite3.DatabaseError(f"outbox: {peer}'s mark {seq} has no item")
            return int(row[0])
    first = conn.execute(
        "SELECT event_seq FROM outbox_marks WHERE peer = ? ORDER BY seq LIMIT 1", (peer,)
    ).fetchone()
    # Before the stream's first item; an empty stream starts after everything queued so far.
    return int(first[0]) - 1 if first is not None else top(conn)


def pending(
    conn: sqlite3.Connection, peer: str, after: int, limit: int, scan: int
) -> tuple[list[Row], int, bool]:
    """Up to ``limit`` items of ``peer``'s stream past position ``after``, in order, reading at
    most ``scan`` events (``scan_events``).

    Returns ``(rows, scanned, more)``: ``scanned`` is the position the next read starts from
    once these rows are delivered (no item of the stream lies between ``after`` and it but
    ``rows``); ``more`` says the outbox goes on past it (a full batch, or ``scan`` events read).
    Every row at or below the outbox's highest ``event_seq`` read first is committed already
    (one writer numbers events in commit order), so the two statements need no transaction.
    """
    high = top(conn)
    upto = min(high, after + scan)
    rows: list[Row] = conn.execute(
        _ITEMS + "WHERE o.event_seq > ? AND o.event_seq <= ? AND o.peer = ? "
        "ORDER BY o.event_seq LIMIT ?",
        (after, upto, peer, limit),
    ).fetchall()
    scanned = rows[-1][3] if len(rows) == limit else upto
    return rows, scanned, scanned < high


def urgent(conn: sqlite3.Connection, peer: str, after: int, limit: int) -> list[Row]:
    """Urgent items of ``peer``'s stream with seq past ``after`` (``outbox_urgent``)."""
    rows: list[Row] = conn.execute(
        "SELECT o.seq, o.prev_hash, e.raw, o.event_seq FROM outbox_urgent u "
        "JOIN outbox o ON o.event_seq = u.event_seq AND o.peer = u.peer "
        "JOIN events e ON e.seq = o.event_seq "
        "WHERE u.peer = ? AND u.seq > ? ORDER BY u.seq LIMIT ?",
        (peer, after, limit),
    ).fetchall()
    return rows
