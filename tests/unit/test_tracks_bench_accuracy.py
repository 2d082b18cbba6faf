"""The fusion benchmark's accuracy part: runs are independent (each has its own noise draws),
so worker processes give exactly the figures of one process."""

from __future__ import annotations

import numpy as np
import pytest

from hotline.bench.tracks import find_script, load


def test_worker_processes_give_the_same_runs_as_one() -> None:
    path = find_script()
    assert path is not None
    bench = load(path)
    one = bench._accuracy(bench.Options(runs=3, classes=("srbm",), quick=True, jobs=1))
    two = bench._accuracy(bench.Options(runs=3, classes=("srbm",), quick=True, jobs=2))
    np.testing.assert_equal(one, two)  # NaN (no track yet) equal to NaN
    runs = one["srbm"]["filters"]["fused"]["impact_err_km_runs"]
    assert len(runs) == 3 and runs[0] != runs[1]  # three runs, each its own draws


def test_a_number_of_workers_below_one_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    path = find_script()
    assert path is not None
    bench = load(path)
    with pytest.raises(SystemExit):
        bench.main(["--jobs", "0"])
    assert "0 is not a positive number of processes" in capsys.readouterr().err
