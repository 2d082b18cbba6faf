"""Names of the public contract: nations, handles, channels, precedence, classification.

Time in the core is ``float`` seconds since the Unix epoch, UTC (an argument, never read).
"""

from __future__ import annotations

import enum
from typing import NewType

NationCode = NewType("NationCode", str)
"""ISO 3166 alpha-3, upper case: ``USA``."""

Handle = NewType("Handle", str)
"""``usa.leaders`` (principal), ``jpn.nsa.2`` (alternate), ``kor.sensors`` (service account)."""

ChannelId = NewType("ChannelId", str)
"""``<layer>.<members>`` with members in compact order: ``leaders.usa-jpn-kor``; a consultation's
own channel adds its id: ``nsa.usa-jpn-kor.c-7f3c`` (``domain.channels``)."""

MessageId = NewType("MessageId", str)
EventId = NewType("EventId", str)


class Layer(enum.StrEnum):
    LEADERS = "leaders"
    NSA = "nsa"
    FOREIGN = "foreign"
    DEFENSE = "defense"
    OPS = "ops"


LAYERS: tuple[Layer, ...] = tuple(Layer)


class Precedence(enum.StrEnum):
    """Message precedence, highest first. ``rank`` 0 is the most urgent."""

    FLASH = "flash"
    IMMEDIATE = "immediate"
    PRIORITY = "priority"
    ROUTINE = "routine"

    @property
    def rank(self) -> int:
        return _PRECEDENCE_RANK[self]


_PRECEDENCE_RANK = {p: i for i, p in enumerate(Precedence)}


class Classification(enum.StrEnum):
    """Classification levels, lowest first; compare with ``level``."""

    UNCLASSIFIED = "unclassified"
    CONFIDENTIAL = "confidential"
    SECRET = "secret"
    TOP_SECRET = "top_secret"

    @property
    def level(self) -> int:
        return _CLASSIFICATION_LEVEL[self]

    @property
    def banner(self) -> str:
        return self.value.replace("_", " ").upper()


_CLASSIFICATION_LEVEL = {c: i for i, c in enumerate(Classification)}


def nation_of_handle(handle: str) -> NationCode:
    """``jpn.nsa.2`` -> ``JPN``."""
    return NationCode(handle.split(".", 1)[0].upper())


def channel_id(layer: str, members: tuple[NationCode, ...]) -> ChannelId:
    return ChannelId(f"{layer}." + "-".join(m.lower() for m in members))
