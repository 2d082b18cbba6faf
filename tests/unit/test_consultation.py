"""The consultation aggregate: decide, apply, due, timeline and metrics (pure, no I/O)."""

from __future__ import annotations

import hashlib
import itertools

import msgspec
import pytest

from hotline.domain.compact import (
    DEFAULT_ACK_S,
    Channel,
    Compact,
    Official,
    Party,
    Severity,
    Treaty,
)
from hotline.domain.consultation import (
    Acknowledge,
    ApproveStatement,
    ChangePhase,
    Command,
    Consultation,
    ConsultationEscalated,
    ConsultationEvent,
    ConsultationInvoked,
    Convene,
    Decision,
    DraftStatement,
    GivePosition,
    Invoke,
    Phase,
    StatementAdopted,
    StatementApproved,
    apply,
    approval_signing_bytes,
    decide,
    due,
    escalation_ladder,
    metrics,
    replay,
    text_hash,
    timeline,
    verify_approval,
)
from hotline.domain.ids import LAYERS, Handle, Layer, NationCode, channel_id
from hotline.errors import (
    BadSignature,
    Conflict,
    Forbidden,
    IllegalTransition,
    Invalid,
    NotFound,
)

USA, JPN, KOR = NationCode("USA"), NationCode("JPN"), NationCode("KOR")
T0 = 1_700_000_000.0
CID = "c-7f3c"


def make_compact() -> Compact:
    nations = (USA, JPN, KOR)
    return Compact(
        id="camp-david",
        title="Camp David 2023",
        parties=tuple(Party(code=n, name=n) for n in nations),
        layers=LAYERS,
        officials=tuple(
            Official(
                handle=Handle(f"{n.lower()}.{layer.value}" + (f".{rank + 1}" if rank else "")),
                nation=n,
                layer=layer,
                rank=rank,
                name=f"{n} {layer.value} {rank}",
            )
            for n in nations
            for layer in LAYERS
            for rank in (0, 1)
        ),
        channels=tuple(
            Channel(id=channel_id(layer.value, members), layer=layer, members=members)
            for layer in LAYERS
            for size in (2, 3)
            for members in itertools.combinations(nations, size)
        ),
        treaties=(
            Treaty(
                id="us-japan-1960",
                title="US–Japan Security Treaty",
                kind="defend",
                parties=(USA, JPN),
                article="Art. V",
                covers=(JPN,),
            ),
            Treaty(
                id="us-rok-1953",
                title="US–ROK Mutual Defense Treaty",
                kind="defend",
                parties=(USA, KOR),
                article="Art. III",
            ),
            Treaty(
                id="camp-david-2023",
                title="Commitment to Consult",
                kind="consult",
                parties=nations,
                legal=False,
            ),
        ),
        ack_s=dict(DEFAULT_ACK_S),
        severities=(
            Severity(name="critical", ack_s=600.0, convene_s=1800.0),
            Severity(name="elevated", ack_s=3600.0, convene_s=4 * 3600.0),
        ),
    )


COMPACT = make_compact()


def h(handle: str) -> Handle:
    return Handle(handle)


def sign(nation: NationCode, message: bytes) -> str:
    """A stand-in for the node's Ed25519 key (the shell owns real keys)."""
    return f"{nation}:" + hashlib.sha256(nation.encode() + message).hexdigest()


def verify(nation: NationCode, message: bytes, sig: str) -> bool:
    return sig == sign(nation, message)


def run(state: Consultation | None, cmd: Command, now: float) -> tuple[Consultation, Decision]:
    decision = decide(state, cmd, now, compact=COMPACT, verify=verify)
    for e in decision.events:
        state = apply(state, e)
    assert state is not None
    return state, decision


def invoked(now: float = T0, **kw: object) -> Consultation:
    cmd = Invoke(
        consultation_id=CID,
        by=h("usa.nsa"),
        subject="Ballistic missile launch toward Japan",
        layer=Layer.NSA,
        severity="critical",
        threatened=(JPN,),
        information="Launch detected 05:12Z",
    )
    state, _ = run(None, msgspec.structs.replace(cmd, **kw), now)
    return state


