"""Properties of the compact loader: deadlines, durations, and where errors are placed."""

from __future__ import annotations

import re
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.compacts import CompactError, format_duration, parse_compact, parse_duration
from hotline.domain.compact import DEFAULT_ACK_S
from hotline.domain.ids import Precedence

CAMP_DAVID = (
    Path(__file__).parents[2] / "src" / "hotline" / "compacts" / "camp-david.toml"
).read_text(encoding="utf-8")
ACK_SECTION = re.compile(r"^\[ack_deadlines\]\n(?:\w+ = .*\n)*", re.MULTILINE)


def with_deadlines(deadlines: dict[Precedence, int]) -> str:
    lines = "".join(f'{p} = "{format_duration(s)}"\n' for p, s in deadlines.items())
    text, count = ACK_SECTION.subn(f"[ack_deadlines]\n{lines}", CAMP_DAVID)
    assert count == 1
    return text


deadline_choices = st.dictionaries(
    st.sampled_from(list(Precedence)), st.integers(min_value=1, max_value=8 * 3600)
)


@settings(max_examples=200, deadline=None)
@given(deadline_choices)
def test_deadlines_are_accepted_iff_tighter_and_in_order(given_s: dict[Precedence, int]) -> None:
    effective = {p: float(given_s.get(p, DEFAULT_ACK_S[p])) for p in Precedence}
    tighter = all(s <= DEFAULT_ACK_S[p] for p, s in given_s.items())
    ordered = all(effective[a] <= effective[b] for a, b in pairwise(Precedence))
    text = with_deadlines(given_s)
    if tighter and ordered:
        assert parse_compact(text, "c.toml").ack_s == effective
    else:
        with pytest.raises(CompactError) as caught:
            parse_compact(text, "c.toml")
        assert caught.value.problems
        assert all(fld.startswith("ack_deadlines.") for _, fld, _ in caught.value.problems)


@given(st.integers(min_value=1, max_value=400 * 86400))
def test_durations_round_trip(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


HEADERS = {
    "[[parties]]": "parties[0]",
    "[channels]": "channels",
    "[ack_deadlines]": "ack_deadlines",
    "[officials.jpn]": "officials.jpn",
    "[[treaties]]": "treaties[0]",
    "[cadence]": "cadence",
    "[[cadence.meetings]]": "cadence.meetings[0]",
}


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(HEADERS)), st.from_regex(r"x_[a-z_]{1,10}", fullmatch=True))
def test_an_unknown_key_is_reported_on_its_own_line(header: str, key: str) -> None:
    lines = CAMP_DAVID.splitlines(keepends=True)
    at = lines.index(header + "\n") + 1
    lines.insert(at, f"{key} = 1\n")
    with pytest.raises(CompactError) as caught:
        parse_compact("".join(lines), "c.toml")
    assert caught.value.problems == [
        (at + 1, f"{HEADERS[header]}.{key}", caught.value.problems[0][2])
    ]
    assert f"unknown key '{key}'" in caught.value.problems[0][2]
