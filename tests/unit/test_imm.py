"""The IMM step: reduces to the Kalman filter when one mode is certain; mode probabilities
respond to the data."""

from __future__ import annotations

import numpy as np
import pytest

from hotline.tracks.ballistics import transition, white_accel_q
from hotline.tracks.geodesy import geodetic_to_ecef
from hotline.tracks.imm import ImmParams, combine, step, transition_probabilities

X0 = np.concatenate([geodetic_to_ecef(39.0, 130.0, 300e3), [2000.0, -500.0, 800.0]])


def test_certain_ballistic_mode_is_the_extended_kalman_filter() -> None:
    params = ImmParams(tau_to_manoeuvre_s=1e30, tau_midcourse_s=1e30)
    p0 = np.diag([100.0**2] * 3 + [5.0**2] * 3)
    z = X0[:3] + np.array([30.0, -20.0, 50.0])
    r = np.diag([50.0**2, 60.0**2, 70.0**2])
    dt = 2.0
    mu = np.array([[1.0, 0.0]])
    xm, pm = np.stack([X0, X0])[None], np.stack([p0, p0])[None]
    _, x_n, p_n = step(mu, xm, pm, np.array([dt]), z[None], r[None], params)
    # Hand-written EKF with the same model.
    xp, phi = transition(X0, dt, params.model, max_step_s=params.max_step_s, j2_gradient=False)
    pp = phi @ p0 @ phi.T + white_accel_q(dt, params.q_ballistic)
    s = pp[:3, :3] + r
    k = pp[:, :3] @ np.linalg.inv(s)
    x_kf = xp + k @ (z - xp[:3])
    i_kh = np.eye(6)
    i_kh[:, :3] -= k
    p_kf = i_kh @ pp @ i_kh.T + k @ r @ k.T
    assert x_n[0, 0] == pytest.approx(x_kf, abs=1e-6)
    assert p_n[0, 0] == pytest.approx(p_kf, rel=1e-9, abs=1e-9)


def test_transition_probabilities_are_stochastic() -> None:
    pi = transition_probabilities(np.array([0.0, 1.0, 100.0]), ImmParams())
    assert pi.sum(axis=-1) == pytest.approx(np.ones((3, 2)))
    assert pi[0] == pytest.approx(np.eye(2))
    assert pi[2, 1, 0] > pi[1, 1, 0]


def test_a_manoeuvre_raises_the_manoeuvre_probability() -> None:
    params = ImmParams()
    p0 = np.diag([50.0**2] * 3 + [2.0**2] * 3)
    mu = np.array([[0.9, 0.1]])
    xm, pm = np.stack([X0, X0])[None], np.stack([p0, p0])[None]
    r = np.eye(3) * 30.0**2
    xp, _ = transition(X0, 1.0)
    quiet = step(mu, xm, pm, np.array([1.0]), xp[None, :3], r[None], params)[0]
    # A 40 m/s^2 unmodelled acceleration for 1 s moves the body 20 m; over 5 s, 500 m.
    xp5, _ = transition(X0, 5.0)
    kick = xp5[:3] + 500.0 * X0[3:] / np.linalg.norm(X0[3:])
    loud = step(mu, xm, pm, np.array([5.0]), kick[None], r[None], params)[0]
    assert quiet[0, 1] < 0.1 < loud[0, 1]


def test_combine_is_the_moment_matched_mixture() -> None:
    x = np.array([[[0.0] * 6, [2.0] * 6]])
    p = np.stack([np.eye(6), 3 * np.eye(6)])[None]
    xc, pc = combine(np.array([[0.5, 0.5]]), x, p)
    assert xc[0] == pytest.approx([1.0] * 6)
    assert pc[0] == pytest.approx(2.0 * np.eye(6) + np.ones((6, 6)))
