"""The public shapes of consultations, obligations and cadence (API.md), built from domain state.

Times are ISO 8601 UTC strings (``views.iso``); response times in ``metrics`` are seconds
from the invocation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from hotline.domain.cadence import CadenceItem, MeetingHeld
from hotline.domain.consultation import (
    Consultation,
    ConsultationEscalated,
    ConsultationInvoked,
    PartyState,
    Statement,
    StatementApproved,
    metrics,
    timeline,
)
from hotline.domain.events import Envelope
from hotline.domain.obligations import Obligation
from hotline.service.views import iso

ApprovalCheck = Callable[[StatementApproved], bool]


def obligations_view(owed: Sequence[Obligation]) -> dict[str, Any]:
    """Per party (compact order): ``{kind, threatened, sources}``."""
    return {
        o.nation: {
            "kind": o.kind,
            "threatened": o.threatened,
            "sources": [
                {
                    "treaty": s.treaty,
                    "article": s.article,
                    "title": s.title,
                    "legal": s.legal,
                    "kind": s.kind,
                    "toward": list(s.toward),
                }
                for s in o.sources
            ],
        }
        for o in owed
    }


def party_view(p: PartyState, invoking: str) -> dict[str, Any]:
    if p.nation == invoking:
        state = "invoker"
    elif p.convened:
        state = "convened"
    elif p.acknowledged:
        state = "acknowledged"
    else:
        state = "notified"
    pending = p.pending()
    return {
        "state": state,
        "layer": p.layer.value,
        "notified_at": iso(p.notified_at),
        "ack_deadline": iso(p.ack_deadline),
        "convene_deadline": iso(p.convene_deadline),
        "acknowledged_at": iso(p.acknowledged_at),
        "acknowledged_by": p.acknowledged_by,
        "convened_at": iso(p.convened_at),
        "convened_by": p.convened_by,
        "position_given": p.position_given,
        "position_at": iso(p.position_at),
        "escalations": p.escalations,
        "owes": None if pending is None else {"step": pending[0], "by": iso(pending[1])},
    }


def statement_view(s: Statement, parties: Sequence[str], check: ApprovalCheck) -> dict[str, Any]:
    current = s.current
    approved = s.approved_by
    return {
        "id": s.statement_id,
        "version": current.version,
        "text": current.text,
        "text_hash": current.text_hash,
        "adopted": s.adopted,
        "adopted_version": s.adopted_version,
        "adopted_at": iso(s.adopted_at),
        "approved_by": list(approved),
        "awaiting": [n for n in parties if n not in approved],
        "versions": [
            {
                "version": v.version,
                "text": v.text,
                "text_hash": v.text_hash,
                "nation": v.nation,
                "by": v.by,
                "at": iso(v.at),
            }
            for v in s.versions
        ],
        "approvals": [
            {
                "version": a.version,
                "text_hash": a.text_hash,
                "nation": a.nation,
                "by": a.by,
                "at": iso(a.at),
                "sig": a.sig,
                "verified": check(a),
                "void": a.version != current.version or a.text_hash != current.text_hash,
            }
            for a in s.approvals
        ],
    }


def consultation_view(
    state: Consultation, check: ApprovalCheck, notice: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Everything about one consultation: parties, obligations, statements, timeline, metrics."""
    parties = state.nations
    return {
        "id": state.consultation_id,
        "subject": state.subject,
        "layer": state.layer.value,
        "severity": state.severity,
        "threatened": list(state.threatened),
        "information": state.information,
        "invoked_by": state.invoked_by,
        "nation": state.nation,
        "invoked_at": iso(state.invoked_at),
        "channel": state.channel,
        "notice": notice,
        "phase": state.phase.value,
        "service_levels": {"ack_s": state.ack_s, "convene_s": state.convene_s},
        "ladder": [la.value for la in state.ladder],
        "obligations": obligations_view(state.obligations),
        "parties": {p.nation: party_view(p, state.nation) for p in state.parties},
        "positions": [
            {"nation": p.nation, "by": p.by, "text": p.text, "at": iso(p.at)}
            for p in state.positions
        ],
        "phase_changes": [
            {"phase": c.phase.value, "nation": c.nation, "by": c.by, "at": iso(c.at)}
            for c in state.phase_changes
        ],
        "escalations": [escalation_view(e) for e in state.escalations],
        "statements": [statement_view(s, parties, check) for s in state.statements],
        "timeline": [
            {"at": iso(t.at), "nation": t.nation, "by": t.by, "what": t.what}
            for t in timeline(state)
        ],
        "metrics": {
            n: {
                "ack_s": m.ack_s,
                "convene_s": m.convene_s,
                "position_s": m.position_s,
                "escalations": m.escalations,
            }
            for n, m in metrics(state).items()
        },
    }


