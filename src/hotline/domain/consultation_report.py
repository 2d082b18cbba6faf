"""Read-outs of a consultation: its ``timeline`` and per-party response ``metrics``.

Derived from the state alone (pure), so every node that applied the same events shows the
same record. Response times are seconds from the invocation.
"""

from __future__ import annotations

import msgspec

from hotline.domain.consultation_state import Consultation
from hotline.domain.ids import Handle, NationCode


class TimelineEntry(msgspec.Struct, frozen=True, kw_only=True):
    at: float
    #: ``None`` for what no single nation did (a statement's adoption).
    nation: NationCode | None
    by: Handle | None
    what: str


class PartyMetrics(msgspec.Struct, frozen=True, kw_only=True):
    """Seconds from invocation to each response; ``None`` while it has not happened."""

    ack_s: float | None
    convene_s: float | None
    position_s: float | None
    escalations: int = 0


def timeline(state: Consultation) -> list[TimelineEntry]:
    """Everything that happened, oldest first (ties keep the order of the workflow)."""
    entries = [
        TimelineEntry(
            at=state.invoked_at,
            nation=state.nation,
            by=state.invoked_by,
            what=(
                f"invoked consultation {state.consultation_id} on {state.subject!r} at layer "
                f"{state.layer.value!r}, severity {state.severity!r}, threatened: "
                f"{', '.join(state.threatened)}"
            ),
        )
    ]
    for p in state.parties:
        if p.nation == state.nation:
            continue  # the invoking nation is acknowledged and convened by invoking
        if p.acknowledged_at is not None:
            entries.append(
                TimelineEntry(
                    at=p.acknowledged_at, nation=p.nation, by=p.acknowledged_by, what="acknowledged"
                )
            )
        if p.convened_at is not None:
            entries.append(
                TimelineEntry(at=p.convened_at, nation=p.nation, by=p.convened_by, what="convened")
            )
    for e in state.escalations:
        entries.append(
            TimelineEntry(
                at=e.at,
                nation=e.nation,
                by=None,
                what=(
                    f"missed the {e.missed} deadline; escalated from {e.from_layer.value!r} to "
                    f"{e.to_layer.value!r} (level {e.level})"
                ),
            )
        )
    for pos in state.positions:
        entries.append(
            TimelineEntry(
                at=pos.at, nation=pos.nation, by=pos.by, what=f"gave position: {pos.text}"
            )
        )
    for ch in state.phase_changes:
        entries.append(
            TimelineEntry(
                at=ch.at, nation=ch.nation, by=ch.by, what=f"moved to phase {ch.phase.value!r}"
            )
        )
    for s in state.statements:
        for v in s.versions:
            verb = "drafted" if v.version == 1 else "amended"
            entries.append(
                TimelineEntry(
                    at=v.at,
                    nation=v.nation,
                    by=v.by,
                    what=f"{verb} statement {s.statement_id} (version {v.version}, {v.text_hash})",
                )
            )
        for a in s.approvals:
            entries.append(
                TimelineEntry(
                    at=a.at,
                    nation=a.nation,
                    by=a.by,
                    what=f"approved statement {s.statement_id} version {a.version}"
                    + (
                        "" if a.version == s.version else f" (void: amended to version {s.version})"
                    ),
                )
            )
        if s.adopted_at is not None:
            entries.append(
                TimelineEntry(
                    at=s.adopted_at,
                    nation=None,
                    by=None,
                    what=(
                        f"statement {s.statement_id} version {s.version} adopted by "
                        f"{', '.join(state.nations)}"
                    ),
                )
            )
    # Stable sort: same-time entries keep the workflow order they were listed in above.
    return sorted(entries, key=lambda e: e.at)


def metrics(state: Consultation) -> dict[NationCode, PartyMetrics]:
    """Per party (compact order): seconds to acknowledge, convene and give a first position."""
    return {
        p.nation: PartyMetrics(
            ack_s=p.ack_s, convene_s=p.convene_s, position_s=p.position_s, escalations=p.escalations
        )
        for p in state.parties
    }
