"""Cadence: which of the compact's meetings and exercises are due or overdue."""

from __future__ import annotations

import msgspec
import pytest

from hotline.domain.cadence import (
    DAY_S,
    CadenceItem,
    HeldMeeting,
    MeetingHeld,
    cadence_status,
    overdue,
)
from hotline.domain.compact import DEFAULT_ACK_S, Cadence, Compact, Meeting, Party
from hotline.domain.ids import LAYERS, Handle, Layer, NationCode
from hotline.errors import Invalid

SINCE = 1_692_316_800.0  # 2023-08-18T00:00:00Z, Camp David

COMPACT = Compact(
    id="camp-david",
    title="Camp David 2023",
    parties=tuple(Party(code=NationCode(n), name=n) for n in ("USA", "JPN", "KOR")),
    layers=LAYERS,
    officials=(),
    channels=(),
    treaties=(),
    ack_s=dict(DEFAULT_ACK_S),
    cadence=Cadence(
        meetings=(
            Meeting(id="summit", title="Leaders' summit", kind="meeting", layer=Layer.LEADERS),
            Meeting(id="freedom-edge", title="Freedom Edge", kind="exercise", every_days=365),
            Meeting(id="nsa", title="NSA meeting", kind="meeting", layer=Layer.NSA, every_days=180),
        )
    ),
)


def status(held: list[HeldMeeting | MeetingHeld], now: float) -> dict[str, CadenceItem]:
    return {i.meeting.id: i for i in cadence_status(COMPACT, held, now, since=SINCE)}


def test_never_held_is_due_from_the_compacts_start() -> None:
    items = status([], SINCE + 100 * DAY_S)
    assert items["summit"].last_held is None
    assert items["summit"].next_due == SINCE + 365 * DAY_S
    assert items["nsa"].next_due == SINCE + 180 * DAY_S
    assert not any(i.overdue for i in items.values())
    assert [i.days_overdue for i in items.values()] == [0.0, 0.0, 0.0]


def test_overdue_counts_days_past_the_due_date() -> None:
    items = status([], SINCE + 200 * DAY_S)
    assert items["nsa"].overdue and items["nsa"].days_overdue == pytest.approx(20.0)
    assert not items["summit"].overdue


def test_latest_holding_counts_and_events_are_accepted() -> None:
    held: list[HeldMeeting | MeetingHeld] = [
        HeldMeeting(meeting_id="nsa", at=SINCE + 150 * DAY_S),
        MeetingHeld(
            meeting_id="nsa",
            at=SINCE + 170 * DAY_S,
            title="NSAs in Tokyo",
            nation=NationCode("JPN"),
            by=Handle("jpn.nsa"),
        ),
        HeldMeeting(meeting_id="nsa", at=SINCE + 10 * DAY_S),
    ]
    item = status(held, SINCE + 200 * DAY_S)["nsa"]
    assert item.last_held == SINCE + 170 * DAY_S
    assert item.next_due == SINCE + 350 * DAY_S
    assert not item.overdue


def test_exactly_at_the_due_time_is_not_yet_overdue() -> None:
    assert not status([], SINCE + 180 * DAY_S)["nsa"].overdue


def test_overdue_sorts_most_overdue_first() -> None:
    items = cadence_status(COMPACT, [], SINCE + 400 * DAY_S, since=SINCE)
    assert [i.meeting.id for i in overdue(items)] == ["nsa", "summit", "freedom-edge"]


def test_unknown_meeting_is_invalid() -> None:
    with pytest.raises(Invalid, match=r"'g7' is not a meeting of compact 'camp-david'"):
        status([HeldMeeting(meeting_id="g7", at=SINCE)], SINCE)


def test_meeting_held_event_round_trips_with_its_tag() -> None:
    event = MeetingHeld(meeting_id="summit", at=SINCE + DAY_S, title="Camp David")
    raw = msgspec.json.encode(event)
    assert b'"type":"meeting_held"' in raw
    assert msgspec.json.decode(raw, type=MeetingHeld) == event
