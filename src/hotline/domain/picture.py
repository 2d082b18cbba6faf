"""The track picture as events: fused tracks summarised, and which summaries are due.

The fuser (``hotline.tracks.fusion``) changes tracks at every batch of reports; the picture
shared with officials, TAK clients and peers needs far fewer events. ``due_updates`` picks the
summaries worth an event: a track's first confirmed state, every change of status, phase or
threatened territory, and otherwise at most one update per track every ``min_interval_s``.
Tentative tracks stay inside the node (they are often clutter).

Pure: ``now`` is an argument; ``territory`` is the function that names the party whose land
or waters hold a point (``hotline.tracks`` provides it).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from hotline.domain.ids import NationCode
from hotline.domain.warning_events import ImpactEstimate, TrackUpdated
from hotline.tracks.fusion import Track
from hotline.tracks.geodesy import enu_components

#: A point -> the nation whose zone holds it and the zone (``land``, ``territorial_sea``,
#: ``eez``), or ``(None, None)`` on the high seas.
Territory = Callable[[float, float], tuple[NationCode | None, str | None]]
#: The zones that are a nation's territory (its land and its 12-nmi territorial sea).
TERRITORIAL_ZONES = ("land", "territorial_sea")

COALITION = "coalition"
LOCAL = "local"
PICTURES = (COALITION, LOCAL)
ENDED = ("merged", "dropped")


@dataclass(frozen=True, slots=True)
class PictureParams:
    #: Least node time (s) between two routine updates of one track.
    min_interval_s: float = 1.0
    #: Publish tentative tracks too (off: a track appears once confirmed).
    publish_tentative: bool = False


def no_territory(lat: float, lon: float) -> tuple[NationCode | None, str | None]:
    """The territory function when none is available: every point is on the high seas."""
    return None, None


def summarize(track: Track, picture: str, territory: Territory, at: float) -> TrackUpdated:
    """The event-sized summary of a fused track (see ``TrackUpdated``)."""
    impact = None
    imp = track.impact
    if imp is not None:
        nation, zone = territory(float(imp.lat), float(imp.lon))
        impact = ImpactEstimate(
            lat=float(imp.lat),
            lon=float(imp.lon),
            time=float(imp.time),
            time_sigma_s=float(imp.time_sigma_s),
            semi_major_m=float(imp.semi_major_m),
            semi_minor_m=float(imp.semi_minor_m),
            orientation_deg=float(imp.orientation_deg),
            territory=nation if zone in TERRITORIAL_ZONES else None,
            zone=zone,
            zone_nation=nation,
        )
    p = track.P
    sigma = math.sqrt(max(0.0, float(p[0, 0] + p[1, 1] + p[2, 2])) / 3.0)
    lat, lon, hae = track.geodetic
    e, n, u = enu_components(lat, lon, track.x[3:])
    return TrackUpdated(
        track_id=track.id,
        picture=picture,
        status=str(track.status),
        phase=str(track.phase),
        time=float(track.last_time),
        lat=lat,
        lon=lon,
        hae=hae,
        velocity=(e, n, u),
        sigma_m=sigma,
        nations=tuple(NationCode(x) for x in track.nations),
        sources=tuple(track.sensors),
        n_reports=int(track.n_reports),
        impact=impact,
        merged_into=track.merged_into,
        at=at,
    )


def _territory(t: TrackUpdated) -> NationCode | None:
    return t.impact.territory if t.impact is not None else None


def is_due(
    latest: TrackUpdated, prev: TrackUpdated | None, now: float, params: PictureParams
) -> bool:
    """Whether ``latest`` deserves an event, given the last one published (``prev``)."""
    if prev is None:
        if latest.status in ENDED:
            return False  # never shown: nothing to retract
        return latest.status == "confirmed" or params.publish_tentative
    if prev.status in ENDED:
        return False
    if latest.status != prev.status or latest.phase != prev.phase:
        return True
    if _territory(latest) != _territory(prev):
        return True
    return latest.time > prev.time and now - prev.at >= params.min_interval_s


def due_updates(
    latest: Mapping[str, TrackUpdated],
    published: Mapping[str, TrackUpdated],
    now: float,
    params: PictureParams,
) -> list[TrackUpdated]:
    """The summaries of ``latest`` to publish now, in the order given."""
    return [t for tid, t in latest.items() if is_due(t, published.get(tid), now, params)]
