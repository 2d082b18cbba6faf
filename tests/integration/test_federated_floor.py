"""``benchmarks/federated_floor.py``: the floor of the federation's shape (three relay processes,
an fsync at each, mutual TLS between them) delivers every message durably to all three and
times it; bad arguments are refused before any process starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import free_base_port, load_script


def test_every_message_is_stored_by_all_three_relays_and_timed(tmp_path: Path) -> None:
    floor = load_script("federated_floor")
    out = tmp_path / "floor.jsonl"
    args = ["--n-lat", "30", "--n-loaded", "30", "--background-rate", "200"]
    args += ["--n-tput", "300", "--base-port", str(free_base_port()), "--json"]
    result = floor.main([*args, "--label", "test", "--out", str(out)])

    assert result is not None and result["tls"] is True
    for phase in ("latency_idle", "latency_loaded"):
        assert result[phase]["lost"] == 0
        lat = result[phase]["e2e_all_ms"]
        assert lat["n"] == 30
        assert 0 < lat["p50"] <= lat["p99"] <= lat["max"]
    assert result["throughput"]["missing"] == 0
    assert result["throughput"]["delivered_all_per_s"] > 0
    sent = result["latency_loaded"]["background"]["sent"]
    assert sent > 0
    # Warm-up (up to 200, here 30), both timed phases, the background, the back-to-back phase:
    # each relay's own SQLite file holds every one of them.
    expected = 30 + 30 + 30 + sent + 300
    assert result["stored"] == {"USA": expected, "JPN": expected, "KOR": expected}
    assert out.read_text().count("\n") == 1


def test_plain_hops_on_request(tmp_path: Path) -> None:
    floor = load_script("federated_floor")
    args = ["--n-lat", "5", "--n-loaded", "5", "--n-tput", "20", "--no-tls", "--json"]
    result = floor.main([*args, "--base-port", str(free_base_port())])
    assert result is not None and result["tls"] is False
    assert result["throughput"]["missing"] == 0


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--n-lat", "0"], "0 is not a positive count"),
        (["--n-tput", "many"], "'many' is not a count"),
        (["--background-rate", "nan"], "'nan' is not a rate"),
        (["--background-rate", "-5"], "'-5' is not a rate"),
        (["--base-port", "80"], "80 is not a base port"),
        (["--deadline", "0.5"], "'0.5' is too short a timeout"),
        (["--deadline", "later"], "'later' is not a duration (seconds, 0..3600)"),
    ],
)
def test_bad_arguments_are_refused_before_anything_starts(
    args: list[str], error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        load_script("federated_floor").main(args)
    assert error in capsys.readouterr().err
