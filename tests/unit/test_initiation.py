"""Track initiation: the least-squares fit is exact on noise-free points; seeds gather reports
of one object and keep others apart."""

from __future__ import annotations

import numpy as np
import pytest

from hotline.tracks.ballistics import propagate
from hotline.tracks.geodesy import geodetic_to_ecef
from hotline.tracks.initiation import Initiator, Measurement, chi2_999, fit_initial

X0 = np.concatenate([geodetic_to_ecef(39.0, 128.0, 120e3), [1500.0, 300.0, 1200.0]])


def points(times: list[float], x0: np.ndarray = X0, sensor: str = "s") -> list[Measurement]:
    xs = propagate(np.repeat(x0[None], len(times), 0), np.array(times))
    r = np.eye(3) * 100.0**2
    return [Measurement(t, xs[i, :3], r, (t, "USA", sensor, "u")) for i, t in enumerate(times)]


@pytest.mark.parametrize("times", [[0.0, 2.0], [0.0, 1.0, 2.5, 4.0, 6.0]])
def test_fit_is_exact_without_noise(times: list[float]) -> None:
    x, p, chi2 = fit_initial(points(times), q_inflate=0.0)
    truth = propagate(X0, times[-1])
    assert x[:3] == pytest.approx(truth[:3], abs=0.5)
    assert x[3:] == pytest.approx(truth[3:], abs=0.05)
    assert chi2 < 1e-3
    assert np.allclose(p, p.T) and np.linalg.eigvalsh(p).min() > 0


def test_two_point_velocity_variance() -> None:
    # Two points dt apart with sigma per axis: var(v) = 2 sigma^2 / dt^2.
    _, p, _ = fit_initial(points([0.0, 2.0]), q_inflate=0.0)
    assert p[3, 3] == pytest.approx(2 * 100.0**2 / 4.0, rel=1e-6)


def test_seeds_gather_one_object_and_keep_another_apart() -> None:
    init = Initiator(max_speed_m_s=8000.0, min_span_s=1.0, max_age_s=20.0)
    far = X0.copy()
    far[:3] += np.array([300e3, 0.0, 0.0])
    for m in points([0.0, 0.5]) + points([0.2, 0.7], far, "t"):
        init.add(m)
    assert len(init.seeds) == 2
    seed = init.add(points([1.5])[0])
    assert init.ready(seed) and len(seed.items) == 3
    assert init.expire(30.0) == 5
    assert init.seeds == []


def test_chi2_quantiles() -> None:
    assert chi2_999(3) == pytest.approx(16.27, abs=0.01)
    assert chi2_999(60) == pytest.approx(99.61, rel=0.01)
