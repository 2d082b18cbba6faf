"""Federation's urgent lane, the pure parts: what may overtake a stream (``rules.overtakes``),
what a receiver checks of an item sent ahead of its place (``checks.check_ahead``) and of its
in-order copy (``checks.check_copy``)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence

import msgspec
import pytest

from hotline.compacts import load_compact
from hotline.domain import hotline as rules
from hotline.domain.events import (
    Envelope,
    EventBody,
    MessageAcknowledged,
    MessageEscalated,
    MessagesDelivered,
    MessageSent,
    encode_envelope,
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
from hotline.errors import BadSignature, NotReleasable, WrongOrigin
from hotline.federation import wire
from hotline.federation.checks import (
    AheadMismatch,
    BrokenChain,
    Cursor,
    NotUrgent,
    check_ahead,
    check_copy,
)
from hotline.ledger.chain import GENESIS, link_hash
from hotline.signing import Signer, generate_signing_key, verify_envelope

CAMP_DAVID = load_compact("camp-david")
KOR, USA = NationCode("KOR"), NationCode("USA")
KEY = generate_signing_key()
SIGNER = Signer("KOR", KEY)
ALL = (NationCode("USA"), NationCode("JPN"), NationCode("KOR"))


def message(
    precedence: Precedence = Precedence.FLASH,
    channel: str = "ops.usa-jpn-kor",
    rel_to: tuple[NationCode, ...] = ALL,
) -> MessageSent:
    return MessageSent(
        message_id=MessageId("kor-1"),
        channel=ChannelId(channel),
        sender=Handle("kor.ops"),
        nation=KOR,
        precedence=precedence,
        classification=Classification.SECRET,
        rel_to=rel_to,
        body="launch detected",
        sent_at=1.0,
    )


def envelope(body: EventBody, rel_to: tuple[NationCode, ...] = ALL) -> Envelope:
    env = Envelope(id=EventId("e-kor-1"), origin=KOR, at=time.time(), rel_to=rel_to, body=body)
    return SIGNER.sign_envelope(env)


def item(
    env: Envelope, seq: int = 5, origin: str = "KOR", destination: str = "USA"
) -> wire.StreamItem:
    return wire.StreamItem(
        origin=origin,
        destination=destination,
        seq=seq,
        prev_hash="00" * 32,  # not checked ahead: the in-order copy's chain is
        event=msgspec.Raw(encode_envelope(env)),
    )


def ahead(it: wire.StreamItem, cursor: int = 0, key: object = KEY) -> Envelope | None:
    def verify(env: Envelope) -> None:
        verify_envelope(env, key.public_key())  # type: ignore[attr-defined]

    return check_ahead(
        it,
        peer=KOR,
        self_nation=USA,
        cursor=Cursor(cursor, GENESIS),
        verify=verify,
        urgent=lambda env: rules.overtakes(CAMP_DAVID, env.body),
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (message(), True),
        (message(channel="leaders.usa-kor", rel_to=(USA, KOR)), True),
        (message(Precedence.IMMEDIATE), False),
        (message(Precedence.ROUTINE), False),
        # A consultation's channel is created by an earlier event of the stream.
        (message(channel="consult-kor-1"), False),
        (
            MessageAcknowledged(
                message_id=MessageId("x"), nation=KOR, by=Handle("kor.ops"), at=1.0
            ),
            False,
        ),
    ],
)
def test_only_a_flash_message_on_a_compact_channel_overtakes(body: object, expected: bool) -> None:
    assert rules.overtakes(CAMP_DAVID, body) is expected


def _ack(mid: str = "usa-1") -> MessageAcknowledged:
    return MessageAcknowledged(message_id=MessageId(mid), nation=KOR, by=Handle("kor.ops"), at=1.0)


@pytest.mark.parametrize(
    ("body", "known", "expected"),
    [
        (_ack(), True, True),
        (_ack(), False, False),
        (_ack(), None, None),  # a receipt of a message not held here: cannot tell
        (
            MessagesDelivered(message_ids=(MessageId("a"), MessageId("b")), nation=KOR, at=1.0),
            True,
            True,
        ),
        (
            MessageEscalated(
                message_id=MessageId("a"), nation=KOR, level=1, notified=(), at=1.0, next_at=2.0
            ),
            True,
            True,
        ),
        # A message is judged by itself, whatever the store says.
        (message(Precedence.ROUTINE), True, False),
    ],
)
def test_a_receipt_overtakes_when_its_message_does(
    body: object, known: bool | None, expected: bool | None
) -> None:
    asked: list[tuple[str, ...]] = []

    def flash_among(ids: Sequence[MessageId]) -> bool | None:
        asked.append(tuple(ids))
        return known

    assert rules.overtakes(CAMP_DAVID, body, flash_among) is expected
    if isinstance(body, MessagesDelivered):
        assert asked == [("a", "b")]


def test_a_receipt_of_a_message_not_held_yet_is_passed_over() -> None:
    env = envelope(_ack())

    def verify(e: Envelope) -> None:
        verify_envelope(e, KEY.public_key())

    got = check_ahead(
        item(env),
        peer=KOR,
        self_nation=USA,
        cursor=Cursor(0, GENESIS),
        verify=verify,
        urgent=lambda e: rules.overtakes(CAMP_DAVID, e.body, lambda ids: None),
    )
    assert got is None


def test_a_flash_sent_ahead_passes_every_check_but_the_chain() -> None:
    env = envelope(message())
    assert ahead(item(env)) == env


def test_an_item_the_stream_has_reached_is_passed_over() -> None:
    env = envelope(message())
    assert ahead(item(env, seq=5), cursor=5) is None
    assert ahead(item(env, seq=4), cursor=5) is None


def test_what_may_not_overtake_is_refused() -> None:
    with pytest.raises(NotUrgent, match="only a FLASH message on a channel of the compact"):
        ahead(item(envelope(message(Precedence.ROUTINE))))


def test_the_link_checks_hold_ahead() -> None:
    with pytest.raises(WrongOrigin, match="claims origin JPN"):
        ahead(item(envelope(message()), origin="JPN"))
    with pytest.raises(WrongOrigin, match="addressed to JPN"):
        ahead(item(envelope(message()), destination="JPN"))


def test_a_forged_or_foreign_item_is_refused_ahead() -> None:
    with pytest.raises(BadSignature):
        ahead(item(envelope(message())), key=generate_signing_key())
    secret = envelope(
        message(channel="ops.jpn-kor", rel_to=(NationCode("JPN"), KOR)),
        rel_to=(NationCode("JPN"), KOR),
    )
    with pytest.raises(NotReleasable):
        ahead(item(secret))


# ---- the in-order copy of an item applied ahead --------------------------------------------


def _copy(env: Envelope, seq: int = 1) -> tuple[wire.StreamItem, bytes]:
    """The in-order copy at ``seq`` 1 (chained from GENESIS) and its bytes' digest."""
    raw = encode_envelope(env)
    it = wire.StreamItem(
        origin="KOR", destination="USA", seq=seq, prev_hash=GENESIS.hex(), event=msgspec.Raw(raw)
    )
    return it, hashlib.sha256(raw).digest()


