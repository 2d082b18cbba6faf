"""A Hypothesis state machine drives consultations with random commands from random nations.

Invariants after every step: a statement is adopted iff every party approved its current
version with that exact hash; an amendment voids earlier approvals; phases only move
forward; a refused command produces no events and leaves the state unchanged; replaying the
events gives the same state (``apply`` is deterministic).
"""

from __future__ import annotations

import hashlib
import itertools

import msgspec
from hypothesis import HealthCheck, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from hotline.domain.compact import DEFAULT_ACK_S, Channel, Compact, Official, Party, Severity
from hotline.domain.consultation import (
    OPEN_PHASES,
    Acknowledge,
    ApproveStatement,
    ChangePhase,
    Command,
    Consultation,
    ConsultationEvent,
    Convene,
    DraftStatement,
    GivePosition,
    Invoke,
    Phase,
    StatementAdopted,
    StatementApproved,
    StatementDrafted,
    apply,
    approval_signing_bytes,
    decide,
    due,
    replay,
    text_hash,
)
from hotline.domain.ids import LAYERS, Handle, Layer, NationCode, channel_id, nation_of_handle
from hotline.errors import HotlineError

NATIONS = (NationCode("USA"), NationCode("JPN"), NationCode("KOR"))
CID = "c-prop"
T0 = 1_700_000_000.0

COMPACT = Compact(
    id="camp-david",
    title="Camp David 2023",
    parties=tuple(Party(code=n, name=n) for n in NATIONS),
    layers=LAYERS,
    officials=tuple(
        Official(handle=Handle(f"{n.lower()}.{la.value}"), nation=n, layer=la, rank=0, name=n)
        for n in NATIONS
        for la in LAYERS
    ),
    channels=tuple(
        Channel(id=channel_id(la.value, members), layer=la, members=members)
        for la in LAYERS
        for size in (2, 3)
        for members in itertools.combinations(NATIONS, size)
    ),
    treaties=(),
    ack_s=dict(DEFAULT_ACK_S),
    severities=(Severity(name="critical", ack_s=600.0, convene_s=1800.0),),
)

HANDLES = [Handle(f"{n.lower()}.{la.value}") for n in NATIONS for la in LAYERS]
handles = st.sampled_from([*HANDLES, Handle("kor.sensors"), Handle("chn.nsa")])
nations = st.sampled_from(NATIONS)
statement_ids = st.sampled_from(["s-1", "s-2"])
texts = st.sampled_from(["We condemn the launch.", "We call for restraint.", "Consult again."])


def sign(nation: NationCode, message: bytes) -> str:
    return f"{nation}:" + hashlib.sha256(nation.encode() + message).hexdigest()


def verify(nation: NationCode, message: bytes, sig: str) -> bool:
    return sig == sign(nation, message)


def note(what: str) -> None:
    hypothesis_event(what)


