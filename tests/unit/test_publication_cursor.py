"""The warning publisher's cursor over the event log (``store.warning.published_after``): it
passes events of other types, so that each stored event is scanned once, not at every cycle."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from hotline.domain.events import Envelope, encode_envelope
from hotline.domain.ids import EventId, NationCode
from hotline.domain.warning_events import TrackUpdated
from hotline.store.sqlite import SqliteStore
from hotline.store.warning import published_after

pytestmark = pytest.mark.anyio

USA = NationCode("USA")
T0 = 1_800_000_000.0


def _track(track_id: str) -> bytes:
    body = TrackUpdated(
        track_id=track_id,
        picture="coalition",
        status="confirmed",
        phase="midcourse",
        time=T0,
        lat=39.5,
        lon=128.0,
        hae=200_000.0,
        velocity=(2500.0, 0.0, 100.0),
        sigma_m=150.0,
        nations=(USA,),
        sources=("USA/tpy2-kyogamisaki",),
        n_reports=12,
        impact=None,
        at=T0,
    )
    env = Envelope(id=EventId(f"e-{track_id}"), origin=USA, at=T0, rel_to=(USA,), body=body)
    return encode_envelope(env)


def _ids(rows: list[tuple[int, Envelope]]) -> list[tuple[int, str]]:
    out = []
    for seq, env in rows:
        assert isinstance(env.body, TrackUpdated)
        out.append((seq, env.body.track_id))
    return out


def _append(conn: sqlite3.Connection, messages: int, tracks: tuple[str, ...] = ()) -> None:
    """``messages`` events of another type (never decoded by the publisher), then tracks."""
    start = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]
    insert = "INSERT INTO events (id, origin, type, at, raw) VALUES (?, 'USA', ?, ?, ?)"
    for i in range(messages):
        raw = b"not an envelope: a publisher that decodes it fails"
        conn.execute(insert, (f"m-{start + i}", "message_sent", T0, raw))
    for tid in tracks:
        conn.execute(insert, (f"e-{tid}", "track_updated", T0, _track(tid)))


async def test_the_cursor_passes_other_events_and_each_event_is_scanned_once(
    tmp_path: Path,
) -> None:
    store = SqliteStore(tmp_path / "hotline.db")
    store.start()
    try:
        await store.run(lambda conn: _append(conn, 30))
        cursor, rows = published_after(store.reader, 0, 1000)
        # Only messages so far: none published, and the cursor is past them all, so that the
        # next cycle does not scan them again.
        assert rows == [] and cursor == 30
        assert published_after(store.reader, cursor, 1000) == (30, [])

        await store.run(lambda conn: _append(conn, 5, ("trk-a", "trk-b")))
        await store.run(lambda conn: _append(conn, 4))
        after, rows = published_after(store.reader, cursor, 1000)
        assert _ids(rows) == [(36, "trk-a"), (37, "trk-b")]
        assert after == 41  # past the 4 later messages too
    finally:
        store.close()


async def test_a_full_page_ends_at_its_last_row_and_the_next_page_follows(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "hotline.db")
    store.start()
    try:
        await store.run(lambda conn: _append(conn, 3, ("trk-a", "trk-b", "trk-c")))
        await store.run(lambda conn: _append(conn, 2))
        cursor, rows = published_after(store.reader, 0, 2)
        assert [seq for seq, _ in rows] == [4, 5] and cursor == 5
        cursor, rows = published_after(store.reader, cursor, 2)
        assert _ids(rows) == [(6, "trk-c")] and cursor == 8
        assert published_after(store.reader, cursor, 2) == (8, [])
    finally:
        store.close()
