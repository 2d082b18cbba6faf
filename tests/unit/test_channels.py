"""The channel registry (``domain.channels``): the compact's channels plus each consultation's own
channel, resolved and listed purely; the hotline's rules hold on both alike."""

from __future__ import annotations

from collections.abc import Mapping

import msgspec
import pytest

from hotline.compacts import load_compact
from hotline.domain import hotline as rules
from hotline.domain.channels import (
    NO_CHANNELS,
    ConsultationChannel,
    channel_of,
    channels_for,
    consultation_channel,
    consultation_channel_id,
    resolve,
)
from hotline.domain.compact import Channel, Official
from hotline.domain.consultation import ConsultationInvoked, Invoke, decide
from hotline.domain.events import MessageSent
from hotline.domain.ids import (
    ChannelId,
    Classification,
    Handle,
    Layer,
    MessageId,
    NationCode,
    Precedence,
)
from hotline.errors import (
    ConsultationClosed,
    Invalid,
    NotAMember,
    NotCleared,
    NotFound,
    NotReleasable,
)

CAMP_DAVID = load_compact("camp-david")
USA, JPN, KOR = NationCode("USA"), NationCode("JPN"), NationCode("KOR")
T0 = 1_790_000_000.0
CID = "c-usa-1a2b-0c0ffee0"


def official(handle: str) -> Official:
    o = CAMP_DAVID.official(Handle(handle))
    assert o is not None, handle
    return o


def invoke(
    *, by: str = "usa.nsa", layer: Layer = Layer.NSA, parties: tuple[NationCode, ...] = ()
) -> ConsultationInvoked:
    cmd = Invoke(
        consultation_id=CID,
        by=Handle(by),
        subject="Launch toward Japan",
        layer=layer,
        severity="critical",
        threatened=(JPN,),
        parties=parties,
    )
    (event,) = decide(None, cmd, T0, compact=CAMP_DAVID).events
    assert isinstance(event, ConsultationInvoked)
    return event


def known_of(*channels: Channel) -> dict[ChannelId, Channel]:
    return {c.id: c for c in channels}


def send(sender: str, cid: str, known: Mapping[ChannelId, Channel], **kw: object) -> MessageSent:
    args: dict[str, object] = {
        "precedence": "flash",
        "body": "We convene in ten minutes.",
        "classification": None,
        "rel_to": None,
        "template": None,
        **kw,
    }
    return rules.compose(
        CAMP_DAVID,
        official(sender),
        cid,
        message_id=MessageId("m-1"),
        now=T0 + 60,
        known=known,
        **args,  # type: ignore[arg-type]
    )


# ---- naming ----------------------------------------------------------------------------------


def test_a_consultation_channel_is_named_after_layer_parties_and_consultation() -> None:
    assert consultation_channel_id(Layer.NSA, (USA, JPN, KOR), "c-7f3c") == "nsa.usa-jpn-kor.c-7f3c"
    ch = consultation_channel(
        CAMP_DAVID, consultation_id="c-7f3c", layer=Layer.DEFENSE, parties=(USA, KOR), subject="S"
    )
    assert ch.id == "defense.usa-kor.c-7f3c"
    assert (ch.layer, ch.members, ch.kind) == (Layer.DEFENSE, (USA, KOR), "bilateral")
    assert (ch.consultation_id, ch.subject) == ("c-7f3c", "S")
    # Its layer is the first part of its id, as for every compact channel (may_read relies on it).
    assert ch.id.split(".", 1)[0] == ch.layer.value


def test_a_consultation_channel_carries_at_most_what_the_compact_channel_carries() -> None:
    secret = msgspec.structs.replace(
        CAMP_DAVID,
        channels=tuple(
            msgspec.structs.replace(c, max_classification=Classification.SECRET)
            if c.id == "nsa.usa-jpn"
            else c
            for c in CAMP_DAVID.channels
        ),
    )
    ch = consultation_channel(secret, consultation_id="c-1", layer=Layer.NSA, parties=(USA, JPN))
    assert ch.max_classification is Classification.SECRET