def escalation_view(e: ConsultationEscalated) -> dict[str, Any]:
    return {
        "nation": e.nation,
        "from_layer": e.from_layer.value,
        "to_layer": e.to_layer.value,
        "missed": e.missed,
        "level": e.level,
        "at": iso(e.at),
        "next_at": iso(e.next_at),
    }


def summary_view(state: Consultation) -> dict[str, Any]:
    """One line of the list: who invoked what, the phase, each party's progress."""
    return {
        "id": state.consultation_id,
        "subject": state.subject,
        "layer": state.layer.value,
        "severity": state.severity,
        "threatened": list(state.threatened),
        "invoked_by": state.invoked_by,
        "nation": state.nation,
        "invoked_at": iso(state.invoked_at),
        "phase": state.phase.value,
        "parties": {p.nation: party_view(p, state.nation)["state"] for p in state.parties},
        "escalations": len(state.escalations),
        "statements": len(state.statements),
        "adopted": sum(1 for s in state.statements if s.adopted),
    }


def cadence_item_view(item: CadenceItem) -> dict[str, Any]:
    m = item.meeting
    return {
        "meeting_id": m.id,
        "title": m.title,
        "kind": m.kind,
        "layer": None if m.layer is None else m.layer.value,
        "every_days": m.every_days,
        "last_held": iso(item.last_held),
        "next_due": iso(item.next_due),
        "overdue": item.overdue,
        "days_overdue": round(item.days_overdue, 2),
    }


def cadence_warning(item: CadenceItem) -> str:
    kind = "exercise" if item.meeting.kind == "exercise" else "meeting"
    when = "never held" if item.last_held is None else f"last held {iso(item.last_held)}"
    return (
        f"{item.meeting.title} ({kind} {item.meeting.id}) is overdue by "
        f"{item.days_overdue:.0f} days: due {iso(item.next_due)}, {when}"
    )


def stream_payload(env: Envelope, state: Consultation | None) -> dict[str, Any]:
    """The live-stream event (``type`` ``consultation`` or ``cadence``) for one stored event."""
    body = env.body
    if isinstance(body, MeetingHeld):
        return {
            "type": "cadence",
            "event": env.type,
            "meeting_id": body.meeting_id,
            "title": body.title,
            "at": iso(body.at),
            "nation": body.nation,
            "by": body.by,
        }
    payload: dict[str, Any] = {
        "type": "consultation",
        "event": env.type,
        "consultation_id": getattr(body, "consultation_id", None),
        "origin": env.origin,
        "nation": getattr(body, "nation", None),
        "by": getattr(body, "by", None),
        "at": iso(env.at),
    }
    if state is not None:
        payload |= {"subject": state.subject, "phase": state.phase.value}
    if isinstance(body, ConsultationInvoked):
        payload |= {
            "by": body.invoked_by,
            "layer": body.layer.value,
            "severity": body.severity,
            "threatened": list(body.threatened),
            "parties": list(body.parties),
            "channel": body.channel,
            "ack_deadline": iso(body.ack_deadline),
            "convene_deadline": iso(body.convene_deadline),
            "obligations": obligations_view(body.obligations),
        }
    elif isinstance(body, ConsultationEscalated):
        payload |= escalation_view(body)
    for key in ("statement_id", "version", "text_hash", "phase", "text"):
        if hasattr(body, key):
            value = getattr(body, key)
            payload[key] = getattr(value, "value", value)
    if state is not None and "statement_id" in payload:
        s = state.statement(payload["statement_id"])
        if s is not None:
            payload["adopted"] = s.adopted
    return payload