def test_the_copy_of_an_item_applied_ahead_is_not_verified_again() -> None:
    """The same bytes carry the same signature, checked when the item was applied ahead: the
    copy costs no second Ed25519 verification, and still moves the chain."""
    env = envelope(message())
    it, digest = _copy(env)
    got, new_hash = check_copy(
        it, digest=digest, peer=KOR, self_nation=USA, cursor=Cursor(0, GENESIS)
    )
    assert got == env
    assert new_hash == link_hash(GENESIS, KOR, USA, 1, encode_envelope(env))


def test_a_copy_unlike_the_item_applied_ahead_is_refused() -> None:
    """Another event for the seq, even one validly signed, is refused (its signature is not
    what is checked: the digest is)."""
    applied = envelope(message())
    other = msgspec.structs.replace(applied, id=EventId("e-kor-2"))
    it, _ = _copy(SIGNER.sign_envelope(other))
    _, digest = _copy(applied)
    with pytest.raises(AheadMismatch, match="two different events signed for one seq"):
        check_copy(it, digest=digest, peer=KOR, self_nation=USA, cursor=Cursor(0, GENESIS))


def test_the_copy_must_still_be_in_its_place() -> None:
    env = envelope(message())
    it, digest = _copy(env)
    with pytest.raises(BrokenChain):
        check_copy(it, digest=digest, peer=KOR, self_nation=USA, cursor=Cursor(0, b"\x01" * 32))
    with pytest.raises(WrongOrigin, match="addressed to JPN"):
        check_copy(
            msgspec.structs.replace(it, destination="JPN"),
            digest=digest,
            peer=KOR,
            self_nation=USA,
            cursor=Cursor(0, GENESIS),
        )
