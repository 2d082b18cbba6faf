"""Automatic missile warnings: when a track raises, updates, escalates or closes its alert.

One alert per missile, raised only by the compact's track authority (the node that fuses
every party's raw reports), so the coalition gets one alert, not one per node:

=============  ======================================================  =================
action         when                                                    what is sent
=============  ======================================================  =================
``raise``      a coalition track is first confirmed (a launch)         FLASH + AlertRaised
``threat``     its predicted impact enters a party's territory that    FLASH + AlertUpdated
               no FLASH of this alert named yet
``update``     the prediction moved (centre, time, ellipse size) or    AlertUpdated
               the phase changed, at most every ``min_interval_s``
``retracked``  the track merged into one that has no alert: the        AlertUpdated
               alert follows the surviving track
``closed``     the track ended (impact, merged, lost)                  AlertUpdated
=============  ======================================================  =================

Updates are alert *events* (``{"type": "alert"}`` on the officials' streams, CoT to TAK
clients), not new messages: a FLASH is repeated only for a newly threatened party.

Pure: ``now`` and the new message id are arguments.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from hotline.domain.ids import MessageId, NationCode
from hotline.domain.warning_events import ImpactEstimate, TrackUpdated

RAISE, THREAT, UPDATE, RETRACKED, CLOSED = "raise", "threat", "update", "retracked", "closed"


@dataclass(frozen=True, slots=True)
class AlertParams:
    #: Least time (s) between two ``update`` revisions of one alert.
    min_interval_s: float = 5.0
    #: The predicted centre moved at least this far (m) ...
    move_m: float = 5_000.0
    #: ... or this fraction of the previous ellipse's semi-major axis, whichever is larger.
    move_fraction: float = 0.5
    #: The predicted time changed by at least this (s).
    time_change_s: float = 5.0
    #: The ellipse's semi-major axis changed by at least this fraction.
    size_change: float = 0.3


@dataclass(frozen=True, slots=True)
class AlertState:
    alert_id: str
    track_id: str
    message_id: MessageId
    raised_at: float
    revision: int
    updated_at: float
    phase: str
    impact: ImpactEstimate | None
    threatened: tuple[NationCode, ...]
    closed: bool = False


@dataclass(frozen=True, slots=True)
class AlertAction:
    kind: str
    state: AlertState
    #: The FLASH text to send (``raise`` and ``threat``), else None.
    flash: str | None = None


def usable_impact(track: TrackUpdated) -> ImpactEstimate | None:
    """The track's impact prediction, unless it is still in boost: thrust is not modelled, so
    a powered missile's "impact" is no prediction at all (and must not FLASH a party)."""
    return None if track.phase == "boost" else track.impact


def alert_id_of(track_id: str) -> str:
    """Deterministic: ``trk-1a2b…`` -> ``alr-1a2b…``."""
    return "alr-" + track_id.removeprefix("trk-")


def _distance_m(a: ImpactEstimate, b: ImpactEstimate) -> float:
    """Great-circle distance (m) on a sphere of the Earth's mean radius: for change tests."""
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dl = math.radians(b.lon - a.lon)
    c = math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(dl)
    return 6_371_008.8 * math.acos(max(-1.0, min(1.0, c)))


def moved(prev: ImpactEstimate | None, new: ImpactEstimate | None, p: AlertParams) -> bool:
    """Whether the prediction changed enough to tell the officials again."""
    if prev is None or new is None:
        return (prev is None) != (new is None)
    if _distance_m(prev, new) >= max(p.move_m, p.move_fraction * prev.semi_major_m):
        return True
    if abs(new.time - prev.time) >= p.time_change_s:
        return True
    size = max(prev.semi_major_m, 1.0)
    return abs(new.semi_major_m - prev.semi_major_m) / size >= p.size_change