def approve(
    state: Consultation, handle: str, sid: str = "s-1", version: int | None = None
) -> ApproveStatement:
    st = state.statement(sid)
    assert st is not None
    v = st.version if version is None else version
    by = h(handle)
    nation = NationCode(handle.split(".")[0].upper())
    sig = sign(
        nation,
        approval_signing_bytes(
            consultation_id=CID,
            statement_id=sid,
            version=v,
            text_hash=st.text_hash,
            nation=nation,
            by=by,
        ),
    )
    return ApproveStatement(
        consultation_id=CID, by=by, statement_id=sid, version=v, text_hash=st.text_hash, sig=sig
    )


# ---- invoke ---------------------------------------------------------------------------------


def test_invoke_notifies_every_party_with_deadlines_and_obligations() -> None:
    _, decision = run(
        None,
        Invoke(
            consultation_id=CID,
            by=h("usa.nsa"),
            subject="Launch",
            layer=Layer.NSA,
            severity="critical",
            threatened=(JPN,),
        ),
        T0,
    )
    (event,) = decision.events
    assert isinstance(event, ConsultationInvoked)
    assert event.parties == (USA, JPN, KOR)
    assert event.channel == "nsa.usa-jpn-kor.c-7f3c"  # its own channel (domain.channels)
    assert (event.ack_deadline, event.convene_deadline) == (T0 + 600, T0 + 1800)
    assert event.ladder == (Layer.NSA, Layer.LEADERS)
    assert [(o.nation, o.kind) for o in event.obligations] == [
        ("USA", "defend"),
        ("JPN", "threatened"),
        ("KOR", "consult"),
    ]
    assert decision.next_deadline == T0 + 600


def test_invoking_nation_is_acknowledged_and_convened_others_are_notified() -> None:
    state = invoked()
    usa, jpn, kor = state.parties
    assert usa.acknowledged and usa.convened and usa.ack_s == 0.0
    assert jpn.notified and not jpn.acknowledged and not kor.convened
    assert state.phase is Phase.SHARE_INFORMATION


@pytest.mark.parametrize("handle", ["jpn.ops", "jpn.ops.2"])
def test_ops_may_not_invoke(handle: str) -> None:
    with pytest.raises(
        Forbidden, match=r"jpn.ops\S* is at layer 'ops'; 'invoke' is allowed only for"
    ):
        invoked(by=h(handle))


def test_sensors_and_strangers_may_not_invoke() -> None:
    with pytest.raises(Forbidden, match=r"kor\.sensors is not an official of compact 'camp-david'"):
        invoked(by=h("kor.sensors"))


def test_invoke_refuses_unknown_severity_threatened_layer_and_parties() -> None:
    with pytest.raises(
        Invalid, match=r"severity: 'apocalyptic' is not a severity .* \('critical', 'elevated'\)"
    ):
        invoked(severity="apocalyptic")
    with pytest.raises(Invalid, match="'CHN' is not a party"):
        invoked(threatened=(NationCode("CHN"),))
    with pytest.raises(Invalid, match="at least two parties"):
        invoked(parties=(USA,))
    with pytest.raises(Forbidden, match="not party to"):
        invoked(by=h("kor.nsa"), parties=(USA, JPN))
    with pytest.raises(Invalid, match="subject: must not be empty"):
        invoked(subject="  ")


def test_bilateral_consultation_gets_a_channel_of_two() -> None:
    state = invoked(parties=(JPN, USA))
    assert state.nations == (USA, JPN)
    assert state.channel == "nsa.usa-jpn.c-7f3c"
    with pytest.raises(Forbidden, match=r"kor.nsa \(KOR\) is not a party to consultation c-7f3c"):
        run(state, Acknowledge(consultation_id=CID, by=h("kor.nsa")), T0 + 1)


def test_invoke_twice_is_illegal_and_unknown_consultation_is_not_found() -> None:
    state = invoked()
    with pytest.raises(IllegalTransition, match="already exists"):
        invoked_again = Invoke(
            consultation_id=CID,
            by=h("jpn.nsa"),
            subject="x",
            layer=Layer.NSA,
            severity="critical",
            threatened=(JPN,),
        )
        run(state, invoked_again, T0)
    with pytest.raises(NotFound, match="consultation c-7f3c does not exist"):
        run(None, Acknowledge(consultation_id=CID, by=h("jpn.nsa")), T0)


