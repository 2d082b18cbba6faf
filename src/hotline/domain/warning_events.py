"""Events of missile-warning data sharing: raw reports, fused tracks, alerts.

Facts in the past tense; the tags are stored and federated, keep them stable. Who may hold
each is decided by ``domain.sharing`` (raw reports, tracks) and the alert channel (alerts).
"""

from __future__ import annotations

import msgspec

from hotline.domain.ids import ChannelId, MessageId, NationCode


class ReportRecord(msgspec.Struct, frozen=True, array_like=True):
    """One validated sensor report (Cursor-on-Target point semantics, ``domain.reports``).

    Encoded as an array ``[uid, sensor, time, lat, lon, hae, ce, le]`` to keep big batches
    small on disk and on the federation link.
    """

    uid: str
    sensor: str
    time: float
    lat: float
    lon: float
    hae: float
    ce: float
    le: float


class ReportsReceived(msgspec.Struct, frozen=True, kw_only=True, tag="reports_received"):
    """``nation``'s node accepted these reports of its own sensors at ``at``."""

    batch_id: str
    nation: NationCode
    reports: tuple[ReportRecord, ...]
    at: float


class ImpactEstimate(msgspec.Struct, frozen=True, kw_only=True):
    """Predicted impact: 95 % ellipse (semi-axes m, major axis clockwise from north, degrees),
    time (epoch s) and its 1-sigma. Where it falls: ``zone`` (``land``, ``territorial_sea``,
    ``eez`` or None for the high seas) of ``zone_nation``; ``territory`` is that nation when the
    zone is its territory (land or territorial sea), else None."""

    lat: float
    lon: float
    time: float
    time_sigma_s: float
    semi_major_m: float
    semi_minor_m: float
    orientation_deg: float
    territory: NationCode | None = None
    zone: str | None = None
    zone_nation: NationCode | None = None


class TrackUpdated(msgspec.Struct, frozen=True, kw_only=True, tag="track_updated"):
    """The state of a fused track at ``time`` (track time, epoch s).

    ``picture``: ``coalition`` (fused by the compact's track authority from every party's raw
    reports; shared with ``tracks_to``) or ``local`` (this node's own fusion; never leaves it).
    ``status``: tentative, confirmed, merged (into ``merged_into``) or dropped.
    ``velocity``: east, north, up (m/s); ``sigma_m``: 1-sigma position error (RMS of the axes).
    ``sources``: ``NATION/sensor`` of every contributing sensor.
    """

    track_id: str
    picture: str
    status: str
    phase: str
    time: float
    lat: float
    lon: float
    hae: float
    velocity: tuple[float, float, float]
    sigma_m: float
    nations: tuple[NationCode, ...]
    sources: tuple[str, ...]
    n_reports: int
    impact: ImpactEstimate | None = None
    merged_into: str | None = None
    at: float


class AlertRaised(msgspec.Struct, frozen=True, kw_only=True, tag="alert_raised"):
    """The track authority raised the automatic alert of a track (one per track) and sent
    FLASH ``message_id`` on ``channel``."""

    alert_id: str
    track_id: str
    channel: ChannelId
    message_id: MessageId
    phase: str
    impact: ImpactEstimate | None
    #: Parties whose territory the predicted impact falls in (FLASHed so far).
    threatened: tuple[NationCode, ...]
    at: float


class AlertUpdated(msgspec.Struct, frozen=True, kw_only=True, tag="alert_updated"):
    """A later revision of an alert.

    ``kind``: ``update`` (the prediction moved), ``threat`` (the predicted impact entered a
    party's territory: a follow-up FLASH ``message_id`` was sent) or ``closed`` (the track
    ended: impact, merged or lost).
    """

    alert_id: str
    track_id: str
    revision: int
    kind: str
    phase: str
    impact: ImpactEstimate | None
    threatened: tuple[NationCode, ...]
    message_id: MessageId | None = None
    at: float


WARNING_EVENTS = (ReportsReceived, TrackUpdated, AlertRaised, AlertUpdated)
WarningEvent = ReportsReceived | TrackUpdated | AlertRaised | AlertUpdated
