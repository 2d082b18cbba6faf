"""Missile-warning data sharing: the compact's ``[sharing]`` section and who may hold what.

Three kinds of warning data travel between nodes, each under its own rule:

* **raw sensor reports** (``ReportsReceived``): each party's go to the parties that
  ``raw_reports_to`` names for it (its own node always holds them). Camp David: every party's
  raw reports go to the United States only, as the real arrangement links the US-Japan and
  US-ROK systems through US systems, not Japan's and Korea's with each other;
* **fused tracks and impact predictions** (``TrackUpdated`` of the coalition picture): from the
  ``track_authority`` to ``tracks_to`` (``"all"`` by default);
* **alerts** (``AlertRaised`` / ``AlertUpdated`` and their FLASH messages): to the members of
  ``alert_channel``.

The functions here compute the ``rel_to`` of each; the origin's egress and every receiver's
ingress then enforce it through ``domain.releasability`` like any other event.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from hotline.domain.ids import ChannelId, Classification, NationCode

#: Kinds of sensors a compact may list.
SENSOR_KINDS: tuple[str, ...] = ("radar", "ship", "satellite", "other")


class Sensor(msgspec.Struct, frozen=True, kw_only=True):
    """A sensor that may report: ``id`` is what reports name in their ``sensor`` field.

    ``lat``/``lon`` degrees WGS-84 and ``hae`` metres of the site (a ship's nominal station);
    ``host`` the nation whose territory hosts it when not its own (a US radar in Japan).
    """

    id: str
    nation: NationCode
    kind: str
    name: str
    lat: float
    lon: float
    hae: float = 0.0
    host: NationCode | None = None


class Sharing(msgspec.Struct, frozen=True, kw_only=True):
    """The ``[sharing]`` section of a compact (``docs/warning-data.md``).

    ``raw_reports_to``: per origin nation, the other parties that receive its raw reports.
    ``tracks_to``: parties that receive the coalition picture. ``track_authority``: the node
    that fuses the coalition picture and raises the automatic alerts (None: every node fuses
    only its own picture and no automatic alert is raised). ``alert_channel``: where the
    automatic FLASH messages go. ``classification``: of every warning event and alert.
    """

    raw_reports_to: dict[NationCode, tuple[NationCode, ...]] = msgspec.field(default_factory=dict)
    tracks_to: tuple[NationCode, ...] = ()
    track_authority: NationCode | None = None
    alert_channel: ChannelId | None = None
    classification: Classification = Classification.SECRET
    sensors: tuple[Sensor, ...] = ()

    def sensor(self, nation: NationCode, sensor_id: str) -> Sensor | None:
        """The sensor ``sensor_id`` of ``nation`` (a sensor of another nation is None)."""
        for s in self.sensors:
            if s.id == sensor_id and s.nation == nation:
                return s
        return None

    def sensors_of(self, nation: NationCode) -> tuple[Sensor, ...]:
        return tuple(s for s in self.sensors if s.nation == nation)


def _in_order(nations: set[NationCode], parties: Sequence[NationCode]) -> tuple[NationCode, ...]:
    return tuple(p for p in parties if p in nations)


def raw_rel_to(
    sharing: Sharing, origin: NationCode, parties: Sequence[NationCode]
) -> tuple[NationCode, ...]:
    """Who may hold ``origin``'s raw reports: itself and its ``raw_reports_to``."""
    return _in_order({origin, *sharing.raw_reports_to.get(origin, ())}, parties)


def tracks_rel_to(
    sharing: Sharing, origin: NationCode, parties: Sequence[NationCode]
) -> tuple[NationCode, ...]:
    """Who may hold the tracks ``origin`` fuses: ``tracks_to`` if it is the authority (the
    coalition picture), else only itself (its local picture never leaves its node)."""
    if sharing.track_authority == origin:
        return _in_order({origin, *sharing.tracks_to}, parties)
    return (origin,)


def is_authority(sharing: Sharing, nation: NationCode) -> bool:
    return sharing.track_authority == nation


def holds_raw_reports_of(
    sharing: Sharing, nation: NationCode, parties: Sequence[NationCode]
) -> tuple[NationCode, ...]:
    """The parties whose raw reports ``nation``'s node receives (itself included)."""
    return tuple(p for p in parties if nation in raw_rel_to(sharing, p, parties))