# ---- acknowledge, convene, position ---------------------------------------------------------


def test_acknowledge_once_by_any_official_including_ops() -> None:
    state, d = run(invoked(), Acknowledge(consultation_id=CID, by=h("jpn.ops")), T0 + 42)
    assert [type(e).__name__ for e in d.events] == ["ConsultationAcknowledged"]
    jpn = state.party(JPN)
    assert jpn is not None and (jpn.acknowledged_by, jpn.ack_s) == ("jpn.ops", 42.0)
    with pytest.raises(IllegalTransition, match="JPN already acknowledged consultation c-7f3c"):
        run(state, Acknowledge(consultation_id=CID, by=h("jpn.nsa")), T0 + 50)


def test_ops_may_acknowledge_but_not_convene() -> None:
    with pytest.raises(Forbidden, match="'convene' is allowed only for"):
        run(invoked(), Convene(consultation_id=CID, by=h("kor.ops")), T0 + 1)


def test_convene_and_position_imply_acknowledgment() -> None:
    state, d = run(invoked(), Convene(consultation_id=CID, by=h("kor.nsa")), T0 + 300)
    assert [type(e).__name__ for e in d.events] == [
        "ConsultationAcknowledged",
        "ConsultationConvened",
    ]
    with pytest.raises(IllegalTransition, match="KOR already convened"):
        run(state, Convene(consultation_id=CID, by=h("kor.nsa.2")), T0 + 301)
    state, d = run(
        state, GivePosition(consultation_id=CID, by=h("jpn.foreign"), text="Protest"), T0 + 400
    )
    assert [type(e).__name__ for e in d.events] == ["ConsultationAcknowledged", "PositionGiven"]
    with pytest.raises(Invalid, match="text: must not be empty"):
        run(state, GivePosition(consultation_id=CID, by=h("jpn.foreign"), text=""), T0 + 401)


def test_next_deadline_moves_from_ack_to_convene() -> None:
    state = invoked()
    state, d = run(state, Acknowledge(consultation_id=CID, by=h("jpn.nsa")), T0 + 10)
    assert d.next_deadline == T0 + 600  # KOR still owes its acknowledgment
    state, d = run(state, Acknowledge(consultation_id=CID, by=h("kor.nsa")), T0 + 20)
    assert d.next_deadline == T0 + 1800
    state, d = run(state, Convene(consultation_id=CID, by=h("jpn.nsa")), T0 + 30)
    state, d = run(state, Convene(consultation_id=CID, by=h("kor.nsa")), T0 + 40)
    assert d.next_deadline is None


# ---- phases ---------------------------------------------------------------------------------


def test_phases_move_forward_only_and_closed_is_final() -> None:
    state, _ = run(
        invoked(),
        ChangePhase(consultation_id=CID, by=h("jpn.nsa"), phase=Phase.ALIGN_MESSAGING),
        T0 + 5,
    )
    with pytest.raises(
        IllegalTransition,
        match=(
            "phases only move forward: 'change_phase' may go to 'coordinate_response' or "
            "'closed', not 'share_information'"
        ),
    ):
        run(
            state,
            ChangePhase(consultation_id=CID, by=h("usa.nsa"), phase=Phase.SHARE_INFORMATION),
            T0 + 6,
        )
    state, _ = run(
        state, ChangePhase(consultation_id=CID, by=h("kor.leaders"), phase=Phase.CLOSED), T0 + 7
    )
    assert state.closed
    assert [(c.phase, c.by, c.at) for c in state.phase_changes] == [
        (Phase.ALIGN_MESSAGING, "jpn.nsa", T0 + 5),
        (Phase.CLOSED, "kor.leaders", T0 + 7),
    ]
    message = (
        "consultation c-7f3c is 'closed'; 'approve' is allowed only while phase is "
        "'share_information', 'align_messaging' or 'coordinate_response'"
    )
    with pytest.raises(IllegalTransition, match=message):
        run(
            state,
            ApproveStatement(
                consultation_id=CID,
                by=h("jpn.nsa"),
                statement_id="s-1",
                version=1,
                text_hash="x",
                sig="y",
            ),
            T0 + 8,
        )
    with pytest.raises(IllegalTransition, match="is 'closed'; 'acknowledge' is allowed only while"):
        run(state, Acknowledge(consultation_id=CID, by=h("jpn.nsa")), T0 + 9)
    assert due(state, T0 + 10_000, for_nation=JPN) == []


