"""Who may hold an event: one function that the origin's egress and the receiver's ingress call.

An event's ``rel_to`` lists the nations allowed to hold it. A nation left out never receives a
byte of it: the origin keeps it out of that peer's stream, and a receiving node refuses (and
records) an event whose ``rel_to`` does not name it.
"""

from __future__ import annotations

from hotline.domain.events import Envelope
from hotline.domain.ids import NationCode


def may_hold(nation: NationCode, env: Envelope) -> bool:
    return nation in env.rel_to


def peers_for(
    env: Envelope, self_nation: NationCode, parties: tuple[NationCode, ...]
) -> list[NationCode]:
    """The peers (other parties) whose stream must carry ``env``, in compact order."""
    return [p for p in parties if p != self_nation and p in env.rel_to]
