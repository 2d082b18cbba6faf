"""The hotline rules (``domain.hotline``) on the Camp David compact, with injected time:
who may send what where, receipts, acknowledgment, escalation deadlines, inbox order, reading."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import pytest

from hotline.compacts import load_compact
from hotline.domain import hotline as rules
from hotline.domain.compact import Compact, Official
from hotline.domain.events import (
    MessageAcknowledged,
    MessageDelivered,
    MessageEscalated,
    MessageRead,
    MessageSent,
)
from hotline.domain.ids import Classification, Handle, MessageId, NationCode, Precedence
from hotline.errors import (
    BadClassification,
    BadPrecedence,
    Conflict,
    Forbidden,
    HotlineError,
    Invalid,
    NotAMember,
    NotCleared,
    NotFound,
    NotReleasable,
)

CAMP_DAVID = load_compact("camp-david")
USA, JPN, KOR = NationCode("USA"), NationCode("JPN"), NationCode("KOR")
T0 = 1_790_000_000.0
FLASH_S = 600.0


def official(handle: str, compact: Compact = CAMP_DAVID) -> Official:
    o = compact.official(Handle(handle))
    assert o is not None, handle
    return o


def compose(
    sender: str,
    channel: str,
    *,
    precedence: str = "flash",
    body: str = "Launch detected",
    classification: str | None = None,
    rel_to: Sequence[str] | None = None,
    who: Official | None = None,
    compact: Compact = CAMP_DAVID,
    now: float = T0,
    mid: str = "usa-1",
) -> MessageSent:
    return rules.compose(
        compact,
        who or official(sender, compact),
        channel,
        message_id=MessageId(mid),
        precedence=precedence,
        body=body,
        classification=classification,
        rel_to=rel_to,
        template=None,
        now=now,
    )


def flash_state(
    channel: str = "ops.usa-jpn-kor", precedence: str = "flash", now: float = T0
) -> rules.MessageState:
    return rules.start(
        CAMP_DAVID, compose("usa.ops", channel, precedence=precedence, now=now, mid=f"m-{now}")
    )


# ---- compose: refusals --------------------------------------------------------------------


def test_compose_builds_the_event_with_defaults() -> None:
    sent = compose("usa.ops", "ops.usa-jpn-kor", classification="secret", now=T0 + 5)
    assert sent.channel == "ops.usa-jpn-kor"
    assert sent.sender == "usa.ops" and sent.nation == USA
    assert sent.precedence is Precedence.FLASH
    assert sent.classification is Classification.SECRET
    assert sent.rel_to == (USA, JPN, KOR)
    assert sent.sent_at == T0 + 5
    unmarked = compose("usa.ops", "ops.usa-jpn-kor")
    assert unmarked.classification is Classification.UNCLASSIFIED


def test_unknown_channel_is_not_found_with_its_code() -> None:
    with pytest.raises(NotFound) as exc:
        compose("usa.ops", "ops.usa-fra")
    assert exc.value.code == "unknown_channel"
    assert "ops.usa-fra" in exc.value.message


@pytest.mark.parametrize(
    ("sender", "channel"),
    [
        ("kor.ops", "ops.usa-jpn"),  # nation not a member
        ("usa.defense", "ops.usa-jpn-kor"),  # wrong layer
        ("jpn.leaders.2", "nsa.usa-jpn"),  # alternate, wrong layer
    ],
)
def test_non_member_is_refused(sender: str, channel: str) -> None:
    with pytest.raises(NotAMember) as exc:
        compose(sender, channel)
    assert exc.value.code == "not_a_member"
    assert exc.value.message == f"{sender} is not a member of {channel}"


def test_bad_precedence_names_the_value_and_the_choices() -> None:
    with pytest.raises(BadPrecedence) as exc:
        compose("usa.ops", "ops.usa-jpn-kor", precedence="urgent")
    assert exc.value.code == "bad_precedence"
    assert "'urgent'" in exc.value.message
    assert "flash, immediate, priority, routine" in exc.value.message


def test_precedence_is_case_sensitive() -> None:
    with pytest.raises(BadPrecedence):
        compose("usa.ops", "ops.usa-jpn-kor", precedence="FLASH")


def test_bad_classification_names_the_value() -> None:
    with pytest.raises(BadClassification) as exc:
        compose("usa.ops", "ops.usa-jpn-kor", classification="cosmic")
    assert exc.value.code == "bad_classification"
    assert "'cosmic'" in exc.value.message


def _with_channel_max(cid: str, level: Classification) -> Compact:
    channels = tuple(
        msgspec.structs.replace(c, max_classification=level) if c.id == cid else c
        for c in CAMP_DAVID.channels
    )
    return msgspec.structs.replace(CAMP_DAVID, channels=channels)


def test_above_the_channel_maximum_is_refused() -> None:
    compact = _with_channel_max("ops.usa-jpn", Classification.SECRET)
    assert compose("usa.ops", "ops.usa-jpn", classification="secret", compact=compact)
    with pytest.raises(BadClassification) as exc:
        compose("usa.ops", "ops.usa-jpn", classification="top_secret", compact=compact)
    assert "ops.usa-jpn carries at most secret" in exc.value.message


def test_above_the_senders_clearance_is_refused() -> None:
    cleared_secret = msgspec.structs.replace(official("usa.ops"), clearance=Classification.SECRET)
    assert compose("usa.ops", "ops.usa-jpn", classification="secret", who=cleared_secret)
    with pytest.raises(NotCleared) as exc:
        compose("usa.ops", "ops.usa-jpn", classification="top_secret", who=cleared_secret)
    assert exc.value.code == "not_cleared"
    assert "usa.ops is cleared to secret" in exc.value.message


def test_rel_to_wider_than_the_channel_is_not_releasable() -> None:
    with pytest.raises(NotReleasable) as exc:
        compose("usa.ops", "ops.usa-jpn", rel_to=["USA", "JPN", "KOR"])
    assert exc.value.code == "not_releasable"
    assert "rel_to KOR is wider than ops.usa-jpn" in exc.value.message


def test_rel_to_must_include_the_senders_nation() -> None:
    with pytest.raises(NotReleasable) as exc:
        compose("usa.ops", "ops.usa-jpn-kor", rel_to=["JPN", "KOR"])
    assert "sender's nation USA" in exc.value.message


def test_rel_to_of_only_the_sender_is_refused() -> None:
    with pytest.raises(NotReleasable):
        compose("usa.ops", "ops.usa-jpn-kor", rel_to=["USA"])


@pytest.mark.parametrize("body", ["", "   ", "\n\t "])
def test_empty_body_is_refused(body: str) -> None:
    with pytest.raises(Invalid) as exc:
        compose("usa.ops", "ops.usa-jpn-kor", body=body)
    assert exc.value.code == "empty_body"


def test_too_long_body_is_refused() -> None:
    compose("usa.ops", "ops.usa-jpn-kor", body="x" * rules.MAX_BODY_CHARS)
    with pytest.raises(Invalid):
        compose("usa.ops", "ops.usa-jpn-kor", body="x" * (rules.MAX_BODY_CHARS + 1))


def test_rel_to_narrowing_keeps_compact_order_and_ignores_case() -> None:
    sent = compose("kor.ops", "ops.usa-jpn-kor", rel_to=["kor", "USA"])
    assert sent.rel_to == (USA, KOR)
    sent = compose("kor.ops", "ops.usa-jpn-kor", rel_to=["KOR", "JPN", "USA"])
    assert sent.rel_to == (USA, JPN, KOR)
    sent = compose("jpn.ops", "ops.usa-jpn-kor", rel_to=["KOR", "JPN"])
    assert sent.rel_to == (JPN, KOR)


def test_refusals_are_checked_in_order_channel_first() -> None:
    """A request wrong in several ways is refused for the first thing wrong: the channel."""
    with pytest.raises(NotFound):
        compose("kor.ops", "ops.nowhere", precedence="urgent", body="")
    with pytest.raises(NotAMember):
        compose("kor.ops", "ops.usa-jpn", precedence="urgent", body="")
    with pytest.raises(BadPrecedence):
        compose("kor.ops", "ops.jpn-kor", precedence="urgent", body="")


# ---- start and receipts -------------------------------------------------------------------


def test_start_acks_the_senders_nation_at_send() -> None:
    state = flash_state()
    own = state.receipts[USA]
    assert own.delivered_at == own.read_at == own.acked_at == T0
    assert own.read_by == own.acked_by == "usa.ops"
    assert own.next_at is None
    for n in (JPN, KOR):
        r = state.receipts[n]
        assert (r.delivered_at, r.read_at, r.acked_at, r.level) == (None, None, None, 0)
        assert r.next_at == T0 + FLASH_S
    assert set(state.receipts) == {USA, JPN, KOR}


def test_start_holds_receipts_only_for_rel_to() -> None:
    sent = compose("usa.ops", "ops.usa-jpn-kor", rel_to=["USA", "JPN"])
    state = rules.start(CAMP_DAVID, sent)
    assert set(state.receipts) == {USA, JPN}
    # an event about a nation the message was not released to is ignored
    rules.apply(
        state,
        MessageAcknowledged(message_id=sent.message_id, nation=KOR, by=Handle("kor.ops"), at=T0),
    )
    assert set(state.receipts) == {USA, JPN}


def test_delivered_read_ack_first_wins_and_are_idempotent() -> None:
    state = flash_state()
    mid = state.sent.message_id
    rules.apply(state, MessageDelivered(message_id=mid, nation=JPN, at=T0 + 1))
    rules.apply(state, MessageDelivered(message_id=mid, nation=JPN, at=T0 + 2))
    assert state.receipts[JPN].delivered_at == T0 + 1
    rules.apply(state, MessageRead(message_id=mid, nation=JPN, by=Handle("jpn.ops.2"), at=T0 + 3))
    rules.apply(state, MessageRead(message_id=mid, nation=JPN, by=Handle("jpn.ops"), at=T0 + 4))
    assert (state.receipts[JPN].read_at, state.receipts[JPN].read_by) == (T0 + 3, "jpn.ops.2")
    ack = MessageAcknowledged(message_id=mid, nation=JPN, by=Handle("jpn.ops"), at=T0 + 5)
    rules.apply(state, ack)
    rules.apply(state, ack)
    rules.apply(
        state, MessageAcknowledged(message_id=mid, nation=JPN, by=Handle("jpn.ops.3"), at=T0 + 6)
    )
    r = state.receipts[JPN]
    assert (r.acked_at, r.acked_by, r.next_at) == (T0 + 5, "jpn.ops", None)
    assert (r.delivered_at, r.read_at) == (T0 + 1, T0 + 3)
    assert state.receipts[KOR].acked_at is None  # other nations untouched


def test_ack_before_delivery_fills_delivered_and_read() -> None:
    state = flash_state()
    mid = state.sent.message_id
    rules.apply(
        state, MessageAcknowledged(message_id=mid, nation=KOR, by=Handle("kor.ops"), at=T0 + 9)
    )
    rules.apply(state, MessageDelivered(message_id=mid, nation=KOR, at=T0 + 12))
    r = state.receipts[KOR]
    assert r.delivered_at == r.read_at == r.acked_at == T0 + 9
    assert r.read_by == "kor.ops"


def _escalation(mid: str, nation: NationCode, level: int, at: float) -> MessageEscalated:
    return MessageEscalated(
        message_id=MessageId(mid),
        nation=nation,
        level=level,
        notified=(Handle(f"{nation.lower()}.ops.{level + 1}"),),
        at=at,
        next_at=at + FLASH_S,
    )


def test_escalation_raises_the_level_never_lowers_it() -> None:
    state = flash_state()
    mid = state.sent.message_id
    rules.apply(state, _escalation(mid, JPN, 2, T0 + 1200))
    rules.apply(state, _escalation(mid, JPN, 1, T0 + 600))  # late, lower: ignored
    r = state.receipts[JPN]
    assert (r.level, r.escalated_at, r.next_at) == (2, T0 + 1200, T0 + 1800)
    assert r.notified == ("jpn.ops.3",)


def test_escalation_after_the_ack_changes_nothing() -> None:
    state = flash_state()
    mid = state.sent.message_id
    rules.apply(state, _escalation(mid, JPN, 1, T0 + 600))
    rules.apply(
        state, MessageAcknowledged(message_id=mid, nation=JPN, by=Handle("jpn.ops"), at=T0 + 700)
    )
    before = msgspec.structs.asdict(state.receipts[JPN])
    rules.apply(state, _escalation(mid, JPN, 2, T0 + 1200))
    assert msgspec.structs.asdict(state.receipts[JPN]) == before
    assert before["level"] == 1 and before["next_at"] is None


# ---- acknowledge --------------------------------------------------------------------------


def test_acknowledge_returns_the_event_for_the_officials_nation() -> None:
    state = flash_state()
    ev = rules.acknowledge(CAMP_DAVID, state, official("jpn.ops.2"), T0 + 30)
    assert ev == MessageAcknowledged(
        message_id=state.sent.message_id, nation=JPN, by=Handle("jpn.ops.2"), at=T0 + 30
    )
    assert state.receipts[JPN].acked_at is None  # decide only: the state is not changed


def test_second_acknowledgment_of_a_nation_is_a_conflict() -> None:
    state = flash_state()
    rules.apply(state, rules.acknowledge(CAMP_DAVID, state, official("jpn.ops"), T0 + 30))
    with pytest.raises(Conflict) as exc:
        rules.acknowledge(CAMP_DAVID, state, official("jpn.ops.3"), T0 + 40)
    assert exc.value.code == "already_acknowledged"
    assert "by jpn.ops" in exc.value.message
    # KOR is independent
    assert rules.acknowledge(CAMP_DAVID, state, official("kor.ops"), T0 + 41).nation == KOR


def test_sender_cannot_acknowledge_its_own_message() -> None:
    state = flash_state()
    for handle in ("usa.ops", "usa.ops.2"):
        with pytest.raises(Forbidden) as exc:
            rules.acknowledge(CAMP_DAVID, state, official(handle), T0 + 1)
        assert exc.value.code == "own_message"


def test_acknowledge_of_an_unreadable_message_is_not_found() -> None:
    sent = compose("usa.ops", "ops.usa-jpn-kor", rel_to=["USA", "JPN"])
    state = rules.start(CAMP_DAVID, sent)
    with pytest.raises(NotFound) as exc:
        rules.acknowledge(CAMP_DAVID, state, official("kor.ops"), T0 + 1)
    assert exc.value.code == "unknown_message"
    with pytest.raises(NotFound):  # another layer of a member nation
        rules.acknowledge(CAMP_DAVID, state, official("jpn.defense"), T0 + 1)


def test_mark_read_only_once_per_nation() -> None:
    state = flash_state()
    ev = rules.mark_read(state, official("jpn.ops.2"), T0 + 3)
    assert ev is not None and (ev.nation, ev.by, ev.at) == (JPN, "jpn.ops.2", T0 + 3)
    rules.apply(state, ev)
    assert rules.mark_read(state, official("jpn.ops"), T0 + 4) is None


# ---- escalation ---------------------------------------------------------------------------


def test_flash_escalates_at_exact_boundaries() -> None:
    state = flash_state()
    mid = state.sent.message_id
    assert rules.due_escalations(CAMP_DAVID, state, JPN, T0 + FLASH_S - 0.001) == []
    [one] = rules.due_escalations(CAMP_DAVID, state, JPN, T0 + FLASH_S)
    assert one == MessageEscalated(
        message_id=mid,
        nation=JPN,
        level=1,
        notified=(Handle("jpn.ops.2"), Handle("jpn.ops.3")),
        at=T0 + FLASH_S,
        next_at=T0 + 2 * FLASH_S,
    )
    rules.apply(state, one)
    # nothing more is due until the next boundary
    assert rules.due_escalations(CAMP_DAVID, state, JPN, T0 + FLASH_S) == []
    assert rules.due_escalations(CAMP_DAVID, state, JPN, T0 + 2 * FLASH_S - 0.001) == []
    [two] = rules.due_escalations(CAMP_DAVID, state, JPN, T0 + 2 * FLASH_S)
    assert two.level == 2
    assert two.notified == ("jpn.ops", "jpn.ops.2", "jpn.ops.3")  # the ops centre
    assert two.next_at == T0 + 3 * FLASH_S
    rules.apply(state, two)
    [three] = rules.due_escalations(CAMP_DAVID, state, JPN, T0 + 3 * FLASH_S)
    assert three.level == 3
    assert three.notified == ("jpn.ops", "jpn.ops.2", "jpn.ops.3")
    rules.apply(state, three)
    [four] = rules.due_escalations(CAMP_DAVID, state, JPN, T0 + 4 * FLASH_S)
    assert four.level == 4 and four.next_at == T0 + 5 * FLASH_S


def test_level_three_re_notifies_ops_principal_and_alternates_of_another_layer() -> None:
    state = rules.start(CAMP_DAVID, compose("usa.defense", "defense.usa-jpn"))
    one = rules.due_escalations(CAMP_DAVID, state, JPN, T0 + FLASH_S)[0]
    assert one.notified == ("jpn.defense.2",)
    rules.apply(state, one)
    two = rules.due_escalations(CAMP_DAVID, state, JPN, T0 + 2 * FLASH_S)[0]
    assert two.notified == ("jpn.ops", "jpn.ops.2", "jpn.ops.3")
    rules.apply(state, two)
    three = rules.due_escalations(CAMP_DAVID, state, JPN, T0 + 3 * FLASH_S)[0]
    assert three.notified == ("jpn.ops", "jpn.ops.2", "jpn.ops.3", "jpn.defense", "jpn.defense.2")


def test_deadline_follows_the_precedence() -> None:
    state = flash_state(precedence="immediate")
    assert rules.due_escalations(CAMP_DAVID, state, KOR, T0 + FLASH_S) == []
    assert rules.due_escalations(CAMP_DAVID, state, KOR, T0 + 1800 - 1) == []
    [ev] = rules.due_escalations(CAMP_DAVID, state, KOR, T0 + 1800)
    assert ev.level == 1 and ev.next_at == T0 + 3600
    routine = flash_state(precedence="routine")
    assert rules.due_escalations(CAMP_DAVID, routine, KOR, T0 + 6 * 3600 - 1) == []
    assert rules.due_escalations(CAMP_DAVID, routine, KOR, T0 + 6 * 3600)[0].level == 1


def test_long_outage_jumps_straight_to_the_due_level_once() -> None:
    state = flash_state()
    now = T0 + 5 * FLASH_S + 17
    evs = rules.due_escalations(CAMP_DAVID, state, KOR, now)
    assert [e.level for e in evs] == [5]
    assert evs[0].at == now and evs[0].next_at == T0 + 6 * FLASH_S
    assert evs[0].notified == ("kor.ops", "kor.ops.2", "kor.ops.3")
    rules.apply(state, evs[0])
    assert rules.due_escalations(CAMP_DAVID, state, KOR, now) == []
    assert rules.due_escalations(CAMP_DAVID, state, KOR, T0 + 6 * FLASH_S - 1) == []


def test_no_escalation_after_ack_for_the_sender_or_outside_rel_to() -> None:
    state = rules.start(CAMP_DAVID, compose("usa.ops", "ops.usa-jpn-kor", rel_to=["USA", "JPN"]))
    late = T0 + 10 * FLASH_S
    assert rules.due_escalations(CAMP_DAVID, state, USA, late) == []
    assert rules.due_escalations(CAMP_DAVID, state, KOR, late) == []
    assert rules.due_escalations(CAMP_DAVID, state, JPN, late) != []
    rules.apply(state, rules.acknowledge(CAMP_DAVID, state, official("jpn.ops"), T0 + 60))
    assert rules.due_escalations(CAMP_DAVID, state, JPN, late) == []


def test_escalations_of_nations_are_independent() -> None:
    state = flash_state()
    rules.apply(state, rules.acknowledge(CAMP_DAVID, state, official("jpn.ops"), T0 + 60))
    assert rules.due_escalations(CAMP_DAVID, state, JPN, T0 + FLASH_S) == []
    [kor] = rules.due_escalations(CAMP_DAVID, state, KOR, T0 + FLASH_S)
    assert kor.nation == KOR and kor.notified == ("kor.ops.2", "kor.ops.3")


def test_next_deadline() -> None:
    state = flash_state()
    assert rules.next_deadline(state, USA) is None  # the sender's nation
    assert rules.next_deadline(state, JPN) == T0 + FLASH_S
    assert rules.next_deadline(state, NationCode("FRA")) is None
    rules.apply(state, rules.due_escalations(CAMP_DAVID, state, JPN, T0 + FLASH_S)[0])
    assert rules.next_deadline(state, JPN) == T0 + 2 * FLASH_S
    assert rules.next_deadline(state, KOR) == T0 + FLASH_S
    rules.apply(state, rules.acknowledge(CAMP_DAVID, state, official("jpn.ops.2"), T0 + 700))
    assert rules.next_deadline(state, JPN) is None
    assert rules.next_deadline(state, KOR) == T0 + FLASH_S


# ---- inbox order and reading --------------------------------------------------------------


def test_inbox_order_flash_first_then_oldest() -> None:
    states = [
        flash_state(precedence="routine", now=T0 + 1),
        flash_state(precedence="flash", now=T0 + 50),
        flash_state(precedence="priority", now=T0 + 2),
        flash_state(precedence="flash", now=T0 + 10),
        flash_state(precedence="immediate", now=T0 + 99),
        flash_state(precedence="routine", now=T0 + 0),
    ]
    order = [(s.sent.precedence.value, s.sent.sent_at - T0) for s in rules.inbox_order(states)]
    assert order == [
        ("flash", 10),
        ("flash", 50),
        ("immediate", 99),
        ("priority", 2),
        ("routine", 0),
        ("routine", 1),
    ]


@pytest.mark.parametrize(
    ("handle", "expected"),
    [
        ("usa.ops", True),
        ("jpn.ops.3", True),
        ("kor.ops", False),  # not in rel_to
        ("jpn.defense", False),  # another layer
        ("usa.leaders", False),
    ],
)
def test_may_read_layer_and_rel_to(handle: str, expected: bool) -> None:
    sent = compose("usa.ops", "ops.usa-jpn-kor", rel_to=["USA", "JPN"], classification="secret")
    assert rules.may_read(official(handle), sent) is expected
    if not expected:
        with pytest.raises(NotFound):
            rules.check_read(official(handle), sent)


def test_may_read_needs_clearance_at_least_the_mark() -> None:
    sent = compose("usa.ops", "ops.usa-jpn-kor", classification="secret")
    for level, expected in [
        (Classification.CONFIDENTIAL, False),
        (Classification.SECRET, True),
        (Classification.TOP_SECRET, True),
    ]:
        reader = msgspec.structs.replace(official("jpn.ops"), clearance=level)
        assert rules.may_read(reader, sent) is expected


def test_every_refusal_is_a_hotline_error_with_a_code() -> None:
    cases: list[dict[str, object]] = [
        {"channel": "ops.x"},
        {"precedence": "x"},
        {"classification": "x"},
        {"rel_to": ["FRA", "USA"]},
        {"body": " "},
    ]
    codes = set()
    for case in cases:
        kwargs = {"channel": "ops.usa-jpn-kor", **case}
        channel = str(kwargs.pop("channel"))
        with pytest.raises(HotlineError) as exc:
            compose("usa.ops", channel, **kwargs)  # type: ignore[arg-type]
        codes.add(exc.value.code)
    assert codes == {
        "unknown_channel",
        "bad_precedence",
        "bad_classification",
        "not_releasable",
        "empty_body",
    }