def test_no_channel_without_a_compact_channel_for_those_parties_or_with_a_bad_id() -> None:
    nato = load_compact("nato-32")
    with pytest.raises(Invalid, match=r"compact 'nato-32' has no channel nsa\.deu-pol"):
        consultation_channel(
            nato,
            consultation_id="c-1",
            layer=Layer.NSA,
            parties=(NationCode("DEU"), NationCode("POL")),
        )
    for bad in ("", "c.1", "c/1", "-c", "c 1", "x" * 129):
        with pytest.raises(Invalid, match="cannot name a channel"):
            consultation_channel(
                CAMP_DAVID, consultation_id=bad, layer=Layer.NSA, parties=(USA, JPN)
            )


def test_an_invocation_opens_its_own_channel() -> None:
    e = invoke()
    assert e.channel == f"nsa.usa-jpn-kor.{CID}"
    ch = channel_of(CAMP_DAVID, e)
    assert isinstance(ch, ConsultationChannel)
    assert (ch.id, ch.members, ch.subject, ch.opened_at) == (
        e.channel,
        (USA, JPN, KOR),
        "Launch toward Japan",
        T0,
    )
    bilateral = invoke(by="kor.defense", layer=Layer.DEFENSE, parties=(KOR, USA))
    assert bilateral.channel == f"defense.usa-kor.{CID}"
    assert channel_of(CAMP_DAVID, bilateral).members == (USA, KOR)  # type: ignore[union-attr]


def test_an_invocation_on_the_compact_channel_opens_none_and_any_other_is_invalid() -> None:
    e = invoke()
    legacy = msgspec.structs.replace(e, channel=ChannelId("nsa.usa-jpn-kor"))
    assert channel_of(CAMP_DAVID, legacy) is None
    for other in ("ops.usa-jpn-kor", "nsa.usa-jpn", f"nsa.usa-jpn.{CID}", "nsa.usa-jpn-kor.c-x"):
        forged = msgspec.structs.replace(e, channel=ChannelId(other))
        with pytest.raises(Invalid, match=f"its channel is nsa.usa-jpn-kor.{CID}"):
            channel_of(CAMP_DAVID, forged)


# ---- resolution and listing ------------------------------------------------------------------


def test_resolve_the_compact_first_then_the_known_consultation_channels() -> None:
    ch = channel_of(CAMP_DAVID, invoke())
    assert ch is not None
    known = known_of(ch)
    assert resolve(CAMP_DAVID, "nsa.usa-jpn-kor", known) == CAMP_DAVID.channel(
        ChannelId("nsa.usa-jpn-kor")
    )
    assert resolve(CAMP_DAVID, ch.id, known) is ch
    assert resolve(CAMP_DAVID, ch.id) is None  # a node that does not hold the consultation
    assert resolve(CAMP_DAVID, "nsa.usa-jpn-kor.c-other", known) is None


def test_channels_for_lists_the_compact_then_consultations_most_recent_first() -> None:
    older = consultation_channel(
        CAMP_DAVID, consultation_id="c-old", layer=Layer.NSA, parties=(USA, JPN), opened_at=T0
    )
    newer = consultation_channel(
        CAMP_DAVID,
        consultation_id="c-new",
        layer=Layer.NSA,
        parties=(USA, JPN, KOR),
        opened_at=T0 + 5,
    )
    defense = consultation_channel(
        CAMP_DAVID, consultation_id="c-def", layer=Layer.DEFENSE, parties=(USA, KOR)
    )
    known = [older, defense, newer]
    ids = [c.id for c in channels_for(CAMP_DAVID, known, USA, Layer.NSA)]
    assert ids == [
        *(c.id for c in CAMP_DAVID.channels_for(USA, Layer.NSA)),
        "nsa.usa-jpn-kor.c-new",
        "nsa.usa-jpn.c-old",
    ]
    kor = [c.id for c in channels_for(CAMP_DAVID, known, KOR, Layer.NSA)]
    assert "nsa.usa-jpn.c-old" not in kor and "nsa.usa-jpn-kor.c-new" in kor
    assert [c.id for c in channels_for(CAMP_DAVID, known, KOR, Layer.DEFENSE)][-1] == defense.id
    assert channels_for(CAMP_DAVID, (), USA, Layer.NSA) == CAMP_DAVID.channels_for(USA, Layer.NSA)


