"""Projections of the warning events (reports, tracks, alerts) and the queries over them.

``project`` runs inside the writer's transaction, for this node's own events and for those
peers federate alike (``store.projections.Projector.project`` dispatches here).
"""

from __future__ import annotations

import sqlite3
from typing import Any

import msgspec

from hotline.domain.events import Envelope, decode_envelope
from hotline.domain.warning_events import (
    AlertRaised,
    AlertUpdated,
    ReportsReceived,
    TrackUpdated,
)

PROJECTED = (ReportsReceived, TrackUpdated, AlertRaised, AlertUpdated)
#: Event types the warning service publishes to streams and TAK clients.
PUBLISHED_TYPES = ("track_updated", "alert_raised", "alert_updated")

_enc = msgspec.json.Encoder()
_track = msgspec.json.Decoder(TrackUpdated)
_alert = msgspec.json.Decoder(AlertRaised | AlertUpdated)

#: A stored report: (id, nation, sensor, uid, time, lat, lon, hae, ce, le).
ReportRow = tuple[int, str, str, str, float, float, float, float, float, float]


def project(conn: sqlite3.Connection, env: Envelope, seq: int) -> None:
    body = env.body
    if isinstance(body, ReportsReceived):
        conn.executemany(
            "INSERT OR IGNORE INTO reports(nation, sensor, uid, time, lat, lon, hae, ce, le, "
            "event_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (body.nation, r.sensor, r.uid, r.time, r.lat, r.lon, r.hae, r.ce, r.le, seq)
                for r in body.reports
            ],
        )
    elif isinstance(body, TrackUpdated):
        conn.execute(
            "INSERT OR REPLACE INTO tracks(picture, id, origin, status, phase, time, event_seq, "
            "raw) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                body.picture,
                body.track_id,
                env.origin,
                body.status,
                body.phase,
                body.time,
                seq,
                _enc.encode(body),
            ),
        )
    elif isinstance(body, AlertRaised):
        conn.execute(
            "INSERT OR REPLACE INTO alerts(id, track_id, origin, channel, message_id, raised_at, "
            "updated_at, revision, kind, closed, raw) VALUES (?, ?, ?, ?, ?, ?, ?, 0, 'raised', "
            "0, ?)",
            (
                body.alert_id,
                body.track_id,
                env.origin,
                body.channel,
                body.message_id,
                body.at,
                body.at,
                _enc.encode(body),
            ),
        )
    elif isinstance(body, AlertUpdated):
        conn.execute(
            "UPDATE alerts SET track_id = ?, updated_at = ?, revision = ?, kind = ?, closed = ?, "
            "raw = ? WHERE id = ? AND revision < ?",
            (
                body.track_id,
                body.at,
                body.revision,
                body.kind,
                int(body.kind == "closed"),
                _enc.encode(body),
                body.alert_id,
                body.revision,
            ),
        )


# ---- queries -----------------------------------------------------------------------------------


def reports_after(conn: sqlite3.Connection, cursor: int, limit: int) -> list[ReportRow]:
    rows: list[ReportRow] = conn.execute(
        "SELECT id, nation, sensor, uid, time, lat, lon, hae, ce, le FROM reports "
        "WHERE id > ? ORDER BY id LIMIT ?",
        (cursor, limit),
    ).fetchall()
    return rows


def last_report_id(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT MAX(id) FROM reports").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def newest_report_time(conn: sqlite3.Connection) -> float | None:
    row = conn.execute("SELECT MAX(time) FROM reports").fetchone()
    return float(row[0]) if row and row[0] is not None else None


def cursor_before_time(conn: sqlite3.Connection, t: float) -> int:
    """The fusion cursor that replays every report of time ``>= t`` (restart warm-up)."""
    row = conn.execute("SELECT MIN(id) FROM reports WHERE time >= ?", (t,)).fetchone()
    if row is None or row[0] is None:
        return last_report_id(conn)
    return int(row[0]) - 1


def load_tracks(
    conn: sqlite3.Connection, picture: str, *, live_only: bool = True
) -> list[TrackUpdated]:
    """The tracks of ``picture``, oldest update first (live: not merged or dropped)."""
    where = " AND status NOT IN ('merged', 'dropped')" if live_only else ""
    return [
        _track.decode(raw)
        for (raw,) in conn.execute(
            f"SELECT raw FROM tracks WHERE picture = ?{where} ORDER BY event_seq", (picture,)
        )
    ]


def load_alerts(conn: sqlite3.Connection, *, open_only: bool) -> list[dict[str, Any]]:
    where = " WHERE closed = 0" if open_only else ""
    out = []
    for row in conn.execute(
        "SELECT id, track_id, origin, channel, message_id, raised_at, updated_at, revision, "
        f"kind, closed, raw FROM alerts{where} ORDER BY raised_at"
    ):
        out.append(
            {
                "alert_id": row[0],
                "track_id": row[1],
                "origin": row[2],
                "channel": row[3],
                "message_id": row[4],
                "raised_at": row[5],
                "updated_at": row[6],
                "revision": row[7],
                "kind": row[8],
                "closed": bool(row[9]),
                "latest": _alert.decode(row[10]),
            }
        )
    return out


def last_event_seq(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT MAX(seq) FROM events").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def published_after(
    conn: sqlite3.Connection, seq: int, limit: int
) -> tuple[int, list[tuple[int, Envelope]]]:
    """Track and alert events stored after ``seq`` (own and peers'), in store order, at most
    ``limit``; and how far the log was scanned: the last row's ``seq`` if ``limit`` rows came,
    else the log's end (the next call's ``seq``). The scan stops at the log's end as read
    first, so that each stored event is scanned once whatever its type: a cursor left at the
    last track event would rescan every later message at every call (one writer commits in
    order, so an event at or below that end is already visible)."""
    top = last_event_seq(conn)
    if top <= seq:
        return seq, []
    marks = ",".join("?" * len(PUBLISHED_TYPES))
    rows = [
        (int(s), decode_envelope(raw))
        for s, raw in conn.execute(
            f"SELECT seq, raw FROM events WHERE seq > ? AND seq <= ? AND type IN ({marks}) "
            "ORDER BY seq LIMIT ?",
            (seq, top, *PUBLISHED_TYPES, limit),
        )
    ]
    return (rows[-1][0] if len(rows) == limit else top), rows
