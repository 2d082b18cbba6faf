"""What a receiving node checks before it applies an item of a peer's stream (pure).

In order: the item claims the origin the TLS certificate proved; it is addressed to us; its
``seq`` is the next one; its ``prev_hash`` continues the chain; the envelope inside decodes, has
that origin and a valid signature by the origin's pinned key; the event acts only for its
origin's nation (a message of its officials, its own receipts and escalations); we may hold it
(releasability, checked again at ingress). The first failure raises; the caller records it and
applies nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import msgspec

from hotline.domain.events import (
    Envelope,
    MessageAcknowledged,
    MessageDelivered,
    MessageEscalated,
    MessageRead,
    MessagesDelivered,
    MessageSent,
    decode_envelope,
)
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


class NotUrgent(FederationError):
    """An item sent ahead of its place that may not overtake its stream."""

    code = "not_urgent"


class AheadMismatch(FederationError):
    """The in-order copy of an item applied ahead is not the same bytes."""

    code = "ahead_mismatch"


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
    _check_link(item, peer, self_nation)
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
    env = _check_event(item, raw, peer, self_nation, verify)
    return env, link_hash(cursor.last_hash, peer, self_nation, item.seq, raw)


def check_copy(
    item: StreamItem,
    *,
    digest: bytes,
    peer: NationCode,
    self_nation: NationCode,
    cursor: Cursor,
) -> tuple[Envelope, bytes]:
    """``check_item`` for the in-order copy of an item applied ahead of its place, whose
    SHA-256 ``digest`` was kept then: it must be the very same bytes (``AheadMismatch``
    otherwise), in its place in the chain. Its signature is not verified again: the same bytes
    carry the same signature, verified when the item was applied ahead."""
    env, new_hash = check_item(
        item, peer=peer, self_nation=self_nation, cursor=cursor, verify=_verified_ahead
    )
    if hashlib.sha256(bytes(item.event)).digest() != digest:
        raise AheadMismatch(
            f"{peer} seq {item.seq}: the item differs from the one {peer} sent ahead of its "
            "place (two different events signed for one seq)"
        )
    return env, new_hash


def _verified_ahead(env: Envelope) -> None:
    """The signature check of a copy whose bytes were verified when applied ahead: none."""


def check_ahead(
    item: StreamItem,
    *,
    peer: NationCode,
    self_nation: NationCode,
    cursor: Cursor,
    verify: Callable[[Envelope], None],
    urgent: Callable[[Envelope], bool | None],
) -> Envelope | None:
    """The envelope of an item sent ahead of its place (the urgent lane), or None if the
    stream has already reached it (the in-order copy won the race: nothing to do), or if
    ``urgent`` cannot tell (a receipt of a message this node does not hold yet: the in-order
    copy will come in its place).

    Every check of ``check_item`` but the chain's (its ``prev_hash`` is checked when the
    in-order copy arrives), and ``urgent(env)``: only what the receiver's own rule lets
    overtake may (``NotUrgent`` otherwise), so a peer cannot reorder the rest of its stream.
    """
    _check_link(item, peer, self_nation)
    if item.seq <= cursor.seq:
        return None
    env = _check_event(item, bytes(item.event), peer, self_nation, verify)
    verdict = urgent(env)
    if verdict is None:
        return None
    if not verdict:
        raise NotUrgent(
            f"{peer} seq {item.seq}: event {env.id} ({env.type}) was sent ahead of its place; "
            "only a FLASH message on a channel of the compact, or a receipt of one, may be"
        )
    return env


def _check_link(item: StreamItem, peer: NationCode, self_nation: NationCode) -> None:
    """The item is the authenticated peer's, and addressed to us."""
    if item.origin != peer:
        raise WrongOrigin(
            f"item {item.seq} claims origin {item.origin} on {peer}'s authenticated link"
        )
    if item.destination != self_nation:
        raise WrongOrigin(f"item {item.seq} is addressed to {item.destination}, not {self_nation}")


def _check_event(
    item: StreamItem,
    raw: bytes,
    peer: NationCode,
    self_nation: NationCode,
    verify: Callable[[Envelope], None],
) -> Envelope:
    """The item's event: well formed, the peer's own, signed by it, for us to hold."""
    try:
        env = decode_envelope(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise BadRequest(f"{peer} seq {item.seq}: malformed event: {exc}") from None
    if env.origin != peer:
        raise WrongOrigin(f"{peer} seq {item.seq}: event {env.id} claims origin {env.origin}")
    verify(env)
    _check_author(env, item.seq)
    if not may_hold(self_nation, env):
        raise NotReleasable(
            f"{peer} seq {item.seq}: event {env.id} is releasable to {', '.join(env.rel_to)}, "
            f"not {self_nation}"
        )
    return env


def _check_author(env: Envelope, seq: int) -> None:
    """A node speaks only for its own nation: a message its officials sent, its own receipts
    and escalations (a peer's valid signature on "JPN acknowledged" is still not JPN's word)."""
    body = env.body
    if isinstance(
        body,
        MessageSent
        | MessageDelivered
        | MessagesDelivered
        | MessageRead
        | MessageAcknowledged
        | MessageEscalated,
    ) and (body.nation != env.origin):
        raise WrongOrigin(
            f"{env.origin} seq {seq}: event {env.id} from {env.origin} acts for {body.nation}"
        )
    if isinstance(body, MessageSent):
        if not body.sender.startswith(f"{env.origin.lower()}."):
            raise WrongOrigin(
                f"{env.origin} seq {seq}: message {body.message_id} names sender {body.sender},"
                f" not an official of {env.origin}"
            )
        if tuple(body.rel_to) != tuple(env.rel_to):
            raise NotReleasable(
                f"{env.origin} seq {seq}: message {body.message_id} is releasable to "
                f"{', '.join(body.rel_to)} but its envelope to {', '.join(env.rel_to)}"
            )
