"""Replay plans: a nation's reports, stamped at or before they are sent, on one clock for every
nation's replay of the same recording."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hotline.errors import Invalid
from hotline.replay import load_recording, plan

REC: list[dict[str, Any]] = [
    {"nation": "USA", "uid": "u.m1", "sensor": "u", "time": 100.0},
    {"nation": "JPN", "uid": "j.m1", "sensor": "j", "time": 110.0},
    {"nation": "JPN", "uid": "j.m1", "sensor": "j", "time": 160.0},
    {"nation": "USA", "uid": "u.m1", "sensor": "u", "time": 400.0},
]


def test_real_time_keeps_the_recording_shape() -> None:
    p = plan(REC, "JPN", 1.0, start=10_000.0)
    assert p.skipped == 2 and [r["time"] for r in p.reports] == [10_010.0, 10_060.0]
    assert p.send_at_s == [10.0, 60.0] and "nation" not in p.reports[0]


def test_fast_replays_stamp_in_the_past_and_agree_across_nations() -> None:
    start = 10_000.0
    jpn, usa = plan(REC, "JPN", 10.0, start), plan(REC, "USA", 10.0, start)
    assert jpn.shift_s == usa.shift_s  # one scenario clock: the whole recording's
    for p in (jpn, usa):
        for r, sent in zip(p.reports, p.send_at_s, strict=True):
            assert r["time"] <= start + sent + 1e-9  # never stamped after it is sent
    assert usa.reports[-1]["time"] == pytest.approx(start + 30.0)  # 300 s at x10
    assert jpn.reports[1]["time"] - jpn.reports[0]["time"] == pytest.approx(50.0)


def test_a_replay_too_fast_for_the_stale_limit_is_refused_with_advice() -> None:
    long = [dict(r, time=r["time"] * 10) for r in REC]  # spans 3000 s
    with pytest.raises(Invalid, match=r"use --speed 1\.\d or less"):
        plan(long, "USA", 10.0, 0.0)
    with pytest.raises(Invalid, match="no reports of KOR"):
        plan(REC, "KOR", 1.0, 0.0)
    with pytest.raises(Invalid, match="positive"):
        plan(REC, "USA", 0.0, 0.0)


def test_recordings_are_checked_line_by_line(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    line: dict[str, Any] = {"uid": "a", "sensor": "s", "time": "2026-11-22T21:13:31Z"}
    line |= {"lat": 1, "lon": 1, "hae": 1, "ce": 1, "le": 1}
    good.write_text(json.dumps(line) + "\n\n")
    assert load_recording(good)[0]["time"] == pytest.approx(1_795_382_011.0)
    for text, message in [
        ("{", "good.jsonl:1: not JSON"),
        ("[1]", "expected a JSON object"),
        (json.dumps(line | {"time": "soon"}), "good.jsonl:1: time"),
        ("", "no reports"),
    ]:
        good.write_text(text)
        with pytest.raises(Invalid, match=message):
            load_recording(good)


def test_the_shipped_recording_loads() -> None:
    path = Path(__file__).resolve().parents[2] / "examples" / "replay-mrbm.jsonl"
    reports = load_recording(path)
    assert {r["nation"] for r in reports} == {"USA", "JPN", "KOR"}
