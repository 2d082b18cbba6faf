"""Immutable events: the truth of every node.

An ``Envelope`` wraps one event body (a tagged union, so one decoder validates them all).
The node where an event starts (its ``origin``) signs the envelope's canonical bytes with its
Ed25519 key; ``rel_to`` lists the nations that may ever hold the event, and both the origin's
egress and the receiver's ingress enforce it (``domain.releasability``).

Event bodies are facts in the past tense. Consultation, warning-data and record events join
the union in their own modules' issues; keep tags stable, they are stored and federated.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from hotline.domain.cadence import MeetingHeld
from hotline.domain.consultation_events import (
    ConsultationAcknowledged,
    ConsultationConvened,
    ConsultationEscalated,
    ConsultationInvoked,
    PhaseChanged,
    PositionGiven,
    StatementAdopted,
    StatementApproved,
    StatementDrafted,
)
from hotline.domain.ids import (
    ChannelId,
    Classification,
    EventId,
    Handle,
    MessageId,
    NationCode,
    Precedence,
)
from hotline.domain.warning_events import (
    AlertRaised,
    AlertUpdated,
    ReportsReceived,
    TrackUpdated,
)


class MessageSent(msgspec.Struct, frozen=True, kw_only=True, tag="message_sent"):
    message_id: MessageId
    channel: ChannelId
    sender: Handle
    nation: NationCode
    precedence: Precedence
    classification: Classification
    rel_to: tuple[NationCode, ...]
    body: str
    sent_at: float
    template: str | None = None
    #: Reserved for end-to-end encryption (key id and scheme); empty in v1.
    enc: str = ""


class MessageDelivered(msgspec.Struct, frozen=True, kw_only=True, tag="message_delivered"):
    """The message is durable at ``nation``'s node and on its way to its officials."""

    message_id: MessageId
    nation: NationCode
    at: float


class MessagesDelivered(msgspec.Struct, frozen=True, kw_only=True, tag="messages_delivered"):
    """The messages are durable at ``nation``'s node: one receipt for many messages.

    A receiving node signs one of these per applied stream batch and releasability (the
    messages of one batch that share a ``rel_to``), instead of one ``MessageDelivered`` per
    message: under load a batch holds tens of messages, and every receipt is an event signed
    once and verified by every other nation. Each id means exactly what a ``MessageDelivered``
    of it would (``each``).
    """

    message_ids: Annotated[tuple[MessageId, ...], msgspec.Meta(min_length=1)]
    nation: NationCode
    at: float

    def each(self) -> list[MessageDelivered]:
        return [
            MessageDelivered(message_id=m, nation=self.nation, at=self.at) for m in self.message_ids
        ]


class MessageRead(msgspec.Struct, frozen=True, kw_only=True, tag="message_read"):
    """An official of ``nation`` first opened the message."""

    message_id: MessageId
    nation: NationCode
    by: Handle
    at: float


class MessageAcknowledged(msgspec.Struct, frozen=True, kw_only=True, tag="message_acknowledged"):
    """``nation`` acknowledged the message; ``by`` is the official who did."""

    message_id: MessageId
    nation: NationCode
    by: Handle
    at: float


class MessageEscalated(msgspec.Struct, frozen=True, kw_only=True, tag="message_escalated"):
    """``nation`` missed an acknowledgment deadline; ``notified`` are called at ``level``.

    Levels: 0 principal, 1 alternates, 2 the nation's ops centre; every later step re-notifies
    the ops centre (``level`` keeps counting) until the message is acknowledged.
    """

    message_id: MessageId
    nation: NationCode
    level: int
    notified: tuple[Handle, ...]
    at: float
    next_at: float


class LinkTestSent(msgspec.Struct, frozen=True, kw_only=True, tag="link_test_sent"):
    test_id: str
    to: NationCode
    at: float


class LinkTestAnswered(msgspec.Struct, frozen=True, kw_only=True, tag="link_test_answered"):
    test_id: str
    #: The nation that sent the test (the answer travels back to it).
    to: NationCode
    at: float


class LinkTestMissed(msgspec.Struct, frozen=True, kw_only=True, tag="link_test_missed"):
    test_id: str
    peer: NationCode
    sent_at: float
    at: float


EventBody = (
    MessageSent
    | MessageDelivered
    | MessagesDelivered
    | MessageRead
    | MessageAcknowledged
    | MessageEscalated
    | LinkTestSent
    | LinkTestAnswered
    | LinkTestMissed
    | ConsultationInvoked
    | ConsultationAcknowledged
    | ConsultationConvened
    | PositionGiven
    | ConsultationEscalated
    | PhaseChanged
    | StatementDrafted
    | StatementApproved
    | StatementAdopted
    | MeetingHeld
    | ReportsReceived
    | TrackUpdated
    | AlertRaised
    | AlertUpdated
)


class Envelope(msgspec.Struct, frozen=True, kw_only=True):
    id: EventId
    origin: NationCode
    at: float
    rel_to: tuple[NationCode, ...]
    body: EventBody
    #: base64url Ed25519 signature by ``origin`` over ``signing_bytes(envelope)``.
    sig: str = ""

    @property
    def type(self) -> str:
        return type(self.body).__struct_config__.tag  # type: ignore[return-value]


_canonical = msgspec.json.Encoder(order="sorted")
_decoder = msgspec.json.Decoder(Envelope)


def signing_bytes(env: Envelope) -> bytes:
    """Deterministic bytes the origin signs: the envelope with ``sig`` empty, keys sorted."""
    return _canonical.encode(msgspec.structs.replace(env, sig=""))


def encode_envelope(env: Envelope) -> bytes:
    return _canonical.encode(env)


def decode_envelope(raw: bytes | str) -> Envelope:
    """Strict decode; raises ``msgspec.ValidationError`` / ``DecodeError`` on bad input."""
    return _decoder.decode(raw)
