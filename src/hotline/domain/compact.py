"""The compact: one coalition's parties, layers, officials, channels, treaties and rules.

A pure, validated value. ``hotline.compacts.load_compact`` builds it from a TOML file and
reports every mistake with file, line and field; everything else only reads it.
"""

from __future__ import annotations

from functools import cached_property

import msgspec

from hotline.domain.ids import (
    ChannelId,
    Classification,
    Handle,
    Layer,
    NationCode,
    Precedence,
)
from hotline.domain.sharing import Sharing


class Party(msgspec.Struct, frozen=True, kw_only=True):
    code: NationCode
    name: str
    timezone: str = "UTC"
    #: Pinned trust for federation: SHA-256 fingerprint (hex) of the party's national CA
    #: certificate, and its Ed25519 event-signing public key (base64). Empty until pinned.
    ca_fingerprint: str = ""
    signing_key: str = ""
    #: Where the party's node listens for federation (``host:port``); empty if unknown.
    federation: str = ""


class Official(msgspec.Struct, frozen=True, kw_only=True):
    handle: Handle
    nation: NationCode
    layer: Layer
    #: 0 for the principal, 1.. for alternates in the order they are called.
    rank: int
    name: str
    title: str = ""
    clearance: Classification = Classification.TOP_SECRET
    timezone: str = "UTC"


class Channel(msgspec.Struct, frozen=True, kw_only=True):
    id: ChannelId
    layer: Layer
    members: tuple[NationCode, ...]
    #: Highest classification the channel may carry.
    max_classification: Classification = Classification.TOP_SECRET

    @property
    def kind(self) -> str:
        return {1: "national", 2: "bilateral", 3: "trilateral"}.get(
            len(self.members), "multilateral"
        )


class Treaty(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    title: str
    #: ``defend`` (a legal obligation to act) or ``consult`` (to consult only).
    kind: str
    parties: tuple[NationCode, ...]
    article: str = ""
    #: Threatened nations whose attack triggers the treaty; default: every party.
    covers: tuple[NationCode, ...] = ()
    #: True for a legal treaty, False for a political commitment (Camp David 2023).
    legal: bool = True
    text: str = ""

    def triggered_by(self, nation: NationCode) -> bool:
        return nation in (self.covers or self.parties)


class Severity(msgspec.Struct, frozen=True, kw_only=True):
    """Consultation service levels for one severity (seconds)."""

    name: str
    ack_s: float
    convene_s: float


class Meeting(msgspec.Struct, frozen=True, kw_only=True):
    """A recurring meeting or exercise the compact commits to."""

    id: str
    title: str
    #: ``meeting`` or ``exercise``.
    kind: str
    layer: Layer | None = None
    every_days: int = 365


class Cadence(msgspec.Struct, frozen=True, kw_only=True):
    link_test_interval_s: float = 3600.0
    #: How long a link test may go unanswered before both ops centres are alerted.
    link_test_timeout_s: float = 60.0
    meetings: tuple[Meeting, ...] = ()


#: Defaults that a compact may tighten, never loosen (seconds).
DEFAULT_ACK_S: dict[Precedence, float] = {
    Precedence.FLASH: 10 * 60.0,
    Precedence.IMMEDIATE: 30 * 60.0,
    Precedence.PRIORITY: 3 * 3600.0,
    Precedence.ROUTINE: 6 * 3600.0,
}


class Compact(msgspec.Struct, frozen=True, kw_only=True, dict=True):
    id: str
    title: str
    parties: tuple[Party, ...]
    layers: tuple[Layer, ...]
    officials: tuple[Official, ...]
    channels: tuple[Channel, ...]
    treaties: tuple[Treaty, ...]
    #: Acknowledgment deadline per precedence, seconds.
    ack_s: dict[Precedence, float]
    classifications: tuple[Classification, ...] = tuple(Classification)
    severities: tuple[Severity, ...] = ()
    cadence: Cadence = msgspec.field(default_factory=Cadence)
    #: Missile-warning data sharing (``[sharing]``, docs/warning-data.md).
    sharing: Sharing = msgspec.field(default_factory=Sharing)

    # ---- look-ups (cached: a compact is immutable) ----------------------------------------

    @cached_property
    def _party_index(self) -> dict[NationCode, Party]:
        return {p.code: p for p in self.parties}

    @cached_property
    def _official_index(self) -> dict[Handle, Official]:
        return {o.handle: o for o in self.officials}

    @cached_property
    def _channel_index(self) -> dict[ChannelId, Channel]:
        return {c.id: c for c in self.channels}

    @property
    def nations(self) -> tuple[NationCode, ...]:
        return tuple(p.code for p in self.parties)

    def party(self, code: NationCode) -> Party | None:
        return self._party_index.get(code)

    def official(self, handle: Handle) -> Official | None:
        return self._official_index.get(handle)

    def channel(self, cid: ChannelId) -> Channel | None:
        return self._channel_index.get(cid)

    def officials_of(self, nation: NationCode, layer: Layer) -> tuple[Official, ...]:
        """The principal first, then alternates in rank order."""
        return tuple(
            sorted(
                (o for o in self.officials if o.nation == nation and o.layer == layer),
                key=lambda o: o.rank,
            )
        )

    def principal(self, nation: NationCode, layer: Layer) -> Official | None:
        """The rank-0 official of ``nation`` at ``layer`` (``usa.leaders``), if any."""
        return self._official_index.get(Handle(f"{nation.lower()}.{layer}"))

    def severity(self, name: str) -> Severity | None:
        return next((s for s in self.severities if s.name == name), None)

    def treaty(self, treaty_id: str) -> Treaty | None:
        return next((t for t in self.treaties if t.id == treaty_id), None)

    def channels_for(self, nation: NationCode, layer: Layer) -> tuple[Channel, ...]:
        return tuple(c for c in self.channels if c.layer == layer and nation in c.members)

    def nation_order(self, nation: NationCode) -> int:
        """1-based position of the party in the compact (ports of the demo derive from it)."""
        return self.nations.index(nation) + 1