# ---- the hotline's rules on a consultation channel -------------------------------------------


def test_parties_at_the_layer_send_on_it_with_the_hotline_rules() -> None:
    ch = channel_of(CAMP_DAVID, invoke())
    assert ch is not None
    known = known_of(ch)
    sent = send("jpn.nsa.2", ch.id, known, classification="secret")
    assert (sent.channel, sent.nation, sent.rel_to) == (ch.id, JPN, (USA, JPN, KOR))
    assert sent.precedence is Precedence.FLASH
    narrowed = send("jpn.nsa", ch.id, known, rel_to=["usa", "JPN"])
    assert narrowed.rel_to == (USA, JPN)
    with pytest.raises(NotReleasable, match="wider than"):
        send("jpn.nsa", ch.id, known, rel_to=["JPN", "USA", "GBR"])
    # Receipts and escalation: as on any channel of the layer.
    state = rules.start(CAMP_DAVID, sent)
    assert set(state.receipts) == {USA, JPN, KOR}
    [step] = rules.due_escalations(CAMP_DAVID, state, KOR, T0 + 60 + 600)
    assert step.notified == tuple(o.handle for o in CAMP_DAVID.officials_of(KOR, Layer.NSA)[1:])
    assert rules.may_read(official("kor.nsa"), sent)
    assert not rules.may_read(official("kor.defense"), sent)


def test_a_closed_consultation_channel_takes_no_new_message_and_names_where_to_send() -> None:
    ch = channel_of(CAMP_DAVID, invoke())
    assert ch is not None
    closed = msgspec.structs.replace(ch, closed=True)
    with pytest.raises(ConsultationClosed) as refused:
        send("jpn.nsa", ch.id, known_of(closed))
    assert refused.value.code == "consultation_closed"
    assert f"consultation {CID} is closed" in refused.value.message
    assert "send on nsa.usa-jpn-kor" in refused.value.message
    # Membership is checked first: a non-member learns nothing of the consultation's state.
    with pytest.raises(NotAMember):
        send("jpn.defense", ch.id, known_of(closed))


def test_others_get_the_errors_of_any_channel() -> None:
    bilateral = channel_of(CAMP_DAVID, invoke(parties=(USA, JPN)))
    assert bilateral is not None
    known = known_of(bilateral)
    with pytest.raises(NotAMember, match=f"kor.nsa is not a member of {bilateral.id}"):
        send("kor.nsa", bilateral.id, known)
    with pytest.raises(NotAMember, match=f"jpn.defense is not a member of {bilateral.id}"):
        send("jpn.defense", bilateral.id, known)
    with pytest.raises(NotFound) as unknown:
        send("jpn.nsa", bilateral.id, NO_CHANNELS)  # a node that never held it
    assert unknown.value.code == "unknown_channel"
    assert bilateral.id in unknown.value.message
    cleared = msgspec.structs.replace(official("jpn.nsa"), clearance=Classification.SECRET)
    with pytest.raises(NotCleared):
        rules.compose(
            CAMP_DAVID,
            cleared,
            bilateral.id,
            message_id=MessageId("m-2"),
            precedence="flash",
            body="x",
            classification="top_secret",
            rel_to=None,
            template=None,
            now=T0,
            known=known,
        )


def test_a_compact_is_never_shadowed_by_a_known_channel() -> None:
    fake = Channel(id=ChannelId("nsa.usa-jpn"), layer=Layer.NSA, members=(USA, JPN, KOR))
    with pytest.raises(NotAMember):
        send("kor.nsa", "nsa.usa-jpn", known_of(fake))
