"""``benchmarks/alert_latency.py`` (three real node processes; figures in docs/warning-data.md):
every launch raises exactly one alert, seen with its FLASH at all three nations, and the times
it reports are in causal order; bad arguments are refused before anything starts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support import free_base_port, load_script

NATIONS = ("USA", "JPN", "KOR")


def test_every_launch_raises_one_alert_seen_at_all_three_nations(tmp_path: Path) -> None:
    bench = load_script("alert_latency")
    out = tmp_path / "alert_latency.jsonl"
    args = ["--launches", "2", "--warmup", "0", "--gap-s", "1", "--tail-s", "1", "--json"]
    args += ["--base-port", str(free_base_port()), "--label", "test", "--out", str(out)]
    result: dict[str, Any] | None = bench.main(args)

    assert result is not None
    assert result["errors"] == []
    assert result["launches"] == result["exactly_one_alert"] == result["ok_launches"] == 2
    # Each node's own list: one alert per launch, no more (the authority raised each once).
    assert result["alerts_at_nodes"] == dict.fromkeys(NATIONS, 2)
    assert result["alert_events_at_authority"]["raised"] == 2
    runs = result["runs"]
    assert [r["launch"] for r in runs] == [0, 1]
    assert len({r["alert_id"] for r in runs}) == 2  # each missile its own track and alert
    for run in runs:
        assert run["alerts"] == 1 and run["ok"] is True
        # A track is confirmed from several reports: never by the first one.
        assert 1 <= run["confirm_index"] < run["reports_posted"]
        assert 2 <= run["confirm_n_reports"] <= run["confirm_index"] + 1
        # Seconds after the confirming report was sent: its 201, then the authority's fusion
        # cycle that fused it (JPN's report first travels to the USA), then every screen.
        t = run["t"]
        assert t["post_sent"] == 0.0 < t["post_201"]
        assert t["alert_at"] > 0.0
        for n in NATIONS:
            assert t["alert_at"] < t[f"{n}_raised"]
            assert t["alert_at"] < t[f"{n}_flash"]
        for col in ("raised_ms", "flash_ms"):
            per_nation = [run[col][n] for n in NATIONS]
            assert all(isinstance(v, float) for v in per_nation)
            assert run[col]["all"] == max(per_nation)
    for col in ("raised_ms", "flash_ms"):
        for who in (*NATIONS, "all"):
            s = result[col][who]
            assert s["n"] == 2
            assert s["p50"] <= s["p90"] <= s["p99"] <= s["max"]
        assert all(result[col][n]["max"] <= result[col]["all"]["max"] for n in NATIONS)
    lines = out.read_text().splitlines()
    assert len(lines) == 1
    saved = json.loads(lines[0])
    assert saved["bench"] == "alert_latency" and saved["label"] == "test"
    assert saved["raised_ms"] == result["raised_ms"]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--launches", "0"], "0 is not a positive count"),
        (["--launches", "many"], "'many' is not a count"),
        (["--warmup", "-1"], "-1 is not a count of 0..10"),
        (["--gap-s", "-1"], "'-1' is not a duration (seconds, 0..600)"),
        (["--gap-s", "nan"], "'nan' is not a duration (seconds, 0..600)"),
        (["--tail-s", "soon"], "'soon' is not a duration (seconds, 0..600)"),
        (["--timeout-s", "0.5"], "'0.5' is too short a timeout"),
        (["--sensor-nation", "FRA"], "invalid choice: 'FRA'"),
        (["--base-port", "80"], "80 is not a base port"),
    ],
)
def test_bad_arguments_are_refused_before_anything_starts(
    args: list[str],
    error: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bench = load_script("alert_latency")

    def nothing_may_start(*a: object, **k: object) -> None:
        raise AssertionError("started despite a bad argument")

    monkeypatch.setattr(bench, "make_launches", nothing_may_start)
    monkeypatch.setattr(bench, "DemoCluster", nothing_may_start)
    with pytest.raises(SystemExit) as exc:
        bench.main(args)
    assert exc.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]  # argparse's one-line error
    assert "error: " in last and error in last
