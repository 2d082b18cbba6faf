"""The public shapes of tracks, impacts and alerts (API.md ``GET /api/v1/tracks``, streams)."""

from __future__ import annotations

import math
from typing import Any

from hotline.domain.sharing import Sensor
from hotline.domain.warning_events import AlertRaised, AlertUpdated, ImpactEstimate, TrackUpdated
from hotline.service.views import iso


def impact_view(impact: ImpactEstimate | None, now: float | None = None) -> dict[str, Any] | None:
    """``{lat, lon, time, semi_major_m, semi_minor_m, orientation_deg, territory}`` (95 %)."""
    if impact is None:
        return None
    view: dict[str, Any] = {
        "lat": impact.lat,
        "lon": impact.lon,
        "time": iso(impact.time),
        "time_sigma_s": impact.time_sigma_s,
        "semi_major_m": impact.semi_major_m,
        "semi_minor_m": impact.semi_minor_m,
        "orientation_deg": impact.orientation_deg,
        "territory": impact.territory,
        "zone": impact.zone,
        "zone_nation": impact.zone_nation,
    }
    if now is not None:
        view["seconds_to_impact"] = round(impact.time - now, 1)
    return view


def track_view(t: TrackUpdated, origin: str, now: float | None = None) -> dict[str, Any]:
    """``{id, phase, lat, lon, hae, velocity, sources, impact}`` and the rest of the summary.

    ``velocity`` is ``{east, north, up}`` in m/s at the track's position (plus ``speed``).
    """
    e, n, u = t.velocity
    return {
        "id": t.track_id,
        "picture": t.picture,
        "origin": origin,
        "status": t.status,
        "phase": t.phase,
        "time": iso(t.time),
        "lat": t.lat,
        "lon": t.lon,
        "hae": t.hae,
        "velocity": {"east": e, "north": n, "up": u, "speed": math.sqrt(e * e + n * n + u * u)},
        "sigma_m": t.sigma_m,
        "nations": list(t.nations),
        "sources": list(t.sources),
        "n_reports": t.n_reports,
        "impact": impact_view(t.impact, now),
        "merged_into": t.merged_into,
        "updated_at": iso(t.at),
    }


def alert_view(body: AlertRaised | AlertUpdated, origin: str, now: float) -> dict[str, Any]:
    """The ``{"type": "alert"}`` stream event of an alert revision."""
    message_id: str | None
    channel: str | None
    if isinstance(body, AlertRaised):
        kind, revision, message_id, channel = "raised", 0, body.message_id, body.channel
    else:
        kind, revision, message_id, channel = body.kind, body.revision, body.message_id, None
    view: dict[str, Any] = {
        "type": "alert",
        "kind": kind,
        "alert_id": body.alert_id,
        "track_id": body.track_id,
        "revision": revision,
        "origin": origin,
        "phase": body.phase,
        "impact": impact_view(body.impact, now),
        "threatened": list(body.threatened),
        "message_id": message_id,
        "at": iso(body.at),
    }
    if channel is not None:
        view["channel"] = channel
    return view


def sensor_view(s: Sensor) -> dict[str, Any]:
    return {
        "id": s.id,
        "nation": s.nation,
        "kind": s.kind,
        "name": s.name,
        "lat": s.lat,
        "lon": s.lon,
        "hae": s.hae,
        "host": s.host,
    }
