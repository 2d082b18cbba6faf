"""The IMM step: reduces to the Kalman filter when one mode is certain; the powered mode follows
thrust and loses it at burn-out; the vectorised step is the one-track step, row by row."""

from __future__ import annotations

import numpy as np
import pytest

from hotline.tracks import simulate as sim
from hotline.tracks.ballistics import acceleration, kinematic_q9, transition9
from hotline.tracks.fusion import Fuser, FuserConfig, Phase
from hotline.tracks.geodesy import geodetic_to_ecef
from hotline.tracks.imm import (
    ImmParams,
    combine,
    inv_sym3,
    step,
    switching,
    transition_probabilities,
)

X0 = np.concatenate([geodetic_to_ecef(39.0, 130.0, 300e3), [2000.0, -500.0, 800.0]])
#: Midcourse switching: no powered mode, and the ballistic mode takes nothing from it.
COAST = np.array([[1e30, 1e30, 30.0, 0.0]])


def two_modes(
    p0: np.ndarray, a: tuple[float, float, float] = (0.0, 0.0, 0.0)
) -> tuple[np.ndarray, np.ndarray]:
    """IMM arrays of one track: the ballistic mode ([r, v, ln beta], ln beta at its prior,
    slots 7-8 empty) and the powered mode with acceleration ``a`` and 10 m/s^2 of spread in
    it."""
    params = ImmParams()
    x = np.zeros((1, 2, 9))
    x[0, :, :6] = X0
    x[0, 0, 6] = params.log_beta_prior
    x[0, 1, 6:] = a
    p = np.zeros((1, 2, 9, 9))
    p[0, :, :6, :6] = p0
    p[0, 0, 6, 6] = params.log_beta_sigma**2
    p[0, 1, 6:, 6:] = np.eye(3) * 10.0**2
    return x, p


def test_certain_ballistic_mode_is_the_extended_kalman_filter() -> None:
    params = ImmParams()
    p0 = np.diag([100.0**2] * 3 + [5.0**2] * 3)
    z = X0[:3] + np.array([30.0, -20.0, 50.0])
    r = np.diag([50.0**2, 60.0**2, 70.0**2])
    dt = 2.0
    mu = np.array([[1.0, 0.0]])
    xm, pm = two_modes(p0)
    _, x_n, p_n = step(mu, xm, pm, np.array([dt]), z[None], r[None], params, COAST)
    # Hand-written EKF with the same model on the 6 kinematic states (no air: no drag).
    x6 = xm[:, :1].copy()
    x6[..., 6:] = 0.0
    xp9, phi9 = transition9(x6, np.array([dt]))
    xp, phi = xp9[0, 0, :6], phi9[0, :6, :6]
    pp = phi @ p0 @ phi.T + kinematic_q9(dt, params.q_ballistic, 0.0)[:6, :6]
    s = pp[:3, :3] + r
    k = pp[:, :3] @ np.linalg.inv(s)
    x_kf = xp + k @ (z - xp[:3])
    i_kh = np.eye(6)
    i_kh[:, :3] -= k
    p_kf = i_kh @ pp @ i_kh.T + k @ r @ k.T
    assert x_n[0, 0, :6] == pytest.approx(x_kf, abs=1e-6)
    assert p_n[0, 0, :6, :6] == pytest.approx(p_kf, rel=1e-9, abs=1e-9)
    # 300 km up there is no air: ln beta is untouched (no random walk either), uncorrelated,
    # and slots 7-8 stay empty.
    assert x_n[0, 0, 6] == xm[0, 0, 6]
    assert p_n[0, 0, 6, 6] == pm[0, 0, 6, 6]
    assert np.all(p_n[0, 0, 6, :6] == 0.0)
    assert np.all(x_n[0, 0, 7:] == 0.0) and np.all(p_n[0, 0, 7:, :] == 0.0)


def test_transition_probabilities_are_stochastic() -> None:
    pi = transition_probabilities(np.array([0.0, 1.0, 100.0]), ImmParams())
    assert pi.sum(axis=-1) == pytest.approx(np.ones((3, 2)))
    assert pi[0] == pytest.approx(np.eye(2))
    assert pi[2, 1, 0] > pi[1, 1, 0]


