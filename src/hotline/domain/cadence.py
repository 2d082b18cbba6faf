"""Cadence: the meetings and exercises the compact commits to, and which are overdue.

Pure: ``now`` and ``since`` (when the compact took effect) are arguments, in epoch seconds.
A meeting is next due ``every_days`` after it was last held; one never held is due
``every_days`` after ``since`` (Camp David, 18 August 2023: the annual summit is due by
18 August 2024).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import msgspec

from hotline.domain.compact import Compact, Meeting
from hotline.domain.ids import Handle, NationCode
from hotline.errors import Invalid

DAY_S = 86_400.0


class MeetingHeld(msgspec.Struct, frozen=True, kw_only=True, tag="meeting_held"):
    """A meeting or exercise of the compact's cadence took place at ``at``."""

    meeting_id: str
    at: float
    title: str = ""
    #: The nation (and official) that recorded it.
    nation: NationCode | None = None
    by: Handle | None = None


@dataclass(frozen=True, slots=True)
class HeldMeeting:
    """A meeting held (the minimal input; ``MeetingHeld`` events are accepted as well)."""

    meeting_id: str
    at: float
    title: str = ""


class CadenceItem(msgspec.Struct, frozen=True, kw_only=True):
    meeting: Meeting
    last_held: float | None
    next_due: float
    overdue: bool
    #: Days past ``next_due`` (fractional), 0.0 when not overdue.
    days_overdue: float


def cadence_status(
    compact: Compact,
    held: Sequence[HeldMeeting | MeetingHeld],
    now: float,
    *,
    since: float,
) -> list[CadenceItem]:
    """One item per meeting of ``compact.cadence`` (compact order).

    Raises ``Invalid`` when ``held`` names a meeting the compact does not define.
    """
    meetings = compact.cadence.meetings
    known = {m.id for m in meetings}
    last: dict[str, float] = {}
    for h in held:
        if h.meeting_id not in known:
            raise Invalid(
                f"meeting_id: {h.meeting_id!r} is not a meeting of compact {compact.id!r} "
                f"(meetings: {', '.join(sorted(known)) or 'none'})"
            )
        last[h.meeting_id] = max(h.at, last.get(h.meeting_id, h.at))
    return [_item(m, last.get(m.id), now, since) for m in meetings]


def _item(meeting: Meeting, last_held: float | None, now: float, since: float) -> CadenceItem:
    start = since if last_held is None else last_held
    next_due = start + meeting.every_days * DAY_S
    overdue = now > next_due
    return CadenceItem(
        meeting=meeting,
        last_held=last_held,
        next_due=next_due,
        overdue=overdue,
        days_overdue=(now - next_due) / DAY_S if overdue else 0.0,
    )


def overdue(items: Sequence[CadenceItem]) -> list[CadenceItem]:
    """The overdue items, most overdue first."""
    return sorted((i for i in items if i.overdue), key=lambda i: -i.days_overdue)
