"""Frames of the node-to-node link (JSON over a mutually authenticated WebSocket).

The connecting node pushes its stream to the node it connects to:

    receiver -> sender   Hello{nation, cursor, last_hash}      where to resume
    sender   -> receiver Batch{items: [StreamItem...], urgent?}  in seq order
    receiver -> sender   Ack{cursor}                            after the batch is durable
    receiver -> sender   Refused{seq, code, reason}             the item is recorded, not applied
    sender   -> receiver Ahead{items: [StreamItem...], urgent?}  urgent items, ahead of the batch

``Ahead`` is the urgent lane: a FLASH message (or a receipt of one) waiting in the backlog is
sent at once, as the same item (seq, prev_hash, signed event) it will be in its batch. The
receiver applies it ahead of its place and answers nothing; when the in-order copy arrives, it
must be the same bytes and only advances the cursor (``docs/federation.md``, "The urgent
lane").
"""

from __future__ import annotations

import msgspec


class StreamItem(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    origin: str
    destination: str
    seq: int
    prev_hash: str  # hex
    #: The signed envelope, canonical JSON, passed through byte for byte (the chain hashes it).
    event: msgspec.Raw


class Ahead(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    tag="ahead",
    forbid_unknown_fields=True,
    omit_defaults=True,
):
    items: list[StreamItem]
    #: As ``Batch.urgent``: the frame holds a FLASH message (not only receipts of one).
    urgent: bool = False


class Hello(msgspec.Struct, frozen=True, kw_only=True, tag="hello"):
    nation: str
    cursor: int
    last_hash: str


class Batch(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    tag="batch",
    forbid_unknown_fields=True,
    omit_defaults=True,
):
    items: list[StreamItem]
    #: The batch holds the sender's latest FLASH message: a hint that the receiver commits it
    #: before its other work (``SqliteStore.run``, preempt; ``Inbound._apply`` for the
    #: others). Omitted when false, so that other batches are the bytes they always were.
    urgent: bool = False


class Ack(msgspec.Struct, frozen=True, kw_only=True, tag="ack"):
    cursor: int


class Refused(msgspec.Struct, frozen=True, kw_only=True, tag="refused"):
    seq: int
    code: str
    reason: str


ToReceiver = Batch | Ahead
ToSender = Hello | Ack | Refused

encoder = msgspec.json.Encoder()
to_receiver = msgspec.json.Decoder(ToReceiver)
to_sender = msgspec.json.Decoder(ToSender)
