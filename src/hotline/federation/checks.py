"""What a receiving node checks before it applies an item of a peer's stream (pure).

In order: the item claims the origin the TLS certificate proved; it is addressed to us; the
envelope inside has that origin and a valid signature by the origin's pinned key; we may hold
it (releasability, checked again at ingress); its ``seq`` is the next one; its ``prev_hash``
continues the chain. The first failure raises; the caller records it and applies nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import msgspec

from hotline.domain.events import Envelope, decode_envelope
from hotline.domain.ids import NationCode
from hotline.domain.releasability import may_hold
from hotline.errors import (
    BadRequest,
    FederationError,
    NotReleasable,
    OutOfOrder,
    Replayed,
    WrongOrigin,
)
from hotline.federation.wire import StreamItem
from hotline.ledger.chain import link_hash


class BrokenChain(FederationError):
    code = "broken_chain"


@dataclass(frozen=True, slots=True)
class Cursor:
    seq: int
    last_hash: bytes


def check_item(
    item: StreamItem,
    *,
    peer: NationCode,
    self_nation: NationCode,
    cursor: Cursor,
    verify: Callable[[Envelope], None],
) -> tuple[Envelope, bytes]:
    """The envelope and the new chain hash; raises the specific FederationError/InputError."""
    if item.origin != peer:
        raise WrongOrigin(
            f"item {item.seq} claims origin {item.origin} on {peer}'s authenticated link"
        )
    if item.destination != self_nation:
        raise WrongOrigin(f"item {item.seq} is addressed to {item.destination}, not {self_nation}")
    if item.seq <= cursor.seq:
        raise Replayed(f"{peer} seq {item.seq} was already applied (cursor {cursor.seq})")
    if item.seq != cursor.seq + 1:
        raise OutOfOrder(f"{peer} seq {item.seq} arrived; expected {cursor.seq + 1}")
    if item.prev_hash != cursor.last_hash.hex():
        raise BrokenChain(
            f"{peer} seq {item.seq}: prev_hash {item.prev_hash[:16]}… does not continue the "
            f"chain at {cursor.last_hash.hex()[:16]}…"
        )
    raw = bytes(item.event)
    try:
        env = decode_envelope(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise BadRequest(f"{peer} seq {item.seq}: malformed event: {exc}") from None
    if env.origin != peer:
        raise WrongOrigin(f"{peer} seq {item.seq}: event {env.id} claims origin {env.origin}")
    verify(env)
    if not may_hold(self_nation, env):
        raise NotReleasable(
            f"{peer} seq {item.seq}: event {env.id} is releasable to {', '.join(env.rel_to)}, "
            f"not {self_nation}"
        )
    return env, link_hash(cursor.last_hash, peer, self_nation, item.seq, raw)
