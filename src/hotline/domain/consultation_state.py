"""State of one consultation and ``apply(state, event)``: pure, deterministic, immutable.

``apply`` is written so that nodes that receive the same events in a different order (each
origin's stream is ordered, streams interleave) end in the same state: collections are kept
sorted, a nation's first acknowledgment/convening wins (earliest ``at``), the phase is the
furthest one any party moved it to, and a statement's adoption is *derived* from its approvals
(the lowest version whose exact ``text_hash`` every party approved), never taken from the
informational ``StatementAdopted``. Two amendments drafted concurrently with the same version
number resolve the same way on every node: the later ``at`` (then the larger hash) wins.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from hotline.domain.consultation_events import (
    ConsultationAcknowledged,
    ConsultationConvened,
    ConsultationEscalated,
    ConsultationEvent,
    ConsultationInvoked,
    Missed,
    Phase,
    PhaseChanged,
    PositionGiven,
    StatementAdopted,
    StatementApproved,
    StatementDrafted,
)
from hotline.domain.ids import ChannelId, Handle, Layer, NationCode
from hotline.domain.obligations import Obligation
from hotline.errors import IllegalTransition, Invalid


class PartyState(msgspec.Struct, frozen=True, kw_only=True):
    """One party's progress. Response times are seconds from ``notified_at`` (the invocation)."""

    nation: NationCode
    #: The layer currently called for this party (rises with each escalation).
    layer: Layer
    notified_at: float
    ack_deadline: float
    convene_deadline: float
    acknowledged_at: float | None = None
    acknowledged_by: Handle | None = None
    convened_at: float | None = None
    convened_by: Handle | None = None
    #: Time of the party's first position.
    position_at: float | None = None
    escalations: int = 0

    @property
    def notified(self) -> bool:
        return True

    @property
    def acknowledged(self) -> bool:
        return self.acknowledged_at is not None

    @property
    def convened(self) -> bool:
        return self.convened_at is not None

    @property
    def position_given(self) -> bool:
        return self.position_at is not None

    @property
    def ack_s(self) -> float | None:
        return None if self.acknowledged_at is None else self.acknowledged_at - self.notified_at

    @property
    def convene_s(self) -> float | None:
        return None if self.convened_at is None else self.convened_at - self.notified_at

    @property
    def position_s(self) -> float | None:
        return None if self.position_at is None else self.position_at - self.notified_at

    def pending(self) -> tuple[Missed, float] | None:
        """The next step this party owes and its deadline, or ``None`` once convened."""
        if self.acknowledged_at is None:
            return ("ack", self.ack_deadline)
        if self.convened_at is None:
            return ("convene", self.convene_deadline)
        return None


class Statement(msgspec.Struct, frozen=True, kw_only=True):
    """A joint statement: its versions, every approval received, and its adoption."""

    statement_id: str
    #: One entry per version number, ascending.
    versions: tuple[StatementDrafted, ...]
    #: Every approval of any version, sorted by (version, nation); only approvals of the
    #: current version with its exact hash count (an amendment voids the earlier ones).
    approvals: tuple[StatementApproved, ...] = ()
    adopted_version: int | None = None
    adopted_at: float | None = None

    @property
    def adopted(self) -> bool:
        return self.adopted_version is not None

    @property
    def current(self) -> StatementDrafted:
        """The adopted version once adopted, else the latest."""
        if self.adopted_version is not None:
            for v in self.versions:
                if v.version == self.adopted_version:
                    return v
        return self.versions[-1]

    @property
    def version(self) -> int:
        return self.current.version

    @property
    def text(self) -> str:
        return self.current.text

    @property
    def text_hash(self) -> str:
        return self.current.text_hash

    def approvals_of_current(self) -> tuple[StatementApproved, ...]:
        cur = self.current
        return tuple(
            a for a in self.approvals if a.version == cur.version and a.text_hash == cur.text_hash
        )

    @property
    def approved_by(self) -> tuple[NationCode, ...]:
        return tuple(a.nation for a in self.approvals_of_current())


