"""The hotline rules: who may send what where, receipts, acknowledgment deadlines, escalation.

Pure: every function takes the compact, the state and ``now`` (epoch seconds, UTC) and returns
values. The shell stores the events, pushes them and schedules the next deadline.

Escalation (per recipient nation, computed only by that nation's own node, because the
officials to call are its own):

=====  =========================  ===============================================
level  when                       who is notified
=====  =========================  ===============================================
0      on delivery                the principal (and every member of the channel)
1      ``sent_at + 1·ack_s``      the alternates of the channel's layer
2      ``sent_at + 2·ack_s``      the nation's ops centre (principal + alternates)
3+     every further ``ack_s``    ops centre, principal and alternates again
=====  =========================  ===============================================

``ack_s`` is the compact's acknowledgment deadline for the message's precedence (FLASH 10 min,
IMMEDIATE 30 min, PRIORITY 3 h, ROUTINE 6 h by default).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import msgspec

from hotline.domain.channels import NO_CHANNELS, ConsultationChannel, resolve
from hotline.domain.compact import Channel, Compact, Official
from hotline.domain.events import (
    MessageAcknowledged,
    MessageDelivered,
    MessageEscalated,
    MessageRead,
    MessagesDelivered,
    MessageSent,
)
from hotline.domain.ids import (
    ChannelId,
    Classification,
    Handle,
    Layer,
    MessageId,
    NationCode,
    Precedence,
    channel_id,
)
from hotline.errors import (
    BadClassification,
    BadPrecedence,
    Conflict,
    ConsultationClosed,
    Forbidden,
    Invalid,
    NotAMember,
    NotCleared,
    NotFound,
    NotReleasable,
)

MAX_BODY_CHARS = 64_000


# ---- what an official may do ------------------------------------------------------------


def channel_for(
    compact: Compact,
    official: Official,
    cid: str,
    known: Mapping[ChannelId, Channel] = NO_CHANNELS,
) -> Channel:
    """The channel ``cid`` if ``official`` belongs to it; NotFound / NotAMember otherwise.

    ``cid`` is the compact's or one of the consultation channels ``known`` at the node
    (``domain.channels``): the same rules hold on both.
    """
    channel = resolve(compact, cid, known)
    if channel is None:
        raise NotFound(
            f"no channel '{cid}' in compact {compact.id} or among the consultations this "
            "node holds",
            code="unknown_channel",
        )
    if official.layer != channel.layer or official.nation not in channel.members:
        raise NotAMember(f"{official.handle} is not a member of {channel.id}")
    return channel


_PRECEDENCES = {p.value: p for p in Precedence}


def parse_precedence(value: str) -> Precedence:
    precedence = _PRECEDENCES.get(value)
    if precedence is None:
        allowed = ", ".join(p.value for p in Precedence)
        raise BadPrecedence(f"precedence '{value}' is not one of {allowed}")
    return precedence


def parse_classification(value: str) -> Classification:
    try:
        return Classification(value)
    except ValueError:
        allowed = ", ".join(c.value for c in Classification)
        raise BadClassification(f"classification '{value}' is not one of {allowed}") from None


def compose(
    compact: Compact,
    official: Official,
    cid: str,
    *,
    message_id: MessageId,
    precedence: str,
    body: str,
    classification: str | None,
    rel_to: Sequence[str] | None,
    template: str | None,
    now: float,
    known: Mapping[ChannelId, Channel] = NO_CHANNELS,
) -> MessageSent:
    """Validate a send and return the ``MessageSent`` event (not yet stored).

    ``known``: the consultation channels of the node (see ``channel_for``). Raises NotFound
    (unknown channel), NotAMember, BadPrecedence, BadClassification, NotCleared (above the
    sender's clearance or the channel's maximum), NotReleasable (``rel_to`` wider than the
    channel or leaving out the sender's nation), Invalid (body), ConsultationClosed (the
    channel of a closed consultation).
    """
    channel = channel_for(compact, official, cid, known)
    if isinstance(channel, ConsultationChannel) and channel.closed:
        base = channel_id(channel.layer.value, channel.members)
        raise ConsultationClosed(
            f"consultation {channel.consultation_id} is closed: {channel.id} keeps its history "
            f"but takes no new message; send on {base}"
        )
    prec = parse_precedence(precedence)
    level = (
        parse_classification(classification)
        if classification is not None
        else Classification.UNCLASSIFIED
    )
    if level.level > channel.max_classification.level:
        raise BadClassification(
            f"{channel.id} carries at most {channel.max_classification.value}; "
            f"'{level.value}' is above it"
        )
    if level.level > official.clearance.level:
        raise NotCleared(
            f"{official.handle} is cleared to {official.clearance.value}; "
            f"cannot send '{level.value}'"
        )
    if not body.strip():
        raise Invalid("body is empty", code="empty_body")
    if len(body) > MAX_BODY_CHARS:
        raise Invalid(f"body has {len(body)} characters; at most {MAX_BODY_CHARS}")
    return MessageSent(
        message_id=message_id,
        channel=channel.id,
        sender=official.handle,
        nation=official.nation,
        precedence=prec,
        classification=level,
        rel_to=narrow_rel_to(channel, official.nation, rel_to),
        body=body,
        sent_at=now,
        template=template,
    )


def narrow_rel_to(
    channel: Channel, sender_nation: NationCode, rel_to: Sequence[str] | None
) -> tuple[NationCode, ...]:
    """``rel_to`` defaults to the channel's members and can only narrow them (compact order)."""
    if rel_to is None:
        return channel.members
    wanted = {r.upper() for r in rel_to}
    outside = sorted(wanted - set(channel.members))
    if outside:
        raise NotReleasable(
            f"rel_to {', '.join(outside)} is wider than {channel.id} "
            f"(members {', '.join(channel.members)})"
        )
    if sender_nation not in wanted:
        raise NotReleasable(f"rel_to must include the sender's nation {sender_nation}")
    if len(wanted) < 2:
        raise NotReleasable("rel_to must name at least one nation besides the sender's")
    return tuple(m for m in channel.members if m in wanted)


