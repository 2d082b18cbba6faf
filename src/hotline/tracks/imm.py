"""Interacting multiple model (IMM) extended Kalman filter, vectorised over tracks.

Each track carries two modes over the same state ``x = [r, v]`` (ECEF, m and m/s) and the same
dynamics (``ballistics``: J2 gravity in the rotating frame), differing only in process noise:

* mode 0, **ballistic**: white acceleration of power spectral density ``q_ballistic`` (m^2/s^3),
  small, for unpowered flight above the atmosphere;
* mode 1, **manoeuvre**: ``q_manoeuvre``, large, standing in for the unmodelled thrust of the boost
  phase and the unmodelled drag of the terminal phase.

One filter cycle per measurement (Bar-Shalom, Li and Kirubarajan, "Estimation with Applications
to Tracking and Navigation", Wiley 2001, hereafter BLK, sec. 11.6.6):

1. mode transition probabilities for the elapsed time ``dt``:
   ``p01 = 1 - exp(-|dt| / tau_to_manoeuvre)``, ``p10 = 1 - exp(-|dt| / tau_to_ballistic)``
   (a continuous-time Markov chain; both times may differ per track with its flight phase:
   in midcourse a ballistic missile cannot manoeuvre, so ``tau_midcourse_s`` keeps the
   manoeuvre mode's spread out of the ballistic estimate; in boost the manoeuvre mode is
   sticky, ``tau_boost_to_ballistic_s``, so that a weak thrust under noisy reports is not
   taken for burn-out by the prior alone: see ``trackstate.mode_taus``);
   predicted mode probabilities ``c_j = sum_i p_ij mu_i`` and mixing weights
   ``mu_i|j = p_ij mu_i / c_j``;
2. mixing: ``x0_j = sum_i mu_i|j x_i``,
   ``P0_j = sum_i mu_i|j (P_i + (x_i - x0_j)(x_i - x0_j)^T)``;
3. EKF prediction of each mode: ``x_j- = f(x0_j, dt)`` (RK4), ``P_j- = Phi P0_j Phi^T + Q_j(dt)``
   with ``Phi`` from ``ballistics.transition`` (at mode 0's mean, shared) and ``Q_j`` from
   ``ballistics.white_accel_q``;
4. Kalman update with a position measurement ``z`` (ECEF, covariance ``R``), ``H = [I 0]``:
   ``nu = z - H x-``, ``S = H P- H^T + R``, ``K = P- H^T S^-1``, Joseph form
   ``P+ = (I - K H) P- (I - K H)^T + K R K^T`` (BLK eq. 5.2.3-18), symmetrised;
5. mode probabilities ``mu_j = N(nu_j; 0, S_j) c_j / sum_k N(nu_k; 0, S_k) c_k``;
6. combined estimate (for output only): ``x = sum_j mu_j x_j``,
   ``P = sum_j mu_j (P_j + (x_j - x)(x_j - x)^T)``.

Every function takes ``k`` tracks stacked on the first axis: ``mu (k, 2)``, ``x (k, 2, 6)``,
``P (k, 2, 6, 6)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from hotline.tracks.ballistics import VACUUM, ForceModel, propagate, transition, white_accel_q

F64 = NDArray[np.float64]

#: Number of IMM modes: 0 ballistic, 1 manoeuvre.
N_MODES = 2
_LOG_2PI_3 = 3.0 * math.log(2.0 * math.pi)


@dataclass(frozen=True, slots=True)
class ImmParams:
    """Tuning of the two-mode IMM.

    ``q_ballistic`` and ``q_manoeuvre``: process noise power spectral densities (m^2/s^3);
    ``sqrt(q)`` is the 1-sigma velocity random walk per sqrt(second). ``tau_to_manoeuvre_s``,
    ``tau_to_ballistic_s``: mean sojourn times (s) setting the mode switching probabilities;
    ``tau_midcourse_s`` replaces ``tau_to_manoeuvre_s`` in midcourse and
    ``tau_boost_to_ballistic_s`` replaces ``tau_to_ballistic_s`` in boost.
    ``max_step_s``: largest RK4 sub-step of a prediction.
    """

    q_ballistic: float = 1e-4
    q_manoeuvre: float = 1.0e4
    tau_to_manoeuvre_s: float = 200.0
    tau_midcourse_s: float = 1.0e6
    tau_to_ballistic_s: float = 15.0
    tau_boost_to_ballistic_s: float = 300.0
    max_step_s: float = 10.0
    model: ForceModel = VACUUM

    def q(self) -> F64:
        """Process noise densities per mode ``(2,)``."""
        return np.array([self.q_ballistic, self.q_manoeuvre])


def transition_probabilities(dt: F64, params: ImmParams, taus: F64 | None = None) -> F64:
    """Mode transition matrices ``(k, 2, 2)``, ``[i, j] = P(mode j now | mode i before)``;
    ``taus (k, 2)`` (to manoeuvre, to ballistic) override ``params``' per track."""
    a = np.abs(dt)
    if taus is None:
        taus = np.array([[params.tau_to_manoeuvre_s, params.tau_to_ballistic_s]])
    p01 = -np.expm1(-a / taus[:, 0])
    p10 = -np.expm1(-a / taus[:, 1])
    out: F64 = np.stack([np.stack([1 - p01, p01], -1), np.stack([p10, 1 - p10], -1)], -2)
    return out