class Consultation(msgspec.Struct, frozen=True, kw_only=True):
    consultation_id: str
    subject: str
    layer: Layer
    severity: str
    threatened: tuple[NationCode, ...]
    invoked_by: Handle
    nation: NationCode
    channel: ChannelId
    information: str
    invoked_at: float
    #: Service levels of the severity (seconds); each escalation restarts the missed window.
    ack_s: float
    convene_s: float
    ladder: tuple[Layer, ...]
    obligations: tuple[Obligation, ...]
    phase: Phase
    #: In the compact's party order.
    parties: tuple[PartyState, ...]
    positions: tuple[PositionGiven, ...] = ()
    phase_changes: tuple[PhaseChanged, ...] = ()
    escalations: tuple[ConsultationEscalated, ...] = ()
    statements: tuple[Statement, ...] = ()

    @property
    def nations(self) -> tuple[NationCode, ...]:
        return tuple(p.nation for p in self.parties)

    @property
    def closed(self) -> bool:
        return self.phase is Phase.CLOSED

    def party(self, nation: NationCode) -> PartyState | None:
        for p in self.parties:
            if p.nation == nation:
                return p
        return None

    def statement(self, statement_id: str) -> Statement | None:
        for s in self.statements:
            if s.statement_id == statement_id:
                return s
        return None


def next_deadline(state: Consultation, for_nation: NationCode | None = None) -> float | None:
    """Earliest pending deadline (of ``for_nation`` only, if given); ``None`` if nothing waits."""
    if state.closed:
        return None
    deadlines = [
        pending[1]
        for p in state.parties
        if (for_nation is None or p.nation == for_nation) and (pending := p.pending()) is not None
    ]
    return min(deadlines, default=None)


# ---- apply ---------------------------------------------------------------------------------


def apply(state: Consultation | None, event: ConsultationEvent) -> Consultation:
    """The state after ``event``. Pure and deterministic; ``state`` is not modified.

    Raises ``IllegalTransition`` for an event that cannot follow ``state`` (anything before the
    invocation, a second invocation) and ``Invalid`` for an event of another consultation or
    naming a nation that is not a party. The shell holds events of a consultation it has not
    seen invoked yet until the invocation arrives.
    """
    if isinstance(event, ConsultationInvoked):
        if state is not None:
            raise IllegalTransition(
                f"consultation {state.consultation_id} already exists "
                f"(phase {state.phase.value!r}); 'consultation_invoked' is allowed only as its "
                "first event"
            )
        return _invoked(event)
    tag = type(event).__struct_config__.tag
    if state is None:
        raise IllegalTransition(
            f"consultation {event.consultation_id} has not been invoked; {tag!r} is allowed "
            "only after 'consultation_invoked'"
        )
    if event.consultation_id != state.consultation_id:
        raise Invalid(
            f"event {tag!r} is for consultation {event.consultation_id}, "
            f"not {state.consultation_id}"
        )
    handler: Callable[[Consultation, Any], Consultation] = _APPLY[type(event)]
    return handler(state, event)


def _invoked(e: ConsultationInvoked) -> Consultation:
    parties = tuple(
        PartyState(
            nation=n,
            layer=e.layer,
            notified_at=e.at,
            ack_deadline=e.ack_deadline,
            convene_deadline=e.convene_deadline,
            # The invoking nation is there from the start.
            acknowledged_at=e.at if n == e.nation else None,
            acknowledged_by=e.invoked_by if n == e.nation else None,
            convened_at=e.at if n == e.nation else None,
            convened_by=e.invoked_by if n == e.nation else None,
        )
        for n in e.parties
    )
    return Consultation(
        consultation_id=e.consultation_id,
        subject=e.subject,
        layer=e.layer,
        severity=e.severity,
        threatened=e.threatened,
        invoked_by=e.invoked_by,
        nation=e.nation,
        channel=e.channel,
        information=e.information,
        invoked_at=e.at,
        ack_s=e.ack_deadline - e.at,
        convene_s=e.convene_deadline - e.at,
        ladder=e.ladder or (e.layer,),
        obligations=e.obligations,
        phase=Phase.SHARE_INFORMATION,
        parties=parties,
    )


def _with_party(state: Consultation, nation: NationCode, tag: str, **changes: Any) -> Consultation:
    party = state.party(nation)
    if party is None:
        raise Invalid(
            f"event {tag!r} names {nation}, which is not a party to consultation "
            f"{state.consultation_id} (parties: {', '.join(state.nations)})"
        )
    new = msgspec.structs.replace(party, **changes)
    return msgspec.structs.replace(
        state, parties=tuple(new if p.nation == nation else p for p in state.parties)
    )


def _acknowledged(state: Consultation, e: ConsultationAcknowledged) -> Consultation:
    party = state.party(e.nation)
    if party is not None and party.acknowledged_at is not None and party.acknowledged_at <= e.at:
        return state
    return _with_party(
        state, e.nation, "consultation_acknowledged", acknowledged_at=e.at, acknowledged_by=e.by
    )


