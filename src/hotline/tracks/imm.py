"""Interacting multiple model (IMM) extended Kalman filter, vectorised over tracks.

Two modes over 9-vectors (``ballistics.N_STATE``), on top of J2 gravity in the rotating frame
(``ballistics.transition_modes``):

* mode 0, **ballistic**: ``[r, v, ln beta, 0, 0]``, ECEF position (m), Earth-relative velocity
  (m/s) and the natural logarithm of the ballistic coefficient ``beta = m / (C_D A)``
  (kg/m^2); unpowered flight with the drag ``a_d = -rho(h) |v| v / (2 beta)`` of the
  exponential atmosphere (``ballistics.drag_terms``; nil above 100 km), the classical re-entry
  filter with the ballistic coefficient as a state (Zarchan and Musoff, "Fundamentals of Kalman
  Filtering: A Practical Approach", AIAA, ch. 8; Li and Jilkov, "Survey of maneuvering target
  tracking. Part II: motion models of ballistic and space targets", IEEE T-AES 46(1), 2010).
  Prior ``ln beta ~ N(ln 20,000, 0.7^2)``; white acceleration of density ``q_ballistic``
  (m^2/s^3) for what the model leaves out, and a random walk of ``ln beta`` in the air
  (``q_log_beta``). Slots 7-8 are unused (zero, with no covariance);
* mode 1, **powered**: ``[r, v, a]``, ``a`` the non-gravitational specific force (m/s^2) as a
  Wiener process (white jerk of density ``q_jerk``, m^2/s^5; the "Wiener-process acceleration"
  model of BLK sec. 6.2.3) plus white acceleration ``q_powered``. It follows the thrust of the
  boost phase (which grows as propellant burns and turns with the pitch programme) without the
  lag of a white-noise model, so that burn-out shows up within seconds as the powered mode keeps
  predicting thrust that is gone.

The drag flown by the ballistic mode's mean is the mean one over its ``ln beta`` spread:
``1 / beta`` is log-normal, ``E[1 / beta] = exp(-ln beta + P_bb / 2)`` (the second-order term
of the re-entry filter of Athans, Wishner and Bertolini, IEEE T-AC 13(5), 1968, exact for the
log-normal; without it the estimate of a body well off the prior lagged and was overconfident
as drag built up).

The modes' states differ. Mixing follows Granstrom, Willett and Bar-Shalom, "Systematic approach
to IMM mixing for unequal dimension states", IEEE T-AES 51(4), 2015: each target mode sees the
other's state augmented with a neutral prior for what it does not estimate (``mix``).

One filter cycle per measurement (Bar-Shalom, Li and Kirubarajan, "Estimation with Applications
to Tracking and Navigation", Wiley 2001, hereafter BLK, sec. 11.6.6):

1. mode transition probabilities for the elapsed time ``dt``:
   ``p01 = 1 - exp(-|dt| / tau_to_powered)``, ``p10 = 1 - exp(-|dt| / tau_to_ballistic)``
   (a continuous-time Markov chain; both times depend on the track's flight phase,
   ``trackstate.mode_taus``: in midcourse and re-entry a ballistic missile cannot manoeuvre, so
   the powered mode is shut; in boost it is the likelier and burn-out may come at any moment);
   predicted mode probabilities ``c_j = sum_i p_ij mu_i`` and mixing weights
   ``mu_i|j = p_ij mu_i / c_j``;
2. mixing: ``x0_j = sum_i mu_i|j x_ij``,
   ``P0_j = sum_i mu_i|j (P_ij + (x_ij - x0_j)(x_ij - x0_j)^T)``, ``x_ij``, ``P_ij`` the
   state of mode ``i`` as mode ``j`` sees it;
3. EKF prediction of each mode: ``x_j- = f_j(x0_j, dt)``, ``P_j- = Phi_j P0_j Phi_j^T +
   Q_j(dt)`` with ``Phi_j`` from ``ballistics.transition_modes`` (the gravity gradient at mode
   0's mean, shared: the modes' means differ by metres, the Jacobians by nothing that matters;
   the drag partials at mode 0's own) and ``Q_j`` from ``ballistics.kinematic_q9``;
4. Kalman update with a position measurement ``z`` (ECEF, covariance ``R``), ``H = [I 0 0]``:
   ``nu = z - H x-``, ``S = H P- H^T + R``, ``K = P- H^T S^-1``, Joseph form
   ``P+ = (I - K H) P- (I - K H)^T + K R K^T`` (BLK eq. 5.2.3-18), symmetrised. ``(I - K H)``
   differs from ``I`` in three columns only, so ``(I - K H) P = P - K P[:3]`` and
   ``(I - K H) P (I - K H)^T = Y - Y[:, :3] K^T`` with ``Y = (I - K H) P``: the same products,
   without the 9x9 multiplications;
5. mode probabilities ``mu_j = N(nu_j; 0, S_j) c_j / sum_k N(nu_k; 0, S_k) c_k``;
6. combined estimate (for output only; ``output``): the ballistic mode taken to ``[r, v, a]``
   (``a`` its drag, ``to_accel_space``), then ``x = sum_j mu_j x_j``,
   ``P = sum_j mu_j (P_j + (x_j - x)(x_j - x)^T)``.

Every function takes ``k`` tracks stacked on the first axis: ``mu (k, 2)``, ``x (k, 2, 9)``,
``P (k, 2, 9, 9)``; every step is a fixed number of NumPy calls whatever ``k``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from hotline.tracks.ballistics import (
    BLOCK_OF,
    LOG_BETA,
    N_STATE,
    Q_POWERS,
    SAME_AXIS,
    VACUUM,
    ForceModel,
    drag_accel,
    transition_modes,
)

F64 = NDArray[np.float64]

#: Number of IMM modes: 0 ballistic, 1 powered (thrust or drag).
N_MODES = 2
_LOG_2PI_3 = 3.0 * math.log(2.0 * math.pi)
_EYE3 = np.eye(3)


@dataclass(frozen=True, slots=True)
class ImmParams:
    """Tuning of the two-mode IMM.

    ``q_ballistic``: white acceleration density (m^2/s^3) of the ballistic mode. ``q_jerk``
    (m^2/s^5) and ``q_powered`` (m^2/s^3): white jerk and white acceleration of the powered mode
    (``sqrt(q_jerk)`` is the 1-sigma random walk of the thrust acceleration per sqrt(second):
    the notional boosters' thrust grows by up to 2 m/s^3 and turns by 1 degree/s).
    ``accel_prior_m_s2``: 1-sigma per axis of the thrust acceleration of a new track and when
    the powered mode is entered from the ballistic one. ``q_manoeuvre``: white acceleration
    (m^2/s^3) that sizes association gates and the covariance of new tracks for what no mode
    predicts (thrust switched on or off, staging). ``tau_*``: mean sojourn times (s) setting the
    mode switching probabilities per flight phase (``trackstate.mode_taus``); in boost, burn-out
    comes on average ``tau_boost_to_ballistic_s`` after any moment (the notional boosters burn
    66-225 s; 300 s, as before, made the powered mode linger 8-12 s past burn-out, its thrust
    contaminating the ballistic mode it seeds: burn-out is now more probable than not 6-7 s
    after it in the fused track, median, 8 s before).
    ``max_step_s``: largest RK4 sub-step of a long prediction; ``taylor_max_s``: predictions up
    to this long take one third-order Taylor step (``ballistics.transition_modes``).
    ``log_beta_prior``, ``log_beta_sigma``: the prior ``N(m, s^2)`` of the ballistic mode's
    ``ln beta`` (``beta`` in kg/m^2): median 20,000 kg/m^2, a factor 2 either way at 1 sigma,
    5,000-80,000 kg/m^2 at 2 sigma (blunt light bodies to slender heavy ones; not fitted to
    the benchmark's four, 8,000-60,000). ``q_log_beta`` (1/s): its random walk in the air,
    3 % per root second (a body's drag coefficient changes with Mach number as it descends and
    a real atmosphere differs from the model's; it also keeps the filter consistent through
    the strongly non-linear onset of drag: NEES of ``[r, v, ln beta]`` 6-13 where 7 is
    consistent, 20-80 with 1e-5, in ``tests/unit/test_reentry.py``'s dives).
    """

    q_ballistic: float = 1e-6
    q_jerk: float = 4.0
    q_powered: float = 1.0
    accel_prior_m_s2: float = 30.0
    q_manoeuvre: float = 1.0e4
    tau_to_powered_s: float = 200.0
    tau_midcourse_s: float = 1.0e6
    tau_to_ballistic_s: float = 15.0
    tau_boost_to_ballistic_s: float = 30.0
    max_step_s: float = 30.0
    taylor_max_s: float = 5.0
    model: ForceModel = VACUUM
    log_beta_prior: float = math.log(20_000.0)
    log_beta_sigma: float = 0.7
    q_log_beta: float = 1e-3

    def q(self) -> F64:
        """White acceleration densities per mode ``(2,)``."""
        return np.array([self.q_ballistic, self.q_powered])

    def q_jerks(self) -> F64:
        """White jerk densities per mode ``(2,)`` (none in the ballistic mode)."""
        return np.array([0.0, self.q_jerk])


def switching(params: ImmParams) -> F64:
    """The default per-track switching row ``(1, 4)``: mean sojourn times (s) before switching
    to the powered and to the ballistic mode, the 1-sigma (m/s^2) of the acceleration the
    powered mode is given when it takes over from the ballistic one, and 1 if the powered
    mode's estimate is mixed into the ballistic mode (0: not, see ``mix``)."""
    return np.array(
        [[params.tau_to_powered_s, params.tau_to_ballistic_s, params.accel_prior_m_s2, 1.0]]
    )


def transition_probabilities(dt: F64, params: ImmParams, taus: F64 | None = None) -> F64:
    """Mode transition matrices ``(k, 2, 2)``, ``[i, j] = P(mode j now | mode i before)``;
    ``taus (k, 2+)`` (to powered, to ballistic, ...) override ``params``' per track
    (``switching``, ``trackstate.mode_taus``)."""
    a = np.abs(dt)
    if taus is None:
        taus = switching(params)
    p = -np.expm1(-a[:, None] / taus[:, :2])  # (k, 2): p01, p10
    out = np.empty((a.shape[0], 2, 2))
    flat = out.reshape(-1, 4)  # [p00, p01, p10, p11]
    flat[:, 1:3] = p
    flat[:, 0::3] = 1.0 - p
    return out


def mix(
    mu: F64, x: F64, p: F64, dt: F64, params: ImmParams, taus: F64 | None = None
) -> tuple[F64, F64, F64]:
    """Steps 1-2: predicted mode probabilities ``c (k, 2)`` and mixed ``x0 (k, 2, 9)``,
    ``P0 (k, 2, 9, 9)``. ``taus (k, 4)``: per track, the switching times, the acceleration
    prior and whether the ballistic mode takes a share of the powered mode's estimate
    (``switching``). Where it does not (midcourse and re-entry: a coasting body cannot have been
    powered a moment ago, so the powered mode's estimate, fitted to noise, has nothing to give),
    the ballistic mode's mixing weights are ``mu_0|0 = 1``, ``mu_1|0 = 0`` while the mode
    probabilities still follow the Markov chain.

    The modes' states differ (Granstrom, Willett and Bar-Shalom, IEEE T-AES 51(4), 2015): each
    target mode mixes the sources as it sees them. The ballistic mode ``[r, v, ln beta]`` sees
    the powered state's ``(r, v)`` with the prior of ``ln beta`` (uncorrelated with ``(r, v)``:
    a body whose thrust has just ended has told nothing of its drag; the ballistic mode's own
    ``ln beta``, fitted while the body was in fact thrusting, is not evidence); the powered mode
    ``[r, v, a]`` sees the ballistic state's ``(r, v)`` with ``a ~ N(0, prior^2 I)``, a neutral
    prior for a thrust or manoeuvre (the powered mode enters from the ballistic one in boost,
    where drag is small against it; in midcourse and re-entry it is shut)."""
    k = mu.shape[0]
    if taus is None:
        taus = switching(params)
    pi = transition_probabilities(dt, params, taus)
    c = mu[:, 0, None] * pi[:, 0] + mu[:, 1, None] * pi[:, 1]  # (k, 2)
    w = pi * mu[:, :, None] / np.maximum(c, 1e-300)[:, None, :]  # w[k, i, j] = mu_i|j
    w[:, 1, 0] *= taus[:, 3]
    w[:, 0, 0] = 1.0 - w[:, 1, 0]
    wt = np.swapaxes(w, 1, 2)  # wt[k, j, i]
    pb, pp = p[:, 0], p[:, 1]
    xs = np.empty((k, N_MODES, N_MODES, N_STATE))  # xs[k, j, i]: source i as target j sees it
    xs[:] = x[:, None]
    xs[:, 0, 1, 6:] = (params.log_beta_prior, 0.0, 0.0)
    xs[:, 1, 0, 6:] = 0.0
    x0 = (wt[..., None] * xs).sum(axis=2)
    w00, w10, w01, w11 = (w[:, i, j, None, None] for i, j in ((0, 0), (1, 0), (0, 1), (1, 1)))
    p0 = np.empty((k, N_MODES, N_STATE, N_STATE))
    # Ballistic target: w00 P_b + w10 [[P_p(r, v), 0], [0, prior of ln beta]].
    p0[:, 0] = w00 * pb
    p0[:, 0, :6, :6] += w10 * pp[:, :6, :6]
    p0[:, 0, LOG_BETA, LOG_BETA] += w10[:, 0, 0] * params.log_beta_sigma**2
    # Powered target: w01 [[P_b(r, v), 0], [0, prior^2 I]] + w11 P_p.
    p0[:, 1] = w11 * pp
    p0[:, 1, :6, :6] += w01 * pb[:, :6, :6]
    p0[:, 1, 6:, 6:] += (taus[:, 2] ** 2 * w[:, 0, 1])[:, None, None] * _EYE3
    d = xs - x0[:, :, None, :]  # d[k, j, i] = xs_ji - x0_j
    p0 += np.swapaxes(d * wt[..., None], -1, -2) @ d
    return c, x0, p0


_Q_COEF: dict[ImmParams, F64] = {}


def process_noise(dt: F64, params: ImmParams) -> F64:
    """``Q_j(dt)`` of both modes ``(k, 2, 9, 9)``: ``ballistics.kinematic_q9`` with each mode's
    densities, as one product of the powers ``|dt|^1..5`` with a per-``params`` coefficient
    matrix that already holds every element of both modes' ``Q`` (the same numbers, in fewer
    array operations)."""
    coef = _Q_COEF.get(params)
    if coef is None:
        dens = np.stack([params.q(), params.q_jerks()])  # (2 densities, 2 modes)
        blocks = np.einsum("pdab,dm->pmab", Q_POWERS, dens)  # (5, 2, 3, 3)
        full = blocks[:, :, BLOCK_OF[:, None], BLOCK_OF[None, :]] * SAME_AXIS
        coef = _Q_COEF[params] = full.reshape(5, N_MODES * N_STATE * N_STATE)
    h = np.abs(dt)[:, None]
    powers = np.cumprod(np.broadcast_to(h, (h.shape[0], 5)), axis=1)  # |dt|^1..5
    out: F64 = (powers @ coef).reshape(-1, N_MODES, N_STATE, N_STATE)
    return out


def predict(x: F64, p: F64, dt: F64, params: ImmParams) -> tuple[F64, F64]:
    """Step 3 for every mode: ``x (k, 2, 9)``, ``P (k, 2, 9, 9)`` moved by ``dt (k,)`` seconds
    (``ballistics.transition_modes``: the ballistic mode with the drag of its ``ln beta``, the
    powered one with its ``a``); ``ln beta`` takes the random walk ``q_log_beta |dt|`` in the
    air."""
    # The drag flown is the mean one over ln beta's spread: 1 / beta is log-normal, its mean
    # exp(-ln beta + var / 2) (the second-order term of Athans, Wishner and Bertolini's
    # re-entry filter, IEEE T-AC 13(5), 1968, exact for the log-normal).
    shift = 0.5 * p[:, 0, LOG_BETA, LOG_BETA]
    xs = x.copy()
    xs[:, 0, LOG_BETA] -= shift
    xp, phi = transition_modes(
        xs,
        dt,
        params.model,
        drag_mode=0,
        max_step_s=params.max_step_s,
        taylor_max_s=params.taylor_max_s,
    )
    xp[:, 0, LOG_BETA] += shift
    pp = phi @ p @ np.swapaxes(phi, -1, -2)
    pp += process_noise(dt, params)
    # The random walk of ln beta in the air only (where drag acts: its column in Phi is not
    # nil): a body's drag coefficient changes with Mach number as it descends, and a real
    # atmosphere differs from the model; above the air it would only widen the prior.
    drag_col = phi[:, 0, 3:6, LOG_BETA]
    if drag_col.any():
        in_air = (drag_col != 0.0).any(axis=1)
        pp[:, 0, LOG_BETA, LOG_BETA] += params.q_log_beta * np.abs(dt) * in_air
    return xp, pp


def inv_sym3(s: F64) -> tuple[F64, F64]:
    """Inverse ``(..., 3, 3)`` and determinant ``(...)`` of symmetric 3x3 matrices by the
    adjugate (cofactors), ``S^-1 = adj(S) / det(S)``: a dozen array operations whatever the
    stack's size, where a LAPACK call per matrix costs more than the arithmetic."""
    a, b, c = s[..., 0, 0], s[..., 0, 1], s[..., 0, 2]
    d, e, f = s[..., 1, 1], s[..., 1, 2], s[..., 2, 2]
    adj = np.empty_like(s)
    adj[..., 0, 0] = d * f - e * e
    adj[..., 0, 1] = adj[..., 1, 0] = c * e - b * f
    adj[..., 0, 2] = adj[..., 2, 0] = b * e - c * d
    adj[..., 1, 1] = a * f - c * c
    adj[..., 1, 2] = adj[..., 2, 1] = b * c - a * e
    adj[..., 2, 2] = a * d - b * b
    det = a * adj[..., 0, 0] + b * adj[..., 0, 1] + c * adj[..., 0, 2]
    out: F64 = adj / det[..., None, None]
    return out, det


def update(x: F64, p: F64, z: F64, r: F64) -> tuple[F64, F64, F64]:
    """Step 4 for every mode with position measurements ``z (k, 3)``, ``R (k, 3, 3)``.

    Returns updated ``x``, ``P`` and the log-likelihoods ``(k, 2)`` of the innovations.
    """
    nu = z[:, None, :] - x[..., :3]
    ph = p[..., :, :3]  # P H^T  (k, 2, 9, 3)
    rm = r[:, None]
    s = ph[..., :3, :] + rm
    s = 0.5 * (s + np.swapaxes(s, -1, -2))
    s_inv, det = inv_sym3(s)
    gain = ph @ s_inv  # (k, 2, 9, 3)
    s_nu = (s_inv @ nu[..., None])[..., 0]
    xu = x + (ph @ s_nu[..., None])[..., 0]
    kt = np.swapaxes(gain, -1, -2)
    y = p - gain @ p[..., :3, :]  # (I - K H) P
    pu = y - y[..., :, :3] @ kt  # (I - K H) P (I - K H)^T
    pu += gain @ rm @ kt
    pu = 0.5 * (pu + np.swapaxes(pu, -1, -2))
    nis = np.einsum("kmi,kmi->km", nu, s_nu)
    loglik: F64 = -0.5 * (nis + np.log(det) + _LOG_2PI_3)
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
    """Step 6: combined state ``(k, 9)`` and covariance ``(k, 9, 9)``."""
    k = mu.shape[0]
    xc = (mu[:, None, :] @ x)[:, 0]
    d = x - xc[:, None, :]
    pc = (mu[:, None, :] @ p.reshape(k, N_MODES, N_STATE * N_STATE)).reshape(k, N_STATE, N_STATE)
    pc += np.swapaxes(d * mu[:, :, None], 1, 2) @ d
    pc = 0.5 * (pc + np.swapaxes(pc, -1, -2))
    return xc, pc


def to_accel_space(xb: F64, pb: F64) -> tuple[F64, F64]:
    """The ballistic mode's ``[r, v, ln beta]`` estimates ``(k, 9)``, ``(k, 9, 9)`` as
    ``[r, v, a]`` ones, the space the powered mode and the combined estimate live in: ``a`` is
    the drag at the mean (``ballistics.drag_accel``), the ``(r, v)`` covariance is kept and
    ``a`` is given none (its spread from that of ``ln beta``, a few m/s^2 low in the air, moves a
    1-2 s prediction by metres; the combined estimate is output and gating only, the filter
    runs on the modes' own states)."""
    xa = xb.copy()
    xa[:, 6:] = drag_accel(xb)
    pa = pb.copy()
    pa[:, 6:, :] = 0.0
    pa[:, :, 6:] = 0.0
    return xa, pa


def output(mu: F64, x: F64, p: F64) -> tuple[F64, F64, F64, F64]:
    """The combined estimate ``[r, v, a]`` ``(k, 9)``, ``(k, 9, 9)`` (step 6): the ballistic mode
    taken to ``[r, v, a]`` (``to_accel_space``), then ``combine``d with the powered one; and
    that ``[r, v, a]`` view of the ballistic mode."""
    xa, pa = to_accel_space(x[:, 0], p[:, 0])
    xs = x.copy()
    ps = p.copy()
    xs[:, 0], ps[:, 0] = xa, pa
    xc, pc = combine(mu, xs, ps)
    return xc, pc, xa, pa


def predict_only(
    mu: F64, x: F64, p: F64, dt: F64, params: ImmParams, taus: F64 | None = None
) -> tuple[F64, F64, F64]:
    """Steps 1-3 without a measurement (for gating and merging): predicted mode probabilities
    ``(k, 2)``, states ``(k, 2, 9)`` and covariances ``(k, 2, 9, 9)``; ``combine`` them for the
    output estimate."""
    c, x0, p0 = mix(mu, x, p, dt, params, taus)
    xp, pp = predict(x0, p0, dt, params)
    return c, xp, pp