def mix(
    mu: F64, x: F64, p: F64, dt: F64, params: ImmParams, taus: F64 | None = None
) -> tuple[F64, F64, F64]:
    """Steps 1-2: predicted mode probabilities ``c (k, 2)`` and mixed ``x0 (k, 2, 6)``,
    ``P0 (k, 2, 6, 6)``."""
    pi = transition_probabilities(dt, params, taus)
    c = (mu[:, :, None] * pi).sum(axis=1)
    w = pi * mu[:, :, None] / np.maximum(c, 1e-300)[:, None, :]  # w[k, i, j] = mu_i|j
    x0 = np.swapaxes(w, 1, 2) @ x  # x0[k, j] = sum_i w[k, i, j] x[k, i]
    p0 = np.empty_like(p)
    for j in range(N_MODES):  # written out: with two modes this beats a 3-operand einsum
        d = x - x0[:, None, j, :]  # (k, 2, 6): x_i - x0_j
        spread = d[:, :, :, None] * d[:, :, None, :]
        wj = w[:, :, j, None, None]
        p0[:, j] = (wj * (p + spread)).sum(axis=1)
    return c, x0, p0


def predict(x: F64, p: F64, dt: F64, params: ImmParams) -> tuple[F64, F64]:
    """Step 3 for every mode: ``x (k, 2, 6)``, ``P (k, 2, 6, 6)`` moved by ``dt (k,)`` seconds.

    Both modes' means are propagated; the transition matrix is computed once per track, at
    the ballistic mode's mixed mean (the two means differ by metres, the Jacobians by
    nothing that matters), and applied to both covariances.
    """
    k = x.shape[0]
    x0p, phi = transition(
        x[:, 0], dt, params.model, max_step_s=params.max_step_s, j2_gradient=False
    )
    x1p = propagate(x[:, 1], dt, params.model, max_step_s=params.max_step_s)
    xp = np.stack([x0p, x1p], axis=1)
    q = white_accel_q(np.repeat(dt, N_MODES), np.tile(params.q(), k)).reshape(k, N_MODES, 6, 6)
    pp = phi[:, None] @ p @ np.swapaxes(phi, -1, -2)[:, None] + q
    return xp, pp


def update(x: F64, p: F64, z: F64, r: F64) -> tuple[F64, F64, F64]:
    """Step 4 for every mode with position measurements ``z (k, 3)``, ``R (k, 3, 3)``.

    Returns updated ``x``, ``P`` and the log-likelihoods ``(k, 2)`` of the innovations.
    """
    nu = z[:, None, :] - x[..., :3]
    s = p[..., :3, :3] + r[:, None]
    s_inv = np.linalg.inv(s)
    gain = p[..., :, :3] @ s_inv  # (k, 2, 6, 3)
    xu = x + (gain @ nu[..., None])[..., 0]
    ikh = np.broadcast_to(np.eye(6), (*gain.shape[:-2], 6, 6)).copy()
    ikh[..., :, :3] -= gain
    pu = ikh @ p @ np.swapaxes(ikh, -1, -2) + gain @ r[:, None] @ np.swapaxes(gain, -1, -2)
    pu = 0.5 * (pu + np.swapaxes(pu, -1, -2))
    nis = (nu[..., None, :] @ s_inv @ nu[..., None])[..., 0, 0]
    loglik: F64 = -0.5 * (nis + np.log(np.linalg.det(s)) + _LOG_2PI_3)
    return xu, pu, loglik


def step(
    mu: F64,
    x: F64,
    p: F64,
    dt: F64,
    z: F64,
    r: F64,
    params: ImmParams,
    taus: F64 | None = None,
) -> tuple[F64, F64, F64]:
    """One full IMM cycle (steps 1-5) of ``k`` tracks to a measurement each."""
    c, x0, p0 = mix(mu, x, p, dt, params, taus)
    xp, pp = predict(x0, p0, dt, params)
    xu, pu, loglik = update(xp, pp, z, r)
    logw = loglik + np.log(np.maximum(c, 1e-300))
    logw -= logw.max(axis=1, keepdims=True)
    w = np.exp(logw)
    mu_new: F64 = np.clip(w / w.sum(axis=1, keepdims=True), 1e-12, 1.0)
    mu_new /= mu_new.sum(axis=1, keepdims=True)
    return mu_new, xu, pu


def combine(mu: F64, x: F64, p: F64) -> tuple[F64, F64]:
    """Step 6: combined state ``(k, 6)`` and covariance ``(k, 6, 6)``."""
    xc = np.einsum("km,kmd->kd", mu, x)
    d = x - xc[:, None, :]
    pc = np.einsum("km,kmde->kde", mu, p) + np.einsum("km,kmd,kme->kde", mu, d, d)
    pc = 0.5 * (pc + np.swapaxes(pc, -1, -2))
    return xc, pc


def predict_only(
    mu: F64, x: F64, p: F64, dt: F64, params: ImmParams, taus: F64 | None = None
) -> tuple[F64, F64, F64]:
    """Steps 1-3 without a measurement (for gating and merging): predicted mode probabilities
    ``(k, 2)``, states ``(k, 2, 6)`` and covariances ``(k, 2, 6, 6)``; ``combine`` them for the
    output estimate."""
    c, x0, p0 = mix(mu, x, p, dt, params, taus)
    xp, pp = predict(x0, p0, dt, params)
    return c, xp, pp
