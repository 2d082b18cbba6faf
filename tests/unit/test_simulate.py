"""Synthetic scenarios: the standard shots fly as documented; sensors see what they can."""

from __future__ import annotations

import numpy as np
import pytest

from hotline.tracks import simulate as sim
from hotline.tracks.geodesy import ecef_to_geodetic, look_angles


@pytest.mark.parametrize(
    ("cls", "range_km", "apogee_km", "flight_s"),
    [
        (sim.SRBM, 300, 94, 329),
        (sim.MRBM, 1000, 273, 575),
        (sim.IRBM_LOFTED, 753, 2100, 1791),
        (sim.ICBM_LOFTED, 1093, 4490, 3208),
    ],
)
def test_standard_shots(
    cls: sim.MissileClass, range_km: float, apogee_km: float, flight_s: float
) -> None:
    tr = sim.fly(sim.launch_of(cls))
    assert tr.range_km == pytest.approx(range_km, rel=0.01)
    assert tr.apogee_m / 1e3 == pytest.approx(apogee_km, rel=0.01)
    assert tr.impact_time == pytest.approx(flight_s, abs=2.0)
    assert tr.burnout_time == pytest.approx(cls.burn_s)
    assert ecef_to_geodetic(tr.x[-1, :3])[2] == pytest.approx(0.0, abs=0.01)


def test_interpolated_states_and_shift() -> None:
    tr = sim.fly(sim.launch_of(sim.MRBM))
    mid = 0.5 * (tr.t[400] + tr.t[401])
    x = tr.state_at(mid)
    assert np.linalg.norm(x[:3] - 0.5 * (tr.x[400, :3] + tr.x[401, :3])) < 200.0
    later = tr.shifted(100.0, "m2")
    assert later.state_at(mid + 100.0) == pytest.approx(x)
    assert later.impact_time == pytest.approx(tr.impact_time + 100.0)


def test_sensors_report_only_what_they_can_see_and_are_seeded() -> None:
    tr = sim.fly(sim.launch_of(sim.MRBM))
    a = sim.observe(tr, sim.KOR_RADAR, np.random.default_rng(5))
    b = sim.observe(tr, sim.KOR_RADAR, np.random.default_rng(5))
    assert a == b and len(a) > 100
    s = sim.KOR_RADAR
    x = tr.state_at(np.array([r.time for r in a]))
    _, el, rng = look_angles(x[:, :3], s.lat, s.lon, s.hae)
    assert el.min() >= s.min_elevation_deg and rng.max() <= s.max_range_m
    assert all(r.nation == "KOR" and r.uid == f"{s.name}.m1" for r in a)
    expected_ce = s.sigma0_m + s.angle_sigma_rad * rng
    assert np.array([r.ce for r in a]) == pytest.approx(expected_ce, abs=0.06)
    # The Japanese radar is too far to see the boost phase over the horizon.
    jpn = sim.observe(tr, sim.JPN_RADAR, np.random.default_rng(5))
    assert min(r.time for r in jpn) > 100.0
