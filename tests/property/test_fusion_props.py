"""Properties of the fusion numerics: covariances stay symmetric positive definite whatever the
reports (errors from centimetres to kilometres, any timing, several sensors, late arrivals), the
IMM step preserves that on its own, and arrival order inside a batch does not matter."""

from __future__ import annotations

import random

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.tracks.ballistics import propagate
from hotline.tracks.fusion import Fuser, FuserConfig, Report
from hotline.tracks.geodesy import ecef_to_geodetic, enu_rotation, geodetic_to_ecef
from hotline.tracks.imm import ImmParams, step

SENSORS = (("USA", "tpy2"), ("JPN", "fps5"), ("KOR", "gp"))


def assert_spd(p: np.ndarray) -> None:
    scale = float(np.abs(p).max())
    assert np.allclose(p, np.swapaxes(p, -1, -2), rtol=0.0, atol=1e-9 * scale)
    assert np.linalg.eigvalsh(p).min() > -1e-12 * scale


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[list[Report]], list[float]]:
    """Batches of reports of one ballistic object: random start, speed, sensors, errors."""
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    lat, lon = draw(st.floats(30, 45)), draw(st.floats(120, 140))
    h = draw(st.floats(50e3, 800e3))
    v_enu = np.array(
        [draw(st.floats(-3000, 3000)), draw(st.floats(-3000, 3000)), draw(st.floats(-1500, 2500))]
    )
    x0 = np.concatenate([geodetic_to_ecef(lat, lon, h), enu_rotation(lat, lon).T @ v_enu])
    n = draw(st.integers(3, 30))
    gaps = draw(st.lists(st.floats(0.0, 8.0), min_size=n, max_size=n))
    times = np.cumsum(gaps) + 1000.0
    states = propagate(np.repeat(x0[None], n, 0), times - times[0])
    reports: list[Report] = []
    for k in range(n):
        nation, sensor = SENSORS[int(rng.integers(0, 3))]
        ce = float(10 ** rng.uniform(-1, 3.5))
        le = float(10 ** rng.uniform(-1, 3.5))
        la, lo, hh = ecef_to_geodetic(states[k, :3])
        if hh < 20e3:  # the object has come down: no more reports
            break
        c = enu_rotation(la, lo)
        pt = states[k, :3] + c.T @ (rng.standard_normal(3) * [ce, ce, le])
        pla, plo, phh = ecef_to_geodetic(pt)
        reports.append(
            Report(
                uid=f"{sensor}.o1",
                nation=nation,
                sensor=sensor,
                time=float(times[k]),
                lat=float(pla),
                lon=float(plo),
                hae=float(phh),
                ce=ce,
                le=le,
            )
        )
    # Deliver in batches; some reports arrive one batch late.
    n = len(reports)
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=6)))
    batches = [reports[a:b] for a, b in zip([0, *cuts], [*cuts, n], strict=True)]
    for i in range(len(batches) - 1):
        late: bool = draw(st.booleans())
        if batches[i] and late:
            batches[i + 1].append(batches[i].pop(0))
    nows = [max((r.time for r in b), default=float(times[0])) + 1.0 for b in batches]
    nows = list(np.maximum.accumulate(nows))
    return batches, nows


@settings(max_examples=20, deadline=None)
@given(scenarios())
def test_track_covariances_stay_symmetric_positive_definite(
    scenario: tuple[list[list[Report]], list[float]],
) -> None:
    batches, nows = scenario
    fuser = Fuser(FuserConfig(compute_impacts=False))
    for batch, now in zip(batches, nows, strict=True):
        for track in fuser.ingest(batch, now):
            assert_spd(track.P)
            assert_spd(track.P_ballistic)
            assert np.all(np.isfinite(track.x))
            assert 0.0 <= track.p_manoeuvre <= 1.0


@settings(max_examples=20, deadline=None)
@given(scenarios(), st.randoms(use_true_random=False))
def test_arrival_order_inside_a_batch_does_not_matter(
    scenario: tuple[list[list[Report]], list[float]], rnd: random.Random
) -> None:
    batches, nows = scenario
    a, b = Fuser(FuserConfig(compute_impacts=False)), Fuser(FuserConfig(compute_impacts=False))
    for batch, now in zip(batches, nows, strict=True):
        shuffled = batch[:]
        rnd.shuffle(shuffled)
        ta, tb = a.ingest(batch, now), b.ingest(shuffled, now)
        assert [t.id for t in ta] == [t.id for t in tb]
        for x, y in zip(ta, tb, strict=True):
            assert np.array_equal(x.x, y.x)
            assert np.array_equal(x.P, y.P)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 2**31 - 1),
    st.floats(0.0, 30.0),
    st.floats(-8.0, 4.0),
    st.floats(-8.0, 4.0),
)
def test_imm_step_keeps_covariances_positive_definite(
    seed: int, dt: float, log_p: float, log_r: float
) -> None:
    rng = np.random.default_rng(seed)
    x0 = np.concatenate([geodetic_to_ecef(39.0, 128.0, 300e3), [2000.0, 100.0, 500.0], [0.0] * 3])
    a = rng.standard_normal((2, 9, 9))
    p = np.einsum("kij,klj->kil", a, a) * 10.0**log_p + 1e-6 * np.eye(9)
    # The ballistic mode is [r, v, ln beta]: slots 7-8 empty.
    p[0, 7:, :] = p[0, :, 7:] = 0.0
    b = rng.standard_normal((3, 3))
    r = b @ b.T * 10.0**log_r + 1e-4 * np.eye(3)
    mu = rng.dirichlet([1.0, 1.0])
    x = x0 + rng.standard_normal((2, 9)) * 10.0
    x[0, 6], x[0, 7:] = 10.0, 0.0
    z = x0[:3] + rng.standard_normal(3) * 100.0
    mu_n, x_n, p_n = step(mu[None], x[None], p[None], np.array([dt]), z[None], r[None], ImmParams())
    assert mu_n.sum() == np.float64(1.0) or abs(float(mu_n.sum()) - 1.0) < 1e-12
    assert_spd(p_n[0, 0, :7, :7])
    assert np.all(p_n[0, 0, 7:] == 0.0)
    assert_spd(p_n[0, 1])
    assert np.all(np.isfinite(x_n))