class ConsultationMachine(RuleBasedStateMachine):
    state: Consultation | None
    events: list[ConsultationEvent]

    @initialize(
        by=st.sampled_from([h for h in HANDLES if not h.endswith(".ops")]),
        layer=st.sampled_from(LAYERS),
        threatened=st.lists(nations, min_size=1),
    )
    def start(self, by: Handle, layer: Layer, threatened: list[NationCode]) -> None:
        self.state = None
        self.events = []
        self.now = T0
        self.max_phase_rank = 0
        self.invoke(by, layer, threatened)

    # ---- plumbing -----------------------------------------------------------------------

    def attempt(self, cmd: Command) -> tuple[ConsultationEvent, ...] | None:
        before = self.state
        snapshot = None if before is None else msgspec.json.encode(before)
        try:
            decision = decide(before, cmd, self.now, compact=COMPACT, verify=verify)
        except HotlineError:
            # A refused command changes nothing.
            assert self.state is before
            assert (None if before is None else msgspec.json.encode(before)) == snapshot
            return None
        assert decision.events, "an accepted command produces events"
        for event in decision.events:
            self.apply(event)
        return decision.events

    def apply(self, event: ConsultationEvent) -> None:
        previous = self.state
        self.state = apply(self.state, event)
        self.events.append(event)
        if isinstance(event, StatementDrafted) and event.version > 1:
            note("statement amended")
            statement = self.state.statement(event.statement_id)
            assert statement is not None and statement.approved_by == ()
        if isinstance(event, StatementAdopted):
            note("statement adopted")
            statement = self.state.statement(event.statement_id)
            assert statement is not None and statement.adopted
        if isinstance(event, StatementApproved) and previous is not None:
            old = previous.statement(event.statement_id)
            assert old is not None and not old.adopted

    # ---- rules ----------------------------------------------------------------------------

    @rule(by=handles, layer=st.sampled_from(LAYERS), threatened=st.lists(nations, min_size=1))
    def invoke(self, by: Handle, layer: Layer, threatened: list[NationCode]) -> None:
        existed = self.state is not None
        result = self.attempt(
            Invoke(
                consultation_id=CID,
                by=by,
                subject="Launch",
                layer=layer,
                severity="critical",
                threatened=tuple(threatened),
            )
        )
        official = COMPACT.official(by)
        allowed = not existed and official is not None and official.layer is not Layer.OPS
        assert (result is not None) == allowed

    @rule(by=handles)
    def acknowledge(self, by: Handle) -> None:
        self.attempt(Acknowledge(consultation_id=CID, by=by))

    @rule(by=handles)
    def convene(self, by: Handle) -> None:
        self.attempt(Convene(consultation_id=CID, by=by))

    @rule(by=handles, text=texts)
    def give_position(self, by: Handle, text: str) -> None:
        self.attempt(GivePosition(consultation_id=CID, by=by, text=text))

    @rule(by=handles, phase=st.sampled_from([*OPEN_PHASES, *OPEN_PHASES, Phase.CLOSED]))
    def change_phase(self, by: Handle, phase: Phase) -> None:
        before = self.state
        result = self.attempt(ChangePhase(consultation_id=CID, by=by, phase=phase))
        if result is not None:
            assert before is not None and phase.rank > before.phase.rank

    @rule(by=handles, sid=statement_ids, text=texts, stale=st.booleans())
    def draft(self, by: Handle, sid: str, text: str, stale: bool) -> None:
        current = None if self.state is None else self.state.statement(sid)
        amends = None if current is None else current.version - (1 if stale else 0)
        result = self.attempt(
            DraftStatement(consultation_id=CID, by=by, statement_id=sid, text=text, amends=amends)
        )
        if stale and current is not None and current.version > 1:
            assert result is None, "an amendment against a stale version is refused"

    @rule(
        by=handles,
        sid=statement_ids,
        offset=st.sampled_from([0, 0, -1, 1]),
        wrong_hash=st.sampled_from([False, False, True]),
        bad_sig=st.sampled_from([False, False, True]),
    )
    def approve(self, by: Handle, sid: str, offset: int, wrong_hash: bool, bad_sig: bool) -> None:
        current = None if self.state is None else self.state.statement(sid)
        version = 1 if current is None else current.version + offset
        digest = text_hash("forged") if wrong_hash or current is None else current.text_hash
        nation = nation_of_handle(by)
        message = approval_signing_bytes(
            consultation_id=CID,
            statement_id=sid,
            version=version,
            text_hash=digest,
            nation=nation,
            by=by,
        )
        sig = sign(NationCode("CHN") if bad_sig else nation, message)
        already = current is not None and (current.adopted or nation in current.approved_by)
        result = self.attempt(
            ApproveStatement(
                consultation_id=CID,
                by=by,
                statement_id=sid,
                version=version,
                text_hash=digest,
                sig=sig,
            )
        )
        if offset != 0 or wrong_hash or bad_sig or already:
            assert result is None, (
                "a wrong version or hash, a bad sig, a duplicate or a late approval is refused"
            )

    @rule(
        approvers=st.lists(st.sampled_from(HANDLES), min_size=1, max_size=4),
        sid=statement_ids,
    )
    def approve_current(self, approvers: list[Handle], sid: str) -> None:
        """Well-formed approvals of the current version (refused only by state or layer)."""
        for by in approvers:
            self.approve(by, sid, 0, False, False)

    @rule(dt=st.floats(min_value=0.0, max_value=2000.0), nation=nations)
    def tick(self, dt: float, nation: NationCode) -> None:
        self.now += dt
        if self.state is None:
            return
        for event in due(self.state, self.now, for_nation=nation):
            assert event.nation == nation
            self.apply(event)

    # ---- invariants -----------------------------------------------------------------------

    @invariant()
    def adopted_iff_every_party_approved_the_current_version(self) -> None:
        if self.state is None:
            return
        parties = set(self.state.nations)
        for s in self.state.statements:
            approving = {
                a.nation
                for a in s.approvals
                if a.version == s.version and a.text_hash == s.text_hash
            }
            assert s.adopted == (parties <= approving)
            assert set(s.approved_by) == approving
            assert s.text_hash == text_hash(s.text)

    @invariant()
    def phases_only_move_forward(self) -> None:
        if self.state is None:
            return
        assert self.state.phase.rank >= self.max_phase_rank
        self.max_phase_rank = self.state.phase.rank
        ranks = [c.phase.rank for c in self.state.phase_changes]
        assert ranks == sorted(ranks) and len(set(ranks)) == len(ranks)

    @invariant()
    def replay_is_deterministic(self) -> None:
        if self.state is None:
            assert self.events == []
            return
        assert replay(self.events) == self.state
        assert replay(self.events) == replay(list(self.events))

    @invariant()
    def nothing_pending_once_closed(self) -> None:
        if self.state is not None and self.state.closed:
            for n in self.state.nations:
                assert due(self.state, self.now + 1e6, for_nation=n) == []


ConsultationMachine.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestConsultationMachine = ConsultationMachine.TestCase
