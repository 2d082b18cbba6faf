"""The fusion benchmark's throughput part: every configuration is run ``repeat`` times, the best
(least CPU) run is reported with the median and every run's figure."""

from __future__ import annotations

import pytest

from hotline.bench.tracks import find_script, load


def test_throughput_reports_the_best_and_the_median_of_its_runs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = find_script()
    assert path is not None
    bench = load(path)
    opts = bench.Options(salvo=4, repeat=2, seed=3)
    out = bench._throughput(opts)
    assert out["repeat"] == 2 and out["missiles"] == 4 and out["reports"] > 100
    for label in ("fuse_1s_batches", "fuse_5s_batches", "fuse_and_impacts_1s_batches"):
        fig = out[label]
        runs = fig["reports_per_s_cpu_runs"]
        assert len(runs) == 2
        assert fig["reports_per_s_cpu"] == max(runs)
        assert min(runs) <= fig["reports_per_s_cpu_median"] <= max(runs)
        assert fig["confirmed_tracks"] >= 4  # every missile becomes a confirmed track
        assert 0.0 < fig["worst_batch_cpu_s"] <= fig["cpu_s"]
    assert set(out["impact_ms_per_track"]) == {"srbm", "mrbm", "irbm", "icbm"}
    with_impacts = out["fuse_and_impacts_1s_batches"]["stats"]
    assert with_impacts["impacts_predicted"] >= with_impacts["impact_batches"] > 0
    assert out["fuse_1s_batches"]["stats"]["impacts_predicted"] == 0
    bench._report_throughput(out)
    printed = capsys.readouterr().out
    assert f"{with_impacts['impacts_predicted']:,} impact predictions in" in printed