def may_read(official: Official, msg: MessageSent) -> bool:
    """Membership of the channel's layer, nation in ``rel_to``, clearance at least the mark."""
    return (
        official.nation in msg.rel_to
        and official.layer.value == msg.channel.split(".", 1)[0]
        and official.clearance.level >= msg.classification.level
    )


def check_read(official: Official, msg: MessageSent) -> None:
    """Raise NotFound (never reveal a message one may not see) unless ``may_read``."""
    if not may_read(official, msg):
        raise NotFound(f"no message '{msg.message_id}'", code="unknown_message")


# ---- receipts and escalation state -------------------------------------------------------


class Receipt(msgspec.Struct, kw_only=True):
    nation: NationCode
    delivered_at: float | None = None
    read_at: float | None = None
    read_by: Handle | None = None
    acked_at: float | None = None
    acked_by: Handle | None = None
    level: int = 0
    notified: tuple[Handle, ...] = ()
    escalated_at: float | None = None
    next_at: float | None = None


class MessageState(msgspec.Struct, kw_only=True):
    """A message and, per nation in ``rel_to``, its receipt and escalation state."""

    sent: MessageSent
    receipts: dict[NationCode, Receipt]


def ack_deadline(compact: Compact, precedence: Precedence, sent_at: float) -> float:
    return sent_at + compact.ack_s[precedence]


def start(compact: Compact, sent: MessageSent) -> MessageState:
    """State right after ``MessageSent``: the sender's nation has it read and acknowledged."""
    first = ack_deadline(compact, sent.precedence, sent.sent_at)
    receipts = {n: Receipt(nation=n, next_at=first) for n in sent.rel_to}
    own = receipts[sent.nation]
    own.delivered_at = own.read_at = own.acked_at = sent.sent_at
    own.read_by = own.acked_by = sent.sender
    own.next_at = None
    return MessageState(sent=sent, receipts=receipts)


#: What a receipt's messages are, as a node knows them: True if one of them is a FLASH on a
#: channel of the compact, False if none is, None if the node holds none of them.
FlashAmong = Callable[[Sequence[MessageId]], "bool | None"]


def overtakes(compact: Compact, body: object, flash_among: FlashAmong | None = None) -> bool | None:
    """Whether an event may travel ahead of its stream's backlog (federation's urgent lane):
    a FLASH message on a channel of the compact, and a receipt (delivered, read, acknowledged,
    escalated) of one.

    Such a message depends on nothing earlier in its origin's stream: a compact channel exists
    on every node from the start (a consultation channel is created by an earlier event, so
    its messages keep their place). A receipt depends only on its message, which it follows,
    and folding receipts is order-tolerant (``apply_receipt``). Whether a receipt's message is
    such a FLASH is a question for the store (``flash_among``); without it, receipts keep their
    place. None: a receipt of messages this node does not hold (it cannot tell).
    """
    if isinstance(body, MessageSent):
        return body.precedence is Precedence.FLASH and compact.channel(body.channel) is not None
    if flash_among is None:
        return False
    if isinstance(body, MessagesDelivered):
        return flash_among(body.message_ids)
    if isinstance(body, MessageDelivered | MessageRead | MessageAcknowledged | MessageEscalated):
        return flash_among((body.message_id,))
    return False


ReceiptEvent = MessageDelivered | MessageRead | MessageAcknowledged | MessageEscalated


def delivered_receipts(
    nation: NationCode, arrived: Iterable[MessageSent], now: float
) -> list[tuple[MessagesDelivered, list[MessageSent]]]:
    """``nation``'s receipts of the peers' messages that ``arrived``: one ``MessagesDelivered``
    per releasability, with the messages it covers in its order.

    A receipt travels exactly where its messages may (its envelope's ``rel_to`` is theirs), so
    messages of different ``rel_to`` never share one. Each message is covered once, however
    often it is listed (a message recovered on start may also arrive again).
    """
    groups: dict[tuple[NationCode, ...], dict[MessageId, MessageSent]] = {}
    for sent in arrived:
        groups.setdefault(sent.rel_to, {})[sent.message_id] = sent
    return [
        (MessagesDelivered(message_ids=tuple(by_id), nation=nation, at=now), list(by_id.values()))
        for by_id in groups.values()
    ]