def decide(
    state: AlertState | None,
    track: TrackUpdated,
    now: float,
    params: AlertParams,
    *,
    message_id: MessageId,
    names: Mapping[NationCode, str],
    states: Mapping[str, AlertState] | None = None,
) -> AlertAction | None:
    """What the alert of ``track`` (a coalition track) does now, or None.

    ``message_id`` is used if a FLASH is sent; ``names`` are the parties' names for the text;
    ``states`` all alerts by track id (to follow a merge).
    """
    impact = usable_impact(track)
    territory = impact.territory if impact is not None else None
    if territory not in names:
        territory = None  # a non-party's territory raises no threat FLASH (it is in the text)
    if state is None:
        if track.status != "confirmed":
            return None
        threatened = (territory,) if territory else ()
        new = AlertState(
            alert_id=alert_id_of(track.track_id),
            track_id=track.track_id,
            message_id=message_id,
            raised_at=now,
            revision=0,
            updated_at=now,
            phase=track.phase,
            impact=impact,
            threatened=threatened,
        )
        return AlertAction(RAISE, new, launch_text(new, track, now, names))
    if state.closed:
        return None
    if track.status in ("merged", "dropped"):
        survivor = track.merged_into
        others = states or {}
        if track.status == "merged" and survivor and survivor not in others:
            new = replace(state, track_id=survivor, revision=state.revision + 1, updated_at=now)
            return AlertAction(RETRACKED, new)
        return AlertAction(
            CLOSED, replace(state, revision=state.revision + 1, updated_at=now, closed=True)
        )
    if territory is not None and territory not in state.threatened:
        new = replace(
            state,
            revision=state.revision + 1,
            updated_at=now,
            phase=track.phase,
            impact=impact,
            threatened=(*state.threatened, territory),
        )
        return AlertAction(THREAT, new, threat_text(new, track, territory, now, names))
    changed = track.phase != state.phase or moved(state.impact, impact, params)
    if changed and now - state.updated_at >= params.min_interval_s:
        new = replace(
            state,
            revision=state.revision + 1,
            updated_at=now,
            phase=track.phase,
            impact=impact,
        )
        return AlertAction(UPDATE, new)
    return None


# ---- the FLASH texts ---------------------------------------------------------------------------


def _clock(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%H:%M:%SZ")


def _latlon(lat: float, lon: float) -> str:
    ns = "N" if lat >= 0 else "S"
    ew = "E" if lon >= 0 else "W"
    return f"{abs(lat):.2f}°{ns} {abs(lon):.2f}°{ew}"


def impact_text(impact: ImpactEstimate | None, now: float, names: Mapping[NationCode, str]) -> str:
    """``Predicted impact 39.71°N 130.56°E, 95 % ellipse 1.9 × 0.8 km ..., in 312 s, ...``."""
    if impact is None:
        return "Predicted impact: pending (powered flight, or not yet computed)."
    zone_of = {"land": "land", "territorial_sea": "territorial sea"}
    if impact.territory:
        name = names.get(impact.territory, impact.territory)
        where = f"in the territory of {name} ({zone_of.get(impact.zone or '', 'territory')})"
    elif impact.zone == "eez" and impact.zone_nation:
        name = names.get(impact.zone_nation, impact.zone_nation)
        where = f"in the exclusive economic zone of {name}, outside its territory"
    else:
        where = "outside every nation's territory and exclusive economic zone"
    return (
        f"Predicted impact {_latlon(impact.lat, impact.lon)}, 95 % ellipse "
        f"{2 * impact.semi_major_m / 1000:.1f} × {2 * impact.semi_minor_m / 1000:.1f} km "
        f"(major axis {impact.orientation_deg:.0f}° from north), at {_clock(impact.time)} "
        f"± {impact.time_sigma_s:.0f} s, in {max(0.0, impact.time - now):.0f} s; {where}."
    )


def launch_text(
    state: AlertState, track: TrackUpdated, now: float, names: Mapping[NationCode, str]
) -> str:
    return (
        f"AUTOMATIC MISSILE WARNING: launch detected, track {track.track_id} "
        f"({track.phase} phase, {track.hae / 1000:.0f} km altitude at {_clock(track.time)}; "
        f"sources {', '.join(track.sources)}). "
        f"{impact_text(state.impact, now, names)} "
        f"Updates follow on the alert stream (alert {state.alert_id})."
    )


def threat_text(
    state: AlertState,
    track: TrackUpdated,
    territory: NationCode,
    now: float,
    names: Mapping[NationCode, str],
) -> str:
    return (
        f"AUTOMATIC MISSILE WARNING: IMPACT PREDICTED IN {names.get(territory, territory).upper()} "
        f"({territory}), track {track.track_id}. {impact_text(state.impact, now, names)} "
        f"Alert {state.alert_id}, first warning {state.message_id}."
    )
