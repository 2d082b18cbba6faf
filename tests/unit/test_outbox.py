"""The outbox keyed by event (``store.outbox``, migration 0008) in real SQLite files: every
peer's stream read from any position gives exactly its items, in order, whatever share of the
events the peer may hold; marks bound every lookup; a file of schema 7 migrates intact."""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.store import outbox
from hotline.store.sqlite import connect, migrate

PEERS = ("JPN", "KOR", "AUS")

#: Per event, the peers that may hold it; a peer left out of long runs of events too.
memberships = st.lists(
    st.one_of(
        st.frozensets(st.sampled_from(PEERS)),
        st.just(frozenset({"JPN"})).map(lambda m: (m, 70)),  # 70 events only JPN may hold
    ),
    min_size=0,
    max_size=60,
)

Stream = list[tuple[int, int, bool]]  # (seq, event_seq, urgent)
#: The peers that may hold one event, or those of ``n`` events in a row.
Step = frozenset[str] | tuple[frozenset[str], int]


@contextmanager
def _store() -> Iterator[sqlite3.Connection]:
    with tempfile.TemporaryDirectory() as folder:
        conn = connect(Path(folder) / "hotline.db")
        migrate(conn)
        try:
            yield conn
        finally:
            conn.close()


def _event(conn: sqlite3.Connection, n: int) -> int:
    cur = conn.execute(
        "INSERT INTO events(id, origin, type, at, raw) VALUES (?, 'USA', 'link_test_sent', 0, ?)",
        (f"e-usa-{n}", f'{{"n":{n}}}'.encode()),
    )
    return int(cur.lastrowid or 0)


def _fill(conn: sqlite3.Connection, plan: list[Step]) -> dict[str, Stream]:
    """Store the events of ``plan`` and queue each on its peers' streams; returns the streams
    as they should read. Every third item is urgent."""
    streams: dict[str, Stream] = {p: [] for p in PEERS}
    n = 0
    conn.execute("BEGIN")
    for step in plan:
        members, times = step if isinstance(step, tuple) else (step, 1)
        for _ in range(times):
            n += 1
            event_seq = _event(conn, n)
            for peer in sorted(members):
                stream = streams[peer]
                seq = len(stream) + 1
                prev_event = stream[-1][1] if stream else None
                urgent = seq % 3 == 0
                outbox.add(conn, peer, seq, bytes(32), event_seq, prev_event, urgent)
                stream.append((seq, event_seq, urgent))
    conn.execute("COMMIT")
    return streams


def _read(conn: sqlite3.Connection, peer: str, seq: int, limit: int, scan: int) -> list[int]:
    """The seqs of ``peer``'s stream after ``seq``, read batch by batch as a link reads them."""
    at, got = outbox.position(conn, peer, seq), []
    for _ in range(10_000):
        rows, scanned, more = outbox.pending(conn, peer, at, limit, scan)
        assert len(rows) <= limit
        got += [row[0] for row in rows]
        at = scanned
        if not more:
            return got
    raise AssertionError("the reads never reached the end of the outbox")