# ---- statements -----------------------------------------------------------------------------


def drafted(text: str = "We condemn the launch.") -> Consultation:
    state, _ = run(
        invoked(),
        DraftStatement(consultation_id=CID, by=h("usa.foreign"), statement_id="s-1", text=text),
        T0 + 60,
    )
    return state


def test_statement_adopted_only_when_every_party_approved_that_version() -> None:
    state = drafted()
    state, d = run(state, approve(state, "usa.foreign"), T0 + 70)
    state, d = run(state, approve(state, "jpn.foreign"), T0 + 80)
    assert [type(e) for e in d.events] == [StatementApproved]
    st = state.statement("s-1")
    assert st is not None and not st.adopted and st.approved_by == (USA, JPN)
    state, d = run(state, approve(state, "kor.leaders"), T0 + 90)
    assert [type(e) for e in d.events] == [StatementApproved, StatementAdopted]
    st = state.statement("s-1")
    assert st is not None and st.adopted and (st.adopted_version, st.adopted_at) == (1, T0 + 90)
    with pytest.raises(IllegalTransition, match="already adopted"):
        run(state, approve(state, "kor.nsa"), T0 + 91)
    with pytest.raises(
        IllegalTransition, match="was adopted at version 1; 'draft' is allowed only before adoption"
    ):
        run(
            state,
            DraftStatement(consultation_id=CID, by=h("kor.nsa"), statement_id="s-1", text="New"),
            T0 + 92,
        )


def test_amendment_voids_earlier_approvals_and_stale_versions_are_refused() -> None:
    state = drafted()
    state, _ = run(state, approve(state, "usa.foreign"), T0 + 70)
    old = approve(state, "jpn.foreign")
    state, _ = run(
        state,
        DraftStatement(
            consultation_id=CID,
            by=h("kor.foreign"),
            statement_id="s-1",
            text="We condemn the launch and call for restraint.",
            amends=1,
        ),
        T0 + 75,
    )
    st = state.statement("s-1")
    assert st is not None and st.version == 2 and st.approved_by == ()
    assert "approved statement s-1 version 1 (void: amended to version 2)" in [
        e.what for e in timeline(state)
    ]
    with pytest.raises(Conflict, match="is at version 2; approval of version 1 refused"):
        run(state, old, T0 + 80)
    with pytest.raises(Conflict, match="written against version 1"):
        run(
            state,
            DraftStatement(
                consultation_id=CID, by=h("jpn.foreign"), statement_id="s-1", text="Other", amends=1
            ),
            T0 + 81,
        )
    with pytest.raises(Invalid, match="identical to version 2"):
        run(
            state,
            DraftStatement(
                consultation_id=CID, by=h("jpn.foreign"), statement_id="s-1", text=st.text
            ),
            T0 + 82,
        )
    wrong = msgspec.structs.replace(approve(state, "jpn.foreign"), text_hash=text_hash("forged"))
    with pytest.raises(Invalid, match=r"text_hash: .* does not match version 2"):
        run(state, wrong, T0 + 83)


def test_duplicate_approval_and_signature_checks() -> None:
    state = drafted()
    state, _ = run(state, approve(state, "jpn.foreign"), T0 + 70)
    with pytest.raises(IllegalTransition, match="JPN already approved version 1 of statement s-1"):
        run(state, approve(state, "jpn.nsa"), T0 + 71)
    forged = msgspec.structs.replace(approve(state, "kor.nsa"), sig=sign(USA, b"x"))
    with pytest.raises(BadSignature, match="not signed by KOR's node"):
        run(state, forged, T0 + 72)
    with pytest.raises(Invalid, match="sig: the approval must be signed by KOR's node"):
        run(state, msgspec.structs.replace(forged, sig=""), T0 + 73)
    with pytest.raises(NotFound, match="statement s-9 of consultation c-7f3c does not exist"):
        run(state, msgspec.structs.replace(forged, statement_id="s-9"), T0 + 74)