def _convened(state: Consultation, e: ConsultationConvened) -> Consultation:
    party = state.party(e.nation)
    if party is not None and party.convened_at is not None and party.convened_at <= e.at:
        return state
    return _with_party(state, e.nation, "consultation_convened", convened_at=e.at, convened_by=e.by)


def _position(state: Consultation, e: PositionGiven) -> Consultation:
    party = state.party(e.nation)
    first = e.at if party is None or party.position_at is None else min(party.position_at, e.at)
    state = _with_party(state, e.nation, "position_given", position_at=first)
    positions = tuple(sorted((*state.positions, e), key=lambda p: (p.at, p.nation, p.by, p.text)))
    return msgspec.structs.replace(state, positions=positions)


def _escalated(state: Consultation, e: ConsultationEscalated) -> Consultation:
    party = state.party(e.nation)
    if party is not None and e.level <= party.escalations:
        return state  # already applied
    deadline = {"ack_deadline" if e.missed == "ack" else "convene_deadline": e.next_at}
    state = _with_party(
        state, e.nation, "consultation_escalated", layer=e.to_layer, escalations=e.level, **deadline
    )
    escalations = tuple(sorted((*state.escalations, e), key=lambda x: (x.at, x.nation, x.level)))
    return msgspec.structs.replace(state, escalations=escalations)


def _phase_changed(state: Consultation, e: PhaseChanged) -> Consultation:
    phase = e.phase if e.phase.rank > state.phase.rank else state.phase
    changes = tuple(
        sorted((*state.phase_changes, e), key=lambda x: (x.at, x.phase.rank, x.nation, x.by))
    )
    return msgspec.structs.replace(state, phase=phase, phase_changes=changes)


def _replace_statement(state: Consultation, statement: Statement) -> Consultation:
    others = [s for s in state.statements if s.statement_id != statement.statement_id]
    statements = tuple(
        sorted((*others, statement), key=lambda s: (s.versions[0].at, s.statement_id))
    )
    return msgspec.structs.replace(state, statements=statements)


def _with_adoption(statement: Statement, parties: tuple[NationCode, ...]) -> Statement:
    for v in statement.versions:
        approving = [
            a for a in statement.approvals if a.version == v.version and a.text_hash == v.text_hash
        ]
        if set(parties) <= {a.nation for a in approving}:
            return msgspec.structs.replace(
                statement, adopted_version=v.version, adopted_at=max(a.at for a in approving)
            )
    return msgspec.structs.replace(statement, adopted_version=None, adopted_at=None)


def _drafted(state: Consultation, e: StatementDrafted) -> Consultation:
    existing = state.statement(e.statement_id)
    versions: dict[int, StatementDrafted] = (
        {} if existing is None else {v.version: v for v in existing.versions}
    )
    same = versions.get(e.version)
    if same is None or (e.at, e.text_hash) > (same.at, same.text_hash):
        versions[e.version] = e
    statement = Statement(
        statement_id=e.statement_id,
        versions=tuple(versions[k] for k in sorted(versions)),
        approvals=() if existing is None else existing.approvals,
    )
    return _replace_statement(state, _with_adoption(statement, state.nations))


def _approved(state: Consultation, e: StatementApproved) -> Consultation:
    _with_party(state, e.nation, "statement_approved")  # validates the nation
    existing = state.statement(e.statement_id)
    if existing is None:
        raise IllegalTransition(
            f"statement {e.statement_id} of consultation {state.consultation_id} has no draft; "
            "'statement_approved' is allowed only after 'statement_drafted'"
        )
    by_key = {(a.version, a.nation): a for a in existing.approvals}
    same = by_key.get((e.version, e.nation))
    if same is None or (e.at, e.by, e.sig) < (same.at, same.by, same.sig):
        by_key[(e.version, e.nation)] = e
    order = {n: i for i, n in enumerate(state.nations)}
    approvals = tuple(
        by_key[k] for k in sorted(by_key, key=lambda k: (k[0], order.get(k[1], len(order))))
    )
    statement = msgspec.structs.replace(existing, approvals=approvals)
    return _replace_statement(state, _with_adoption(statement, state.nations))


def _adopted(state: Consultation, e: StatementAdopted) -> Consultation:
    # Informational: adoption is derived from the approvals, whatever order they arrive in.
    return state


_APPLY: dict[type, Callable[[Consultation, Any], Consultation]] = {
    ConsultationAcknowledged: _acknowledged,
    ConsultationConvened: _convened,
    PositionGiven: _position,
    ConsultationEscalated: _escalated,
    PhaseChanged: _phase_changed,
    StatementDrafted: _drafted,
    StatementApproved: _approved,
    StatementAdopted: _adopted,
}
