"""The consultation channels this node knows (``domain.channels``), run on the store's
connections: written by the projection of ``ConsultationInvoked`` (``store/consultations.py``)
in the transaction that applies the invocation, read by the hotline service to resolve and
list channels. The compact's channels are never stored here.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from hotline.domain.channels import NO_CHANNELS, ConsultationChannel
from hotline.domain.compact import Channel
from hotline.domain.ids import ChannelId, Classification, Layer, NationCode

_COLUMNS = "id, consultation_id, layer, members, max_classification, subject, opened_at"
#: A channel with whether its consultation is closed (the consultation's row holds the phase).
_SELECT = (
    "SELECT c.id, c.consultation_id, c.layer, c.members, c.max_classification, c.subject, "
    "c.opened_at, k.phase = 'closed' FROM consultation_channels c "
    "LEFT JOIN consultations k ON k.id = c.consultation_id"
)


def save_channel(conn: sqlite3.Connection, channel: ConsultationChannel) -> None:
    """Record ``channel`` (once: the invocation of a consultation is applied once)."""
    conn.execute(
        f"INSERT OR IGNORE INTO consultation_channels({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            channel.id,
            channel.consultation_id,
            channel.layer.value,
            ",".join(channel.members),
            channel.max_classification.value,
            channel.subject,
            channel.opened_at,
        ),
    )


def load_channel(conn: sqlite3.Connection, cid: str) -> ConsultationChannel | None:
    row = conn.execute(f"{_SELECT} WHERE c.id = ?", (cid,)).fetchone()
    return None if row is None else _channel(row)


def known(conn: sqlite3.Connection, cid: str) -> Mapping[ChannelId, Channel]:
    """``{cid: channel}`` if ``cid`` is a consultation channel this node knows, else empty:
    what ``domain.hotline.channel_for`` resolves ``cid`` against besides the compact."""
    channel = load_channel(conn, cid)
    return NO_CHANNELS if channel is None else {channel.id: channel}


def load_channels(conn: sqlite3.Connection, layer: Layer) -> list[ConsultationChannel]:
    """The consultation channels of ``layer`` this node knows, most recent first."""
    rows = conn.execute(
        f"{_SELECT} WHERE c.layer = ? ORDER BY c.opened_at DESC, c.id", (layer.value,)
    )
    return [_channel(r) for r in rows]


def _channel(row: Any) -> ConsultationChannel:
    cid, consultation_id, layer, members, level, subject, opened_at, closed = row
    return ConsultationChannel(
        id=ChannelId(str(cid)),
        layer=Layer(layer),
        members=tuple(NationCode(m) for m in str(members).split(",")),
        max_classification=Classification(level),
        consultation_id=str(consultation_id),
        subject=str(subject),
        opened_at=float(opened_at),
        closed=bool(closed),
    )