def test_concurrent_last_approvals_adopt_on_every_node_in_any_order() -> None:
    state = drafted()
    state, _ = run(state, approve(state, "usa.foreign"), T0 + 70)
    # JPN and KOR approve at the same time on their own nodes: neither sees the other first.
    (jpn,) = decide(state, approve(state, "jpn.foreign"), T0 + 80, compact=COMPACT).events
    (kor,) = decide(state, approve(state, "kor.foreign"), T0 + 81, compact=COMPACT).events
    one = apply(apply(state, jpn), kor)
    two = apply(apply(state, kor), jpn)
    assert one == two
    st = one.statement("s-1")
    assert st is not None and st.adopted and st.adopted_at == T0 + 81


def test_approval_arriving_before_its_amendment_counts_once_the_amendment_arrives() -> None:
    state = drafted()
    (amend,) = decide(
        state,
        DraftStatement(consultation_id=CID, by=h("usa.foreign"), statement_id="s-1", text="v2"),
        T0 + 70,
        compact=COMPACT,
    ).events
    after = apply(state, amend)
    approvals = [
        decide(after, approve(after, f"{n}.foreign"), T0 + 80, compact=COMPACT).events[0]
        for n in ("usa", "jpn", "kor")
    ]
    in_order = replay_from(state, [amend, *approvals])
    out_of_order = replay_from(state, [approvals[2], amend, approvals[0], approvals[1]])
    assert in_order == out_of_order
    st = in_order.statement("s-1")
    assert st is not None and st.adopted and st.version == 2


def replay_from(state: Consultation, events: list[ConsultationEvent]) -> Consultation:
    for e in events:
        state = apply(state, e)
    return state


def test_verify_approval_for_ingress() -> None:
    state = drafted()
    (event,) = decide(state, approve(state, "kor.nsa"), T0 + 70, compact=COMPACT).events
    assert isinstance(event, StatementApproved)
    verify_approval(event, verify)
    with pytest.raises(BadSignature):
        verify_approval(msgspec.structs.replace(event, version=2), verify)


# ---- due / escalation -----------------------------------------------------------------------


def test_escalation_ladder() -> None:
    assert escalation_ladder(Layer.OPS, LAYERS) == ("ops", "defense", "nsa", "leaders")
    assert escalation_ladder(Layer.FOREIGN, LAYERS) == ("foreign", "nsa", "leaders")
    assert escalation_ladder(Layer.DEFENSE, (Layer.LEADERS, Layer.DEFENSE)) == (
        "defense",
        "leaders",
    )
    assert escalation_ladder(Layer.LEADERS, LAYERS) == ("leaders",)


def test_due_escalates_only_the_calling_nations_late_party() -> None:
    state, _ = run(invoked(), Acknowledge(consultation_id=CID, by=h("jpn.nsa")), T0 + 10)
    assert due(state, T0 + 599, for_nation=KOR) == []
    assert due(state, T0 + 600, for_nation=JPN) == []  # JPN acknowledged in time
    assert due(state, T0 + 600, for_nation=USA) == []  # origin-authoritative: not USA's to emit
    (e,) = due(state, T0 + 600, for_nation=KOR)
    assert (e.nation, e.from_layer, e.to_layer, e.missed, e.level, e.next_at) == (
        "KOR",
        "nsa",
        "leaders",
        "ack",
        1,
        T0 + 1200,
    )
    state = apply(state, e)
    kor = state.party(KOR)
    assert kor is not None and (kor.layer, kor.ack_deadline) == ("leaders", T0 + 1200)
    assert due(state, T0 + 1199, for_nation=KOR) == []
    (again,) = due(state, T0 + 1200, for_nation=KOR)
    assert (again.from_layer, again.to_layer, again.level) == ("leaders", "leaders", 2)
    assert apply(apply(state, again), again) == apply(state, again)  # idempotent