@settings(max_examples=40, deadline=None)
@given(plan=memberships, limit=st.integers(1, 5), scan=st.integers(1, 200))
def test_every_stream_reads_whole_and_in_order_from_any_cursor(
    plan: list[Step], limit: int, scan: int
) -> None:
    with _store() as conn:
        streams = _fill(conn, plan)
        for peer, stream in streams.items():
            seqs = [s for s, _, _ in stream]
            for cursor in range(len(stream) + 2):
                assert _read(conn, peer, cursor, limit, scan) == seqs[cursor:]
            last = stream[-1] if stream else None
            assert outbox.last_seq(conn, peer) == (last[0] if last else 0)
            head = outbox.last(conn, peer)
            assert ((head[0], head[3]) if head else None) == (last[:2] if last else None)
            urgent = [s for s, _, u in stream if u]
            for after in (0, len(stream) // 2):
                got = [row[0] for row in outbox.urgent(conn, peer, after, 1000)]
                assert got == [s for s in urgent if s > after]


@settings(max_examples=40, deadline=None)
@given(plan=memberships)
def test_marks_bound_every_lookup(plan: list[Step]) -> None:
    """Marks are every 16th item and every item after a gap of more than 64 events, so an item
    is never more than 16 * 64 events past the last mark at or before it."""
    with _store() as conn:
        streams = _fill(conn, plan)
        for peer, stream in streams.items():
            marks = dict(
                conn.execute(
                    "SELECT seq, event_seq FROM outbox_marks WHERE peer = ?", (peer,)
                ).fetchall()
            )
            prev = None
            for seq, event_seq, _ in stream:
                far = prev is None or event_seq - prev > 64
                assert (seq in marks) == (seq % 16 == 1 or far)
                mark = max(s for s in marks if s <= seq)
                assert seq - mark < outbox.MARK_EVERY
                assert event_seq - marks[mark] <= outbox.SPAN
                prev = event_seq


def test_an_item_is_found_at_the_farthest_a_mark_allows() -> None:
    """JPN's items 2..16 each come 64 events after the one before (a gap that makes no mark):
    item 16 is 960 events past the last mark (item 1), and is still its stream's head."""
    jpn, kor = frozenset({"JPN"}), frozenset({"KOR"})
    with _store() as conn:
        plan: list[Step] = [jpn]
        for _ in range(15):
            plan += [(kor, 63), jpn]
        streams = _fill(conn, plan)
        events = [e for _, e, _ in streams["JPN"]]
        assert events[-1] - events[0] == 15 * 64
        assert conn.execute("SELECT seq FROM outbox_marks WHERE peer = 'JPN'").fetchall() == [(1,)]
        head = outbox.last(conn, "JPN")
        assert head is not None and (head[0], head[3]) == (16, events[-1])
        assert outbox.last_seq(conn, "JPN") == 16
        assert [outbox.position(conn, "JPN", s) for s in range(1, 17)] == events
        assert _read(conn, "JPN", 0, 4, outbox.scan_events(2)) == list(range(1, 17))


def test_a_read_scans_about_the_same_rows_however_many_peers() -> None:
    assert outbox.scan_events(2) == 8192 and outbox.scan_events(31) == 528
    assert outbox.scan_events(0) == outbox.SCAN_ROWS and outbox.scan_events(10**6) == 16


def test_a_peer_absent_from_a_long_run_is_read_past_it_in_bounded_steps() -> None:
    """KOR may hold none of 20,000 events, then one: a read scans at most ``scan`` events."""
    with _store() as conn:
        kor = frozenset({"KOR"})
        streams = _fill(conn, [kor, (frozenset({"JPN"}), 20_000), kor])
        assert [s for s, _, _ in streams["KOR"]] == [1, 2]
        at = outbox.position(conn, "KOR", 1)
        steps = 0
        while True:
            rows, at, more = outbox.pending(conn, "KOR", at, 10, scan=4096)
            steps += 1
            if rows:
                break
            assert more
        assert [r[0] for r in rows] == [2] and steps == 5  # 20,001 events, 4,096 at a time
        assert outbox.position(conn, "KOR", 2) == streams["KOR"][1][1]
        assert outbox.position(conn, "AUS", 0) == outbox.top(conn)  # empty: starts at the end


def test_a_schema_7_file_migrates_with_its_streams_and_urgent_items() -> None:
    old = [
        ("JPN", seq, event_seq)
        for seq, event_seq in enumerate([1, 2, 3, *range(100, 140), 300, 301], start=1)
    ] + [("KOR", 1, 2), ("KOR", 2, 301)]
    with tempfile.TemporaryDirectory() as folder:
        conn = connect(Path(folder) / "hotline.db")
        scripts = resources.files("hotline.store").joinpath("migrations")
        for number in range(1, 8):
            (script,) = [p for p in scripts.iterdir() if p.name.startswith(f"{number:04d}_")]
            conn.executescript(
                "BEGIN;\n" + script.read_text() + f"\nPRAGMA user_version={number};\nCOMMIT;"
            )
        for _, _, event_seq in old:
            conn.execute(
                "INSERT OR IGNORE INTO events(seq, id, origin, type, at, raw) "
                "VALUES (?, ?, 'USA', 't', 0, x'7b7d')",
                (event_seq, f"e-{event_seq}"),
            )
        conn.executemany(
            "INSERT INTO outbox(peer, seq, prev_hash, event_seq) VALUES (?, ?, zeroblob(32), ?)",
            old,
        )
        conn.execute("INSERT INTO outbox_urgent(peer, seq) VALUES ('JPN', 44), ('KOR', 2)")
        assert migrate(conn) >= 8
        rows = conn.execute("SELECT peer, seq, event_seq FROM outbox").fetchall()
        assert sorted(rows) == sorted(old)
        marks = conn.execute("SELECT peer, seq FROM outbox_marks ORDER BY peer, seq").fetchall()
        # JPN: 1, 17, 33 (every 16th), 4 (97 events after 3), 44 (157 after 43); KOR: 1, 2.
        assert marks == [("JPN", s) for s in (1, 4, 17, 33, 44)] + [("KOR", 1), ("KOR", 2)]
        urgent = conn.execute("SELECT peer, seq, event_seq FROM outbox_urgent").fetchall()
        assert sorted(urgent) == [("JPN", 44, 300), ("KOR", 2, 301)]
        assert [r[0] for r in outbox.urgent(conn, "JPN", 0, 10)] == [44]
        assert outbox.last_seq(conn, "JPN") == 45 and outbox.position(conn, "JPN", 44) == 300
        conn.close()