def test_thrust_raises_the_powered_probability() -> None:
    params = ImmParams()
    p0 = np.diag([50.0**2] * 3 + [2.0**2] * 3)
    mu = np.array([[0.9, 0.1]])
    xm, pm = two_modes(p0)
    r = np.eye(3) * 30.0**2
    coast = transition9(xm[:, 1:], np.array([5.0]))[0][0, 0, :3]  # a = 0: a coast
    quiet = step(mu, xm, pm, np.array([5.0]), coast[None], r[None], params)[0]
    # 40 m/s^2 of thrust along the velocity for 5 s moves the body 500 m further.
    kick = coast + 500.0 * X0[3:] / np.linalg.norm(X0[3:])
    loud = step(mu, xm, pm, np.array([5.0]), kick[None], r[None], params)[0]
    assert quiet[0, 1] < 0.1 < 0.9 < loud[0, 1]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_boost_is_followed_without_lag_and_burn_out_is_seen(seed: int) -> None:
    # The Korean radar sees the 1,000 km shot's boost (thrust 20 -> 70 m/s^2, pitching over).
    truth = sim.fly(sim.launch_of(sim.MRBM))
    reports = sim.observe(truth, sim.KOR_RADAR, np.random.default_rng(seed))
    fuser = Fuser(FuserConfig(compute_impacts=False))
    midcourse_at = None
    for sec in range(2, 140, 2):
        fuser.ingest([r for r in reports if sec - 2 <= r.time < sec], float(sec))
        (track,) = fuser.tracks() or (None,)
        if track is None:
            continue
        if midcourse_at is None and track.phase is Phase.MIDCOURSE:
            midcourse_at = track.last_time
        if sec == 90:  # 11 s before burn-out
            # (The ballistic mode keeps some weight in boost: burn-out may come at any time,
            # 1/30 s in the prior.)
            assert track.phase is Phase.BOOST and track.p_manoeuvre > 0.8
            x = truth.state_at(track.last_time)
            h = 0.05
            dv = truth.state_at(track.last_time + h)[3:] - truth.state_at(track.last_time - h)[3:]
            thrust = dv / (2 * h) - acceleration(x)[3:]
            assert track.accel is not None
            # The white-noise model of before lagged by hundreds of m/s here.
            assert np.linalg.norm(track.x[3:] - x[3:]) < 150.0
            assert np.linalg.norm(track.accel - thrust) < 25.0  # of 60 m/s^2
    assert midcourse_at is not None
    assert truth.burnout_time < midcourse_at < truth.burnout_time + 20.0


def test_combine_is_the_moment_matched_mixture() -> None:
    x = np.array([[[0.0] * 9, [2.0] * 9]])
    p = np.stack([np.eye(9), 3 * np.eye(9)])[None]
    xc, pc = combine(np.array([[0.5, 0.5]]), x, p)
    assert xc[0] == pytest.approx([1.0] * 9)
    assert pc[0] == pytest.approx(2.0 * np.eye(9) + np.ones((9, 9)))


def test_vectorised_step_is_the_one_track_step() -> None:
    rng = np.random.default_rng(4)
    k = 7
    params = ImmParams()
    x = np.zeros((k, 2, 9))
    x[:, :, :6] = X0 + rng.standard_normal((k, 1, 6)) * [1e4, 1e4, 1e4, 100, 100, 100]
    x[:, 1, 6:] = rng.standard_normal((k, 3)) * 20.0
    a = rng.standard_normal((k, 2, 9, 9))
    p = a @ np.swapaxes(a, -1, -2) * 100.0 + np.eye(9)
    p[:, 0, 6:, :] = p[:, 0, :, 6:] = 0.0
    mu = rng.dirichlet([1.0, 1.0], size=k)
    dt = np.array([0.3, 1.0, 2.0, 4.9, 12.0, 40.0, 0.0])  # Taylor and RK4 rows
    z = x[:, 0, :3] + rng.standard_normal((k, 3)) * 100.0
    b = rng.standard_normal((k, 3, 3))
    r = b @ np.swapaxes(b, -1, -2) * 1e3 + np.eye(3)
    taus = np.repeat(switching(params), k, axis=0)
    taus[::2, 3] = 0.0
    together = step(mu, x, p, dt, z, r, params, taus)
    for i in range(k):
        one = step(
            mu[i : i + 1], x[i : i + 1], p[i : i + 1], dt[i : i + 1], z[i : i + 1],
            r[i : i + 1], params, taus[i : i + 1],
        )  # fmt: skip
        for a_all, a_one in zip(together, one, strict=True):
            assert a_all[i] == pytest.approx(a_one[0], rel=1e-12, abs=1e-9)


def test_symmetric_3x3_inverse() -> None:
    rng = np.random.default_rng(5)
    b = rng.standard_normal((50, 3, 3))
    s = b @ np.swapaxes(b, -1, -2) * 10.0 ** rng.uniform(-4, 6, (50, 1, 1)) + np.eye(3) * 1e-3
    inv, det = inv_sym3(s)
    assert inv == pytest.approx(np.linalg.inv(s), rel=1e-9)
    assert det == pytest.approx(np.linalg.det(s), rel=1e-9)