def test_due_for_missed_convene() -> None:
    state, _ = run(invoked(), Acknowledge(consultation_id=CID, by=h("jpn.nsa")), T0 + 10)
    assert due(state, T0 + 1800, for_nation=JPN)[0].missed == "convene"
    (e,) = due(state, T0 + 1800, for_nation=JPN)
    assert e.next_at == T0 + 3600
    assert due(state, T0 + 1800, for_nation=NationCode("CHN")) == []


# ---- timeline, metrics, wire ----------------------------------------------------------------


def full_run() -> tuple[Consultation, list[ConsultationEvent]]:
    events: list[ConsultationEvent] = []
    state: Consultation | None = None
    steps: list[tuple[float, Command | None]] = [
        (
            0,
            Invoke(
                consultation_id=CID,
                by=h("usa.nsa"),
                subject="Launch",
                layer=Layer.NSA,
                severity="critical",
                threatened=(JPN,),
            ),
        ),
        (30, Acknowledge(consultation_id=CID, by=h("jpn.ops"))),
        (240, Convene(consultation_id=CID, by=h("jpn.nsa"))),
        (600, None),  # KOR's node runs due()
        (700, Convene(consultation_id=CID, by=h("kor.leaders"))),
        (900, GivePosition(consultation_id=CID, by=h("jpn.nsa"), text="Request US assurance")),
        (1000, ChangePhase(consultation_id=CID, by=h("usa.nsa"), phase=Phase.ALIGN_MESSAGING)),
        (
            1100,
            DraftStatement(
                consultation_id=CID, by=h("usa.nsa"), statement_id="s-1", text="Joint statement"
            ),
        ),
    ]
    for dt, cmd in steps:
        new: list[ConsultationEvent]
        if cmd is None:
            assert state is not None
            new = list(due(state, T0 + dt, for_nation=KOR))
        else:
            new = list(decide(state, cmd, T0 + dt, compact=COMPACT).events)
        for e in new:
            state = apply(state, e)
            events.append(e)
    assert state is not None
    for i, handle in enumerate(("usa.nsa", "jpn.nsa", "kor.nsa")):
        for e in decide(state, approve(state, handle), T0 + 1200 + i, compact=COMPACT).events:
            state = apply(state, e)
            events.append(e)
    return state, events


def test_timeline_and_metrics() -> None:
    state, _ = full_run()
    lines = [(e.at - T0, e.nation, e.by, e.what) for e in timeline(state)]
    assert lines[0][:3] == (0, "USA", "usa.nsa")
    assert (30, "JPN", "jpn.ops", "acknowledged") in lines
    assert (
        600,
        "KOR",
        None,
        "missed the ack deadline; escalated from 'nsa' to 'leaders' (level 1)",
    ) in lines
    assert lines[-1] == (1202, None, None, "statement s-1 version 1 adopted by USA, JPN, KOR")
    assert [t for t, *_ in lines] == sorted(t for t, *_ in lines)
    m = metrics(state)
    assert (m[JPN].ack_s, m[JPN].convene_s, m[JPN].position_s) == (30, 240, 900)
    assert (m[KOR].ack_s, m[KOR].convene_s, m[KOR].position_s, m[KOR].escalations) == (
        700,
        700,
        None,
        1,
    )
    assert (m[USA].ack_s, m[USA].convene_s) == (0, 0)


def test_events_round_trip_on_the_wire_and_replay_is_deterministic() -> None:
    state, events = full_run()
    raw = msgspec.json.encode(events)
    decoded = msgspec.json.decode(raw, type=list[ConsultationEvent])
    assert decoded == events
    assert replay(decoded) == state
    tags = {type(e).__struct_config__.tag for e in events}
    assert {"consultation_invoked", "consultation_escalated", "statement_adopted"} <= tags


def test_apply_refuses_events_out_of_place() -> None:
    state, events = full_run()
    with pytest.raises(IllegalTransition, match="has not been invoked"):
        apply(None, events[1])
    with pytest.raises(IllegalTransition, match="already exists"):
        apply(state, events[0])
    other = msgspec.structs.replace(events[1], consultation_id="c-other")
    with pytest.raises(Invalid, match="is for consultation c-other, not c-7f3c"):
        apply(state, other)
    assert isinstance(events[3], ConsultationEscalated)