def apply(state: MessageState, event: ReceiptEvent) -> MessageState:
    """Fold one receipt or escalation event into the state (in place; returns it)."""
    r = state.receipts.get(event.nation)
    if r is not None:  # an event about a nation the message was not released to: ignored
        apply_receipt(r, event)
    return state


def apply_receipt(r: Receipt, event: ReceiptEvent) -> Receipt:
    """Fold one event into one nation's receipt (in place; returns it).

    Idempotent and order-tolerant: a second delivery, read or ack keeps the first one's time;
    an escalation after the ack, or below the current level, changes nothing.
    """
    # ``is None``, not ``or``: a time of 0.0 is a time (first-applied must win whatever it is).
    if isinstance(event, MessageDelivered):
        if r.delivered_at is None:
            r.delivered_at = event.at
    elif isinstance(event, MessageRead):
        if r.read_at is None:
            r.read_at, r.read_by = event.at, event.by
        if r.delivered_at is None:
            r.delivered_at = event.at
    elif isinstance(event, MessageAcknowledged):
        if r.acked_at is None:
            r.acked_at, r.acked_by = event.at, event.by
        if r.read_at is None:
            r.read_at, r.read_by = event.at, event.by
        if r.delivered_at is None:
            r.delivered_at = event.at
        r.next_at = None
    elif r.acked_at is None and event.level > r.level:
        r.level, r.notified = event.level, event.notified
        r.escalated_at, r.next_at = event.at, event.next_at
    return r


def acknowledge(
    compact: Compact, state: MessageState, official: Official, now: float
) -> MessageAcknowledged:
    """The ack of ``official`` for its nation; Conflict if its nation already acknowledged."""
    check_read(official, state.sent)
    if official.nation == state.sent.nation:
        raise Forbidden(
            f"{state.sent.message_id} was sent by {state.sent.nation}; "
            "only the receiving nations acknowledge it",
            code="own_message",
        )
    r = state.receipts[official.nation]
    if r.acked_at is not None:
        raise Conflict(
            f"{state.sent.message_id} was already acknowledged for {official.nation} "
            f"by {r.acked_by}",
            code="already_acknowledged",
        )
    return MessageAcknowledged(
        message_id=state.sent.message_id, nation=official.nation, by=official.handle, at=now
    )


def mark_read(state: MessageState, official: Official, now: float) -> MessageRead | None:
    """The first read by ``official``'s nation, or None if its nation already read it."""
    check_read(official, state.sent)
    r = state.receipts[official.nation]
    if r.read_at is not None:
        return None
    return MessageRead(
        message_id=state.sent.message_id, nation=official.nation, by=official.handle, at=now
    )


def escalation_targets(
    compact: Compact, nation: NationCode, layer: Layer, level: int
) -> tuple[Handle, ...]:
    """Who is called at ``level`` (see the module table)."""
    people = compact.officials_of(nation, layer)
    principal = tuple(o.handle for o in people[:1])
    alternates = tuple(o.handle for o in people[1:]) or principal
    ops = tuple(o.handle for o in compact.officials_of(nation, Layer.OPS))
    if level <= 0:
        return principal
    if level == 1:
        return alternates
    if level == 2:
        return ops or alternates
    return _unique((*ops, *principal, *alternates))


def _unique(handles: Iterable[Handle]) -> tuple[Handle, ...]:
    return tuple(dict.fromkeys(handles))


def due_escalations(
    compact: Compact, state: MessageState, nation: NationCode, now: float
) -> list[MessageEscalated]:
    """Escalations of ``nation`` due at ``now`` (at most one step per call: the next level).

    Missed steps after a long outage are not replayed one by one: the state jumps to the
    level the elapsed time calls for, so the right people are called once, now.
    """
    r = state.receipts.get(nation)
    if r is None or r.acked_at is not None or nation == state.sent.nation:
        return []
    step_s = compact.ack_s[state.sent.precedence]
    elapsed = now - state.sent.sent_at
    level = int(elapsed // step_s)
    if level <= r.level:
        return []
    layer = Layer(state.sent.channel.split(".", 1)[0])
    return [
        MessageEscalated(
            message_id=state.sent.message_id,
            nation=nation,
            level=level,
            notified=escalation_targets(compact, nation, layer, level),
            at=now,
            next_at=state.sent.sent_at + (level + 1) * step_s,
        )
    ]


def next_deadline(state: MessageState, nation: NationCode) -> float | None:
    """When ``nation`` must next be escalated for this message, or None once acknowledged."""
    r = state.receipts.get(nation)
    if r is None or r.acked_at is not None or nation == state.sent.nation:
        return None
    return r.next_at


def inbox_order(states: Iterable[MessageState]) -> list[MessageState]:
    """Precedence first (FLASH on top), then oldest first within a precedence."""
    return sorted(states, key=lambda s: (s.sent.precedence.rank, s.sent.sent_at))
