"""The commitment to consult: ``decide`` (commands -> events) and ``due`` (escalations).

Pure: time is the ``now`` argument (epoch seconds), ids come in the commands, nothing is read
or written. The shell loads the state, calls ``decide``, appends the returned events, applies
them with ``apply`` and schedules a wake-up at ``Decision.next_deadline``; at that time the node
of nation ``X`` calls ``due(state, now, for_nation=X)`` and appends what it returns.

Workflow (see ``docs/consultation.md``): a party official at layer ``leaders``, ``nsa``,
``foreign`` or ``defense`` invokes; every other party acknowledges (any of its officials,
including its 24/7 ops centre) and convenes within the severity's ``ack_s`` / ``convene_s``;
positions are given; the phase moves forward share_information -> align_messaging ->
coordinate_response -> closed; joint statements are drafted, amended (a new version voids the
earlier approvals) and adopted only when every party approved the same version and hash.

Escalation ladder (per late party, on its own node): ops -> defense -> nsa -> leaders, and
foreign -> nsa -> leaders; a layer the compact lacks is skipped; at the top, ``leaders`` are
re-notified every window until the party responds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hotline.domain.channels import consultation_channel
from hotline.domain.compact import Compact, Official, Severity
from hotline.domain.consultation_commands import (
    Acknowledge,
    ApproveStatement,
    ChangePhase,
    Command,
    Convene,
    DraftStatement,
    GivePosition,
    Invoke,
)
from hotline.domain.consultation_escalation import MIN_WINDOW_S, due, escalation_ladder
from hotline.domain.consultation_events import (
    OPEN_PHASES,
    ConsultationAcknowledged,
    ConsultationConvened,
    ConsultationEscalated,
    ConsultationEvent,
    ConsultationInvoked,
    Phase,
    PhaseChanged,
    PositionGiven,
    StatementAdopted,
    StatementApproved,
    StatementDrafted,
    approval_signing_bytes,
    signing_bytes_of,
    text_hash,
)
from hotline.domain.consultation_report import PartyMetrics, TimelineEntry, metrics, timeline
from hotline.domain.consultation_state import (
    Consultation,
    PartyState,
    Statement,
    apply,
    next_deadline,
)
from hotline.domain.ids import LAYERS, Handle, Layer, NationCode
from hotline.domain.obligations import obligations
from hotline.errors import BadSignature, Conflict, Forbidden, IllegalTransition, Invalid, NotFound

__all__ = [
    "INVOKING_LAYERS",
    "MIN_WINDOW_S",
    "OPEN_PHASES",
    "Acknowledge",
    "ApprovalVerifier",
    "ApproveStatement",
    "ChangePhase",
    "Command",
    "Consultation",
    "ConsultationAcknowledged",
    "ConsultationConvened",
    "ConsultationEscalated",
    "ConsultationEvent",
    "ConsultationInvoked",
    "Convene",
    "Decision",
    "DraftStatement",
    "GivePosition",
    "Invoke",
    "PartyMetrics",
    "PartyState",
    "Phase",
    "PhaseChanged",
    "PositionGiven",
    "Statement",
    "StatementAdopted",
    "StatementApproved",
    "StatementDrafted",
    "TimelineEntry",
    "apply",
    "approval_signing_bytes",
    "decide",
    "due",
    "escalation_ladder",
    "metrics",
    "next_deadline",
    "replay",
    "signing_bytes_of",
    "text_hash",
    "timeline",
    "verify_approval",
]

#: Layers whose officials may invoke, convene, give positions, move phases, draft and approve.
INVOKING_LAYERS: tuple[Layer, ...] = (Layer.LEADERS, Layer.NSA, Layer.FOREIGN, Layer.DEFENSE)

#: ``verify(nation, message, sig) -> bool`` with the nation's pinned node key (shell-provided).
ApprovalVerifier = Callable[[NationCode, bytes, str], bool]


@dataclass(frozen=True, slots=True)
class Decision:
    events: tuple[ConsultationEvent, ...]
    #: Earliest pending deadline of any party after the events, or ``None``.
    next_deadline: float | None


# ---- decide --------------------------------------------------------------------------------


def decide(
    state: Consultation | None,
    cmd: Command,
    now: float,
    *,
    compact: Compact,
    verify: ApprovalVerifier | None = None,
) -> Decision:
    """The events ``cmd`` produces at ``now`` (nothing is changed: apply them to persist).

    Raises ``Invalid`` (bad value), ``Forbidden`` (not an official, wrong layer, not a party),
    ``NotFound`` (no such consultation or statement), ``IllegalTransition`` (not allowed in
    the current phase or already done), ``Conflict`` (a stale statement version) and
    ``BadSignature`` (an approval whose ``sig`` fails ``verify``).
    """
    if isinstance(cmd, Invoke):
        events = _invoke(state, cmd, now, compact)
        return _decision(None, events)
    if state is None:
        raise NotFound(f"consultation {cmd.consultation_id} does not exist")
    if cmd.consultation_id != state.consultation_id:
        raise Invalid(
            f"consultation_id: command is for {cmd.consultation_id}, state is "
            f"{state.consultation_id}"
        )
    rule = _RULES[type(cmd)]
    if state.phase not in rule.phases:
        raise IllegalTransition(
            f"consultation {state.consultation_id} is {state.phase.value!r}; {rule.name!r} is "
            f"allowed only while phase is {_or_list([p.value for p in rule.phases])}"
        )
    actor = _actor(compact, cmd.by, rule.name, rule.layers)
    party = state.party(actor.nation)
    if party is None:
        raise Forbidden(
            f"{cmd.by} ({actor.nation}) is not a party to consultation {state.consultation_id} "
            f"(parties: {', '.join(state.nations)})",
            code="not_a_member",
        )
    events = rule.handler(_Ctx(state, party, actor, now, verify), cmd)
    return _decision(state, events)


def replay(events: list[ConsultationEvent] | tuple[ConsultationEvent, ...]) -> Consultation:
    """The state after applying ``events`` in order from nothing."""
    state: Consultation | None = None
    for e in events:
        state = apply(state, e)
    if state is None:
        raise Invalid("replay: no events")
    return state


def _decision(state: Consultation | None, events: list[ConsultationEvent]) -> Decision:
    for e in events:
        state = apply(state, e)
    assert state is not None
    return Decision(events=tuple(events), next_deadline=next_deadline(state))


@dataclass(frozen=True, slots=True)
class _Ctx:
    state: Consultation
    party: PartyState
    actor: Official
    now: float
    verify: ApprovalVerifier | None


@dataclass(frozen=True, slots=True)
class _Rule:
    name: str
    phases: tuple[Phase, ...]
    layers: tuple[Layer, ...]
    handler: Callable[[_Ctx, Any], list[ConsultationEvent]]


def _or_list(items: list[str] | tuple[str, ...]) -> str:
    quoted = [f"'{i}'" for i in items]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def _actor(compact: Compact, by: Handle, what: str, layers: tuple[Layer, ...]) -> Official:
    official = compact.official(by)
    if official is None:
        raise Forbidden(
            f"{by} is not an official of compact {compact.id!r}; {what!r} needs a party official"
        )
    if official.layer not in layers:
        raise Forbidden(
            f"{by} is at layer {official.layer.value!r}; {what!r} is allowed only for "
            f"{_or_list([la.value for la in layers])} officials"
        )
    return official


def _required(field: str, value: str) -> None:
    if not value.strip():
        raise Invalid(f"{field}: must not be empty")


def _severity(compact: Compact, name: str) -> Severity:
    for s in compact.severities:
        if s.name == name:
            return s
    known = ", ".join(repr(s.name) for s in compact.severities) or "none defined"
    raise Invalid(f"severity: {name!r} is not a severity of compact {compact.id!r} ({known})")


def _parties(compact: Compact, requested: tuple[NationCode, ...]) -> tuple[NationCode, ...]:
    unknown = [n for n in requested if n not in compact.nations]
    if unknown:
        raise Invalid(
            f"parties: {', '.join(unknown)} not a party to compact {compact.id!r} "
            f"(parties: {', '.join(compact.nations)})"
        )
    chosen = tuple(n for n in compact.nations if not requested or n in requested)
    if len(chosen) < 2:
        raise Invalid("parties: a consultation needs at least two parties")
    return chosen


def _invoke(
    state: Consultation | None, cmd: Invoke, now: float, compact: Compact
) -> list[ConsultationEvent]:
    if state is not None:
        raise IllegalTransition(
            f"consultation {state.consultation_id} already exists (phase {state.phase.value!r}); "
            "'invoke' is allowed only for a new consultation id"
        )
    _required("consultation_id", cmd.consultation_id)
    _required("subject", cmd.subject)
    actor = _actor(compact, cmd.by, "invoke", INVOKING_LAYERS)
    if cmd.layer not in compact.layers:
        raise Invalid(f"layer: {cmd.layer.value!r} is not a layer of compact {compact.id!r}")
    severity = _severity(compact, cmd.severity)
    parties = _parties(compact, cmd.parties)
    if actor.nation not in parties:
        raise Forbidden(
            f"{cmd.by} ({actor.nation}) cannot invoke a consultation it is not party to"
        )
    owed = obligations(compact, cmd.threatened)
    channel = consultation_channel(
        compact, consultation_id=cmd.consultation_id, layer=cmd.layer, parties=parties
    ).id
    threatened = tuple(n for n in compact.nations if n in cmd.threatened)
    invoked = ConsultationInvoked(
        consultation_id=cmd.consultation_id,
        subject=cmd.subject,
        layer=cmd.layer,
        severity=severity.name,
        threatened=threatened,
        invoked_by=cmd.by,
        nation=actor.nation,
        parties=parties,
        channel=channel,
        information=cmd.information,
        at=now,
        ack_deadline=now + severity.ack_s,
        convene_deadline=now + severity.convene_s,
        ladder=escalation_ladder(cmd.layer, tuple(compact.layers)),
        obligations=owed,
    )
    return [invoked]


def _ack_if_needed(ctx: _Ctx) -> list[ConsultationEvent]:
    if ctx.party.acknowledged:
        return []
    return [
        ConsultationAcknowledged(
            consultation_id=ctx.state.consultation_id,
            nation=ctx.actor.nation,
            by=ctx.actor.handle,
            at=ctx.now,
        )
    ]


def _acknowledge(ctx: _Ctx, cmd: Acknowledge) -> list[ConsultationEvent]:
    p = ctx.party
    if p.acknowledged:
        raise IllegalTransition(
            f"{p.nation} already acknowledged consultation {ctx.state.consultation_id} "
            f"(by {p.acknowledged_by} at {p.acknowledged_at}); 'acknowledge' is allowed only "
            "once per party"
        )
    return _ack_if_needed(ctx)


def _convene(ctx: _Ctx, cmd: Convene) -> list[ConsultationEvent]:
    p = ctx.party
    if p.convened:
        raise IllegalTransition(
            f"{p.nation} already convened in consultation {ctx.state.consultation_id} "
            f"(by {p.convened_by} at {p.convened_at}); 'convene' is allowed only once per party"
        )
    convened = ConsultationConvened(
        consultation_id=ctx.state.consultation_id,
        nation=ctx.actor.nation,
        by=ctx.actor.handle,
        at=ctx.now,
    )
    return [*_ack_if_needed(ctx), convened]


def _give_position(ctx: _Ctx, cmd: GivePosition) -> list[ConsultationEvent]:
    _required("text", cmd.text)
    position = PositionGiven(
        consultation_id=ctx.state.consultation_id,
        nation=ctx.actor.nation,
        by=ctx.actor.handle,
        text=cmd.text,
        at=ctx.now,
    )
    return [*_ack_if_needed(ctx), position]


def _change_phase(ctx: _Ctx, cmd: ChangePhase) -> list[ConsultationEvent]:
    current = ctx.state.phase
    if cmd.phase.rank <= current.rank:
        later = [p.value for p in Phase if p.rank > current.rank]
        raise IllegalTransition(
            f"consultation {ctx.state.consultation_id} is {current.value!r}; phases only move "
            f"forward: 'change_phase' may go to {_or_list(later)}, not {cmd.phase.value!r}"
        )
    changed = PhaseChanged(
        consultation_id=ctx.state.consultation_id,
        phase=cmd.phase,
        nation=ctx.actor.nation,
        by=ctx.actor.handle,
        at=ctx.now,
    )
    return [changed]


def _draft_statement(ctx: _Ctx, cmd: DraftStatement) -> list[ConsultationEvent]:
    _required("statement_id", cmd.statement_id)
    _required("text", cmd.text)
    cid = ctx.state.consultation_id
    existing = ctx.state.statement(cmd.statement_id)
    digest = text_hash(cmd.text)
    if existing is None:
        if cmd.amends is not None:
            raise NotFound(f"statement {cmd.statement_id} of consultation {cid} does not exist")
        version = 1
    else:
        if existing.adopted:
            raise IllegalTransition(
                f"statement {cmd.statement_id} of consultation {cid} was adopted at version "
                f"{existing.version}; 'draft' is allowed only before adoption (draft a new "
                "statement instead)"
            )
        if cmd.amends is not None and cmd.amends != existing.version:
            raise Conflict(
                f"statement {cmd.statement_id} is at version {existing.version}; the amendment "
                f"was written against version {cmd.amends}"
            )
        if digest == existing.text_hash:
            raise Invalid(
                f"text: identical to version {existing.version} of statement {cmd.statement_id}"
            )
        version = existing.version + 1
    drafted = StatementDrafted(
        consultation_id=cid,
        statement_id=cmd.statement_id,
        version=version,
        text=cmd.text,
        text_hash=digest,
        nation=ctx.actor.nation,
        by=ctx.actor.handle,
        at=ctx.now,
    )
    return [drafted]


def _approve_statement(ctx: _Ctx, cmd: ApproveStatement) -> list[ConsultationEvent]:
    cid = ctx.state.consultation_id
    nation = ctx.actor.nation
    statement = ctx.state.statement(cmd.statement_id)
    if statement is None:
        raise NotFound(f"statement {cmd.statement_id} of consultation {cid} does not exist")
    if statement.adopted:
        raise IllegalTransition(
            f"statement {cmd.statement_id} of consultation {cid} is already adopted (version "
            f"{statement.version}); 'approve' is allowed only before adoption"
        )
    if cmd.version != statement.version:
        raise Conflict(
            f"statement {cmd.statement_id} is at version {statement.version}; approval of "
            f"version {cmd.version} refused (an amendment voids approvals of earlier versions)"
        )
    if cmd.text_hash != statement.text_hash:
        raise Invalid(
            f"text_hash: {cmd.text_hash} does not match version {statement.version} of "
            f"statement {cmd.statement_id} ({statement.text_hash})"
        )
    if nation in statement.approved_by:
        raise IllegalTransition(
            f"{nation} already approved version {statement.version} of statement "
            f"{cmd.statement_id}; 'approve' is allowed once per party and version"
        )
    approved = StatementApproved(
        consultation_id=cid,
        statement_id=cmd.statement_id,
        version=cmd.version,
        text_hash=cmd.text_hash,
        nation=nation,
        by=ctx.actor.handle,
        at=ctx.now,
        sig=cmd.sig,
    )
    _check_sig(approved, ctx.verify)
    events: list[ConsultationEvent] = [approved]
    after = apply(ctx.state, approved).statement(cmd.statement_id)
    if after is not None and after.adopted:
        events.append(
            StatementAdopted(
                consultation_id=cid,
                statement_id=cmd.statement_id,
                version=after.version,
                text_hash=after.text_hash,
                at=ctx.now,
            )
        )
    return events


def _check_sig(approval: StatementApproved, verify: ApprovalVerifier | None) -> None:
    if not approval.sig:
        raise Invalid(f"sig: the approval must be signed by {approval.nation}'s node")
    if verify is not None:
        verify_approval(approval, verify)


def verify_approval(approval: StatementApproved, verify: ApprovalVerifier) -> None:
    """Raise ``BadSignature`` unless ``approval.sig`` is ``approval.nation``'s node signature.

    The shell calls this at ingress for approvals from peers (``decide`` calls it for local
    approvals when given ``verify``).
    """
    if not verify(approval.nation, signing_bytes_of(approval), approval.sig):
        raise BadSignature(
            f"statement {approval.statement_id} version {approval.version}: approval by "
            f"{approval.by} is not signed by {approval.nation}'s node"
        )


_RULES: dict[type, _Rule] = {
    Acknowledge: _Rule("acknowledge", OPEN_PHASES, LAYERS, _acknowledge),
    Convene: _Rule("convene", OPEN_PHASES, INVOKING_LAYERS, _convene),
    GivePosition: _Rule("give_position", OPEN_PHASES, INVOKING_LAYERS, _give_position),
    ChangePhase: _Rule("change_phase", OPEN_PHASES, INVOKING_LAYERS, _change_phase),
    DraftStatement: _Rule("draft", OPEN_PHASES, INVOKING_LAYERS, _draft_statement),
    ApproveStatement: _Rule("approve", OPEN_PHASES, INVOKING_LAYERS, _approve_statement),
}
