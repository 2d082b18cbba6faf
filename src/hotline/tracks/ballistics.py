"""Unpowered ballistic flight in the rotating Earth-fixed frame, and impact prediction.

State ``x = [r, v]`` (shape ``(..., 6)``): WGS-84 ECEF position (m) and velocity relative to
the rotating Earth (m/s). Equations of motion in the rotating frame (Vallado, "Fundamentals of
Astrodynamics and Applications", 4th ed., 2013, sec. 3.7, eq. 3-40; Zipfel, "Modeling and
Simulation of Aerospace Vehicle Dynamics", 2nd ed., sec. 10.2)::

    dr/dt = v
    dv/dt = g_J2(r) - 2 w x v - w x (w x r) + a_drag,          w = [0, 0, omega_E]

with the J2 gravity field (Vallado eq. 8-30)::

    g_J2(r) = -mu r / |r|^3 - (3/2) J2 mu R^2 / |r|^5 *
              [x (1 - 5 z^2/|r|^2), y (1 - 5 z^2/|r|^2), z (3 - 5 z^2/|r|^2)]

(constants WGS-84, NIMA TR8350.2; see ``geodesy``). Drag is that of an isothermal exponential
atmosphere ``a_drag = -rho(h) |v| v / (2 beta)``, ``rho = 1.225 exp(-h / 7200 m)`` (sea-level
density of the US Standard Atmosphere 1976; scale-height approximation as in Regan and
Anandakrishnan, "Dynamics of Atmospheric Re-Entry", AIAA 1993, ch. 2) below 100 km, with
ballistic coefficient ``beta = m / (C_D A)`` in kg/m^2: the truth of the scenario generator
(``ForceModel``), and the filter's ballistic mode with ``ln beta`` in its state
(``transition_modes``, ``drag_terms``).

Phases handled:

* **midcourse** (exo-atmospheric, unpowered): the model above is exact to the J2 level; the
  unmodelled higher harmonics are below 1e-4 m/s^2.
* **boost** is powered: the tracking filter (``imm``) adds the non-gravitational acceleration
  to its state, ``[r, v, a]`` (``transition9``), estimated by the powered mode of an
  interacting multiple model (IMM) filter as a Wiener process (``kinematic_q9``).
* **terminal** (re-entry): the ballistic mode flies with the drag of its estimated ``ln beta``
  (``transition_modes``); impact prediction flies each sigma point of ``[r, v, ln beta]`` with
  its own drag (``propagate_to_impact_many``), in every phase: a body's drag is unknown until
  it has flown through enough air, and the prior's spread of it is part of the prediction's
  (the benchmark measures what is left: ``docs/tracks.md``).

Impact prediction (``propagate_to_impact``) uses the unscented transform (Julier and Uhlmann,
"Unscented filtering and nonlinear estimation", Proc. IEEE 92(3), 2004): the 2n = 12 symmetric
sigma points ``x +/- sqrt(n P)_i`` (kappa = 0, weights 1/12) and the mean are each flown until
they descend through ellipsoid height 0, so the non-linear ground-crossing condition is handled
without linearisation; the impact points' local East-North scatter gives the 2x2 covariance and
its 95 % ellipse (chi-square, 2 dof: ``-2 ln 0.05 = 5.991``). With ``ln beta`` (7 dimensions)
its direction takes the three-point Gauss-Hermite rule instead (``_sigma_points_log_beta``).

Integration is classical fourth-order Runge-Kutta with a step that scales with the local orbital
time constant, ``h = 0.04 / n(r)``, ``n = sqrt(mu / |r|^3)`` (about 32 s near the ground, 90 s at
6,000 km altitude; the impact point is within 1 m of a 20 times finer integration for all four
benchmark shots); the ground crossing inside the last step is found on the cubic Hermite
interpolant of the step end points (position and velocity), by regula falsi.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hotline.tracks.geodesy import (
    WGS84_A,
    WGS84_F,
    WGS84_GM,
    WGS84_J2,
    WGS84_OMEGA,
    ecef_to_enu,
    ecef_to_geodetic,
    enu_to_ecef,
    geodetic_height,
    geodetic_height_xyz,
)

F64 = NDArray[np.float64]
I64 = NDArray[np.intp]

#: Chi-square quantile, 2 degrees of freedom, 95 %: ``-2 ln(0.05)``.
CHI2_2DOF_95: Final = -2.0 * math.log(0.05)
#: Sea-level air density (kg/m^3), US Standard Atmosphere 1976.
RHO0_KG_M3: Final = 1.225
#: Scale height (m) of the isothermal exponential atmosphere.
SCALE_HEIGHT_M: Final = 7200.0
#: Above this height drag is treated as zero (density below 1e-6 of sea level).
DRAG_CEILING_M: Final = 100_000.0
#: Dimensionless RK4 step ``h * n(r)`` for impact prediction.
STEP_MEAN_MOTION: Final = 0.04
#: Impact prediction with drag: RK4 steps of at most this (s) below the height where a body's
#: drag reaches ``DRAG_NEGLIGIBLE_G`` of gravity (the drag time constant ``|v| / |a_drag|`` is
#: 30 s or more for the bodies tracked here). Above that height the air changes a body's speed
#: by less than 0.04 m/s over its whole descent.
DRAG_STEP_S: Final = 2.0
DRAG_NEGLIGIBLE_G: Final = 1e-3
#: ``fly_to_ground``: ``2 g0 DRAG_NEGLIGIBLE_G / rho0`` (g0 = 9.80665 m/s^2).
_NEGLIGIBLE_RHO_V2: Final = 2.0 * 9.80665 * DRAG_NEGLIGIBLE_G / RHO0_KG_M3


def air_density(h: ArrayLike) -> F64:
    """Density (kg/m^3) of the isothermal exponential atmosphere at height ``h`` (m):
    ``rho0 exp(-h / H)`` below ``DRAG_CEILING_M``, 0 above (see the module doc)."""
    h = np.asarray(h, dtype=np.float64)
    out: F64 = np.where(h < DRAG_CEILING_M, RHO0_KG_M3 * np.exp(-h / SCALE_HEIGHT_M), 0.0)
    return out


@dataclass(frozen=True, slots=True)
class ForceModel:
    """Which terms of the equations of motion are on.

    ``j2``: the J2 oblateness term (else a point mass). ``rotating``: Coriolis and centrifugal
    terms of the Earth-fixed frame (switch off only for tests in an inertial frame).
    ``ballistic_coeff_kg_m2``: drag with this beta, or ``None`` for vacuum.
    """

    j2: bool = True
    rotating: bool = True
    ballistic_coeff_kg_m2: float | None = None


#: The filter's model: J2 gravity in the rotating frame, vacuum.
VACUUM: Final = ForceModel()


@dataclass(frozen=True, slots=True, eq=False)
class Impact:
    """Predicted impact: where and when the body descends through ellipsoid height 0.

    ``lat``, ``lon`` degrees WGS-84 (the unscented mean), ``time`` seconds (same epoch as the
    input time), ``time_sigma_s`` its 1-sigma; the 95 % ellipse has semi-axes ``semi_major_m``
    >= ``semi_minor_m`` and its major axis at ``orientation_deg`` clockwise from north in
    ``[0, 180)``; ``cov_enu_2x2`` is the ``(2, 2)`` East-North covariance (m^2) at the point.
    """

    lat: float
    lon: float
    time: float
    time_sigma_s: float
    semi_major_m: float
    semi_minor_m: float
    orientation_deg: float
    cov_enu_2x2: F64


def gravity(r: ArrayLike, *, j2: bool = True) -> F64:
    """Gravitational acceleration ``(..., 3)`` m/s^2 at ECEF positions ``r`` ``(..., 3)``
    (point mass plus J2, Vallado eq. 8-30), written as
    ``g = -mu r / |r|^3 [1 + k (1 - 5 z^2/|r|^2)]`` for x, y and ``[1 + k (3 - 5 z^2/|r|^2)]``
    for z, with ``k = 3/2 J2 (R / |r|)^2``."""
    r = np.asarray(r, dtype=np.float64)
    out = np.empty_like(r)
    _gravity_into(r, out, j2)
    return out


def _gravity_into(r: F64, out: F64, j2: bool) -> None:
    x, y, z = r[..., 0], r[..., 1], r[..., 2]
    ir2 = 1.0 / (x * x + y * y + z * z)
    ir3 = WGS84_GM * ir2 * np.sqrt(ir2)
    if j2:
        k = (1.5 * WGS84_J2 * WGS84_A**2) * ir2
        z2 = z * z * ir2
        fxy = -ir3 * (1.0 + k * (1.0 - 5.0 * z2))
        fz = -ir3 * (1.0 + k * (3.0 - 5.0 * z2))
    else:
        fxy = fz = -ir3
    out[..., 0] = fxy * x
    out[..., 1] = fxy * y
    out[..., 2] = fz * z


def gravity_gradient(r: ArrayLike, *, j2: bool = True) -> F64:
    """Jacobian ``d g / d r`` ``(..., 3, 3)`` (1/s^2) of ``gravity`` at ECEF ``r`` ``(..., 3)``.

    Point mass: ``mu / |r|^3 (3 r r^T / |r|^2 - I)`` (Vallado sec. 10.4); the J2 part is the
    exact derivative of ``-K x_i s_i`` with ``K = 3/2 J2 mu R^2``, ``s = r^-5 - 5 z^2 r^-7`` for
    x, y and ``3 r^-5 - 5 z^2 r^-7`` for z::

        d(-K x_i s_i)/dx_j = -K (delta_ij s_i + x_i ds_i/dx_j)
        ds_i/dx_j = c_i r^-7 x_j + 35 z^2 r^-9 x_j - 10 z r^-7 delta_jz,   c = (-5, -5, -15)
    """
    r = np.asarray(r, dtype=np.float64)
    ir2 = 1.0 / np.einsum("...i,...i->...", r, r)
    ir3 = WGS84_GM * ir2 * np.sqrt(ir2)
    u = r * np.sqrt(ir2)[..., None]
    g: F64 = (3.0 * ir3)[..., None, None] * (u[..., :, None] * u[..., None, :])
    g[..., 0, 0] -= ir3
    g[..., 1, 1] -= ir3
    g[..., 2, 2] -= ir3
    if j2:
        kk = 1.5 * WGS84_J2 * WGS84_GM * WGS84_A**2
        z = r[..., 2]
        r5 = ir3 * ir2 / WGS84_GM
        r7 = r5 * ir2
        s_xy = r5 - 5.0 * z * z * r7
        coef = 35.0 * z * z * r7 * ir2
        for i, (si, ci) in enumerate(((s_xy, -5.0), (s_xy, -5.0), (s_xy + 2.0 * r5, -15.0))):
            row = (ci * r7 + coef)[..., None] * r  # ds_i/dx_j without the delta_jz term
            row[..., 2] -= 10.0 * z * r7
            g[..., i, :] -= kk * r[..., i, None] * row
            g[..., i, i] -= kk * si
    return g


def _approx_height(r: F64) -> F64:
    """Ellipsoid height (m) good to about 20 m near the surface (geocentric-latitude radius);
    only used for the drag density."""
    rn = np.sqrt(np.einsum("...i,...i->...", r, r))
    s2 = (r[..., 2] / rn) ** 2
    out: F64 = rn - WGS84_A * (1.0 - WGS84_F * s2)
    return out


def acceleration(x: ArrayLike, model: ForceModel = VACUUM) -> F64:
    """Time derivative ``dx/dt`` ``(..., 6)`` of states ``x`` ``(..., 6)`` under ``model``."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    out[..., :3] = x[..., 3:]
    a = out[..., 3:]
    _gravity_into(x[..., :3], a, model.j2)
    if model.rotating:
        w = WGS84_OMEGA
        # -2 w x v - w x (w x r) with w along +z.
        a[..., 0] += 2.0 * w * x[..., 4] + w * w * x[..., 0]
        a[..., 1] += w * w * x[..., 1] - 2.0 * w * x[..., 3]
    if model.ballistic_coeff_kg_m2 is not None:
        v = x[..., 3:]
        h = _approx_height(x[..., :3])
        rho = np.where(h < DRAG_CEILING_M, RHO0_KG_M3 * np.exp(-h / SCALE_HEIGHT_M), 0.0)
        speed = np.sqrt(np.einsum("...i,...i->...", v, v))
        a -= (rho * speed / (2.0 * model.ballistic_coeff_kg_m2))[..., None] * v
    return out


def dynamics_jacobian(x: ArrayLike, model: ForceModel = VACUUM, *, j2: bool = True) -> F64:
    """Continuous-time Jacobian ``A = d f / d x`` ``(..., 6, 6)`` of the vacuum dynamics::

        A = [[0,              I    ],
             [G(r) + W_c,    -2 [w x]]],   W_c = diag(w^2, w^2, 0)

    ``G`` is ``gravity_gradient`` (with its J2 part if ``j2`` and ``model.j2``); drag, if any in
    ``model``, is not differentiated.
    """
    x = np.asarray(x, dtype=np.float64)
    a = np.zeros((*x.shape[:-1], 6, 6))
    a[..., 0, 3] = a[..., 1, 4] = a[..., 2, 5] = 1.0
    a[..., 3:, :3] = gravity_gradient(x[..., :3], j2=model.j2 and j2)
    if model.rotating:
        w = WGS84_OMEGA
        a[..., 3, 0] += w * w
        a[..., 4, 1] += w * w
        a[..., 3, 4] = 2.0 * w
        a[..., 4, 3] = -2.0 * w
    return a


def rk4_step(x: ArrayLike, dt: ArrayLike, model: ForceModel = VACUUM) -> F64:
    """One classical Runge-Kutta step of states ``(..., 6)`` by ``dt`` seconds (shape ``(...)``,
    may differ per row and be negative)."""
    x = np.asarray(x, dtype=np.float64)
    h = np.asarray(dt, dtype=np.float64)[..., None]
    return _rk4(lambda s: acceleration(s, model), x, h)


def _rk4(rate: Callable[[F64], F64], x: F64, h: F64) -> F64:
    """One classical Runge-Kutta step of ``x`` by ``h`` (broadcast against ``x``) with the
    derivative ``rate(x)`` (same shape as ``x``)."""
    k1 = rate(x)
    k2 = rate(x + (0.5 * h) * k1)
    k3 = rate(x + (0.5 * h) * k2)
    k4 = rate(x + h * k3)
    k2 += k3
    k2 *= 2.0
    k2 += k1
    k2 += k4
    out: F64 = x + (h / 6.0) * k2
    return out


def _substeps(dt: F64, max_step_s: float) -> int:
    biggest = float(np.max(np.abs(dt))) if dt.size else 0.0
    return max(1, math.ceil(biggest / max_step_s))


def propagate(
    x: ArrayLike, dt: ArrayLike, model: ForceModel = VACUUM, *, max_step_s: float = 5.0
) -> F64:
    """Propagate states ``(..., 6)`` by ``dt`` (``(...)`` seconds, any sign) with equal RK4
    sub-steps of at most ``max_step_s``."""
    x = np.asarray(x, dtype=np.float64)
    dt = np.asarray(dt, dtype=np.float64)
    n = _substeps(dt, max_step_s)
    h = dt / n
    for _ in range(n):
        x = rk4_step(x, h, model)
    return x


def transition(
    x: ArrayLike,
    dt: ArrayLike,
    model: ForceModel = VACUUM,
    *,
    max_step_s: float = 5.0,
    j2_gradient: bool = True,
) -> tuple[F64, F64]:
    """Propagate states ``(..., 6)`` by ``dt`` ``(...)`` and return ``(x_new, Phi)`` with the
    state transition matrix ``Phi = d x_new / d x`` ``(..., 6, 6)``.

    Per sub-step ``h``, ``Phi_k = I + A h + (A h)^2 / 2 + (A h)^3 / 6`` (third-order truncation
    of ``expm(A h)``, the discretisation of BLK, "Estimation with Applications to Tracking and
    Navigation", Wiley 2001, sec. 4.3) with ``A`` from ``dynamics_jacobian`` at the sub-step
    start; ``Phi = prod_k Phi_k``. Against finite differences of ``propagate`` over 30 s it
    agrees to 2e-5 absolute on entries up to 30 (``tests/unit/test_ballistics.py``), far below
    what matters for covariance propagation. ``j2_gradient=False`` leaves the J2 part (1e-3 of
    the point-mass gradient) out of ``A``; the state still moves under J2. The filter does so:
    it changes ``Phi`` by less than 1e-6 relative over 10 s and saves a third of the cost.
    """
    x = np.asarray(x, dtype=np.float64)
    dt = np.asarray(dt, dtype=np.float64)
    n = _substeps(dt, max_step_s)
    h = (dt / n)[..., None, None]
    phi: F64 | None = None
    for _ in range(n):
        a = dynamics_jacobian(x, model, j2=j2_gradient)
        a *= h
        a2 = a @ a
        step = a2 @ a
        step *= 1.0 / 6.0
        step += 0.5 * a2
        step += a
        step[..., range(6), range(6)] += 1.0
        phi = step if phi is None else step @ phi
        x = rk4_step(x, h[..., 0, 0], model)
    assert phi is not None
    return x, phi


def white_accel_q(dt: ArrayLike, q: ArrayLike) -> F64:
    """Discrete process noise ``(..., 6, 6)`` of continuous white acceleration with power spectral
    density ``q`` (m^2/s^3) per axis over ``dt`` s (BLK eq. 6.2.2-12)::

        Q = q [[dt^3/3 I, dt^2/2 I], [dt^2/2 I, dt I]]
    """
    h, qq = np.broadcast_arrays(
        np.abs(np.asarray(dt, dtype=np.float64)), np.asarray(q, dtype=np.float64)
    )
    q_rv = qq * h * h / 2.0
    out = np.zeros((*h.shape, 6, 6))
    for i in range(3):
        out[..., i, i] = q_rv * h / 1.5
        out[..., i, i + 3] = out[..., i + 3, i] = q_rv
        out[..., i + 3, i + 3] = qq * h
    return out


# --------------------------------------------------------------------------- powered-flight state

#: Length of the filter state ``[r, v, a]``: ECEF position (m), Earth-relative velocity (m/s) and
#: the non-gravitational specific force ``a`` (m/s^2: thrust in boost, drag in re-entry).
N_STATE: Final = 9
_EYE3: Final = np.eye(3)
_EYE6: Final = np.eye(6)


@functools.cache
def _linear_terms(model: ForceModel) -> F64:
    """``L (6, 3)`` with ``[r, v] @ L = -w x (w x r) - 2 w x v`` (centrifugal and Coriolis
    acceleration, w along +z); zero in an inertial frame. One read-only array per model."""
    out = np.zeros((6, 3))
    if model.rotating:
        w = WGS84_OMEGA
        out[0, 0] = out[1, 1] = w * w
        out[4, 0] = 2.0 * w
        out[3, 1] = -2.0 * w
    out.setflags(write=False)
    return out


def _coriolis(model: ForceModel) -> F64:
    """``C^T (3, 3)`` with ``f @ C^T = -2 w x f``."""
    return _linear_terms(model)[3:]


def _gravity_and_gradient(r: F64, j2: bool) -> tuple[F64, F64]:
    """Gravity ``(k, m, 3)`` at ``r (k, m, 3)`` (with J2 if ``j2``) and the point-mass gravity
    gradient ``mu / |r|^3 (3 u u^T - I)`` ``(k, 3, 3)`` at ``r[:, 0]``, sharing the work."""
    r2 = np.einsum("...i,...i->...", r, r)
    ir2 = 1.0 / r2
    ir3 = WGS84_GM * ir2 * np.sqrt(ir2)
    if j2:
        kz = (1.5 * WGS84_J2 * WGS84_A**2) * ir2
        z2 = r[..., 2] * r[..., 2] * ir2
        fac = np.empty_like(r)
        fac[..., :2] = (-ir3 * (1.0 + kz * (1.0 - 5.0 * z2)))[..., None]
        fac[..., 2] = -ir3 * (1.0 + kz * (3.0 - 5.0 * z2))
        g = fac * r
    else:
        g = -ir3[..., None] * r
    r0, i0, s0 = r[:, 0], ir2[:, 0], ir3[:, 0]
    grad = (3.0 * s0 * i0)[:, None, None] * (r0[:, :, None] * r0[:, None, :])
    grad -= s0[:, None, None] * _EYE3
    return g, grad


#: Constant part of ``A6 = [[0, I], [G, C]]``: the ``I`` and the Coriolis block (see ``_phi9``).
@functools.cache
def _a6_constant(model: ForceModel) -> F64:
    out = np.zeros((6, 6))
    out[0, 3] = out[1, 4] = out[2, 5] = 1.0
    out[3:, 3:] = _coriolis(model).T
    out.setflags(write=False)
    return out


def _taylor_step(x: F64, h: F64, model: ForceModel) -> tuple[F64, F64]:
    """One third-order Taylor step of states ``x (k, m, 9)`` by ``h (k,)`` seconds, with the
    transition matrix ``(k, 9, 9)`` at ``x[:, 0]`` (see ``transition9``)."""
    v = x[..., 3:6]
    g, grad = _gravity_and_gradient(x[..., :3], model.j2)
    lin = _linear_terms(model)
    f = g + x[..., 6:] + x[..., :6] @ lin  # dv/dt
    grad += lin[:3].T  # centrifugal part of the gradient
    # df/dt = G v + C f (da/dt = 0 in the mean).
    fd = v @ np.swapaxes(grad, -1, -2) + f @ lin[3:]
    hh = h[:, None, None]
    half = 0.5 * hh
    out = x.copy()
    out[..., :3] += hh * (v + half * (f + (hh / 3.0) * fd))
    out[..., 3:6] += hh * (f + half * fd)
    return out, _phi9(grad, model, h)


def _phi9(g: F64, model: ForceModel, h: F64) -> F64:
    """``Phi = I + A h + (A h)^2/2 + (A h)^3/6`` ``(k, 9, 9)`` for ``A = [[0, I, 0], [G, C, I],
    [0, 0, 0]]`` with ``G (k, 3, 3)`` the gravity gradient (plus centrifugal) and ``C`` the
    Coriolis block. With ``A6 = [[0, I], [G, C]]`` and ``M = A6 h``: the ``(r, v)`` block is
    ``I + M + M^2/2 + M^3/6`` and the ``(r, v) <- a`` block ``h (I + M/2 + M^2/6)[:, 3:6]``."""
    k = g.shape[0]
    hh = h[:, None, None]
    m = _a6_constant(model) * hh
    m[:, 3:, :3] = g * hh
    m2 = m @ m
    phi = np.empty((k, 9, 9))
    phi[:, :6, :6] = m + m2 @ (0.5 * _EYE6 + m * (1.0 / 6.0))
    phi[:, :6, :6] += _EYE6
    phi[:, :6, 6:] = hh * (0.5 * m[:, :, 3:6] + (1.0 / 6.0) * m2[:, :, 3:6] + _EYE6[:, 3:6])
    phi[:, 6:, :6] = 0.0
    phi[:, 6:, 6:] = _EYE3
    return phi


def _rk4_9(x: F64, h: F64, model: ForceModel) -> F64:
    """One RK4 step of ``[r, v, a]`` states ``(k, m, 9)`` by ``h (k,)``, ``a`` held constant."""

    def rate(s: F64) -> F64:
        d = acceleration(s[..., :6], model)
        d[..., 3:] += s[..., 6:]
        return d

    return _rk4_kinematic(x, h, rate)


def _rk4_kinematic(x: F64, h: F64, rate: Callable[[F64], F64]) -> F64:
    """One classical RK4 step by ``h (k,)`` of the ``(r, v)`` part of states ``(k, m, 9)``
    with derivative ``rate(state) -> (k, m, 6)``; slots 6-8 are carried unchanged."""
    hh = h[:, None, None]
    kin = x[..., :6]
    rest = x[..., 6:]
    k1 = rate(x)
    k2 = rate(np.concatenate([kin + 0.5 * hh * k1, rest], axis=-1))
    k3 = rate(np.concatenate([kin + 0.5 * hh * k2, rest], axis=-1))
    k4 = rate(np.concatenate([kin + hh * k3, rest], axis=-1))
    out = x.copy()
    out[..., :6] += (hh / 6.0) * (k1 + 2.0 * (k2 + k3) + k4)
    return out


def transition9(
    x: ArrayLike,
    dt: ArrayLike,
    model: ForceModel = VACUUM,
    *,
    max_step_s: float = 10.0,
    taylor_max_s: float = 2.0,
) -> tuple[F64, F64]:
    """Propagate filter states ``[r, v, a]`` ``(k, m, 9)`` (``m`` hypotheses of each of ``k``
    tracks, e.g. IMM modes) by ``dt (k,)`` seconds and return them with the transition matrix
    ``Phi (k, 9, 9)`` linearised at ``x[:, 0]``.

    Dynamics: ``dr/dt = v``, ``dv/dt = g_J2(r) - 2 w x v - w x (w x r) + a``, ``da/dt = 0`` (the
    filter's process noise drives ``a``). ``Phi = expm(A dt)`` to third order (BLK sec. 4.3) with
    ``A = [[0, I, 0], [G, C, I], [0, 0, 0]]``, ``G`` the point-mass gravity gradient plus
    ``diag(w^2, w^2, 0)``, ``C = -2 [w x]`` (the J2 part of ``G`` changes ``Phi`` by 1e-6).

    The mean moves by the third-order Taylor series ``r + v h + f h^2/2 + f' h^3/6``,
    ``v + f h + f' h^2/2`` with ``f = dv/dt`` and ``f' = G v + C f`` when every ``|dt| <=
    taylor_max_s`` (the filter's usual step between reports: the truncation error is
    ``(n h)^4 |r| / 24`` with ``n = sqrt(mu/|r|^3) = 1.24e-3 /s``, 1e-5 m at 2 s, and 2e-5 m/s
    in velocity); otherwise by RK4 in ``ceil(|dt| / max_step_s)`` equal sub-steps (per row)
    with ``Phi`` the product of the sub-steps' matrices.
    """
    return _by_sub_steps(
        np.asarray(x, dtype=np.float64),
        np.asarray(dt, dtype=np.float64),
        lambda xr, dr: _taylor_step(xr, dr, model),
        lambda xr, dr, n: _rk4_transition(xr, dr, model, n),
        max_step_s=max_step_s,
        taylor_max_s=taylor_max_s,
    )


_Taylor = Callable[[F64, F64], tuple[F64, F64]]
_Rk4 = Callable[[F64, F64, int], tuple[F64, F64]]


def _by_sub_steps(
    x: F64, dt: F64, taylor: _Taylor, rk4: _Rk4, *, max_step_s: float, taylor_max_s: float
) -> tuple[F64, F64]:
    """Move states ``(k, m, 9)`` by ``dt (k,)``: the rows with every ``|dt| <= taylor_max_s``
    by one ``taylor(x, dt)`` step, the others by ``rk4(x, dt, n)`` in ``n = ceil(|dt| /
    max_step_s)`` sub-steps, grouped by ``n`` so that a row's result does not depend on the
    rows it is stacked with. Returns the states and the transition matrices (whatever shape
    per row the steps give)."""
    n = np.where(np.abs(dt) > taylor_max_s, np.ceil(np.abs(dt) / max_step_s), 0).astype(int)
    if not n.any():
        return taylor(x, dt)
    xo: F64 | None = None
    phi: F64 | None = None
    for steps in np.unique(n).tolist():
        rows = n == steps
        xs, ps = taylor(x[rows], dt[rows]) if steps == 0 else rk4(x[rows], dt[rows], steps)
        if xo is None or phi is None:
            xo, phi = np.empty_like(x), np.empty((x.shape[0], *ps.shape[1:]))
        xo[rows], phi[rows] = xs, ps
    assert xo is not None and phi is not None
    return xo, phi


def _rk4_transition(x: F64, dt: F64, model: ForceModel, n: int) -> tuple[F64, F64]:
    h = dt / n
    phi: F64 | None = None
    lin = _linear_terms(model)
    for _ in range(n):
        g = gravity_gradient(x[:, 0, :3], j2=False) + lin[:3].T
        step = _phi9(g, model, h)
        phi = step if phi is None else step @ phi
        x = _rk4_9(x, h, model)
    assert phi is not None
    return x, phi


# --------------------------------------------------------------------------- drag state

#: In a drag-flight entry of ``transition_modes`` the state is ``[r, v, ln beta, 0, 0]``: the
#: natural logarithm of the ballistic coefficient ``beta = m / (C_D A)`` (kg/m^2) in slot 6,
#: slots 7-8 unused (zero).
LOG_BETA: Final = 6

#: Cap of ``-h / H - ln beta`` in ``_drag`` (``exp(20)``: ``beta`` of 2e-9 kg/m^2 at sea level).
_MAX_EXPONENT: Final = 20.0


def drag_terms(x: F64) -> tuple[F64, F64, F64]:
    """Drag of ``[r, v, ln beta, ...]`` states ``(n, 7+)`` in the exponential atmosphere:
    ``a_d = -rho(h) |v| v / (2 beta)`` ``(n, 3)`` (``air_density`` at ``_approx_height``, the
    truth's model) and its Jacobians ``D_r = d a_d / d r`` and ``D_v = d a_d / d v``
    ``(n, 3, 3)``::

        D_v = -rho / (2 beta) (|v| I + v v^T / |v|)
        D_r = -a_d u^T / H            (d rho / d r = -rho u / H, u = r / |r| the local up)

    and ``d a_d / d ln beta = -a_d`` (the ballistic coefficient as a state: Zarchan and Musoff,
    "Fundamentals of Kalman Filtering: A Practical Approach", AIAA, ch. 8, "Drag and falling
    object"; the logarithm keeps ``beta`` positive and makes its prior a scale prior). Above
    ``DRAG_CEILING_M`` all three are zero."""
    out = _drag(x, jacobians=True, none_in_vacuum=False)
    assert out is not None
    ad, jac = out
    return ad, jac[:, :, :3], jac[:, :, 3:]


def _drag(x: F64, *, jacobians: bool, none_in_vacuum: bool) -> tuple[F64, F64] | None:
    """``a_d (n, 3)`` and, if ``jacobians``, ``[D_r | D_v] (n, 3, 6)`` (else empty); ``None`` if
    ``none_in_vacuum`` and no state is in the air. Both parts of the Jacobian but the
    ``-rho |v| / (2 beta) I`` of ``D_v`` are outer products with ``a_d``:
    ``[D_r | D_v] = a_d [-u / H | v / |v|^2] - [0 | rho |v| / (2 beta) I]``."""
    r, v = x[:, :3], x[:, 3:6]
    r2 = np.einsum("ni,ni->n", r, r)
    rn = np.sqrt(r2)
    h = rn - WGS84_A * (1.0 - WGS84_F * (r[:, 2] * r[:, 2] / r2))
    air = h < DRAG_CEILING_M
    if none_in_vacuum and not air.any():
        return None
    # rho / (2 beta), zero above the air (and held at its value 20 km under the ellipsoid
    # below that: only a state predicted through the ground gets there). The exponent is
    # capped so that a state with no physical meaning (beta of a millionth of a kg/m^2) still
    # gives finite numbers, not an overflow.
    expo = np.minimum(-np.maximum(h, -20_000.0) / SCALE_HEIGHT_M - x[:, LOG_BETA], _MAX_EXPONENT)
    c = (0.5 * RHO0_KG_M3) * np.exp(expo) * air
    v2 = np.maximum(np.einsum("ni,ni->n", v, v), 1e-18)
    cs = c * np.sqrt(v2)
    ad: F64 = v * -cs[:, None]
    if not jacobians:
        return ad, np.empty(0)
    w6 = np.concatenate([r * (-1.0 / (SCALE_HEIGHT_M * rn))[:, None], v / v2[:, None]], axis=1)
    jac: F64 = ad[:, :, None] * w6[:, None, :]
    jac[:, :, 3:] -= cs[:, None, None] * _EYE3
    return ad, jac


def drag_accel(x: F64) -> F64:
    """Drag ``a_d (n, 3)`` of ``[r, v, ln beta, ...]`` states ``(n, 7+)`` (``drag_terms``)."""
    out = _drag(x, jacobians=False, none_in_vacuum=False)
    assert out is not None
    return out[0]


def _phi_modes(
    grad: F64,
    model: ForceModel,
    h: F64,
    m: int,
    j: int,
    terms: tuple[F64, F64] | None,
    rates: F64 | None,
) -> F64:
    """``Phi (k, m, 9, 9)`` of ``m`` hypotheses per track, hypothesis ``j`` flying with drag
    (``terms = (a_d, [D_r | D_v])`` of its states, ``_drag``; ``rates (k, 3, 2)``: the drag's
    rate along the flow ``adot = D_r v + D_v f`` and ``D_r v + D_v (f + a_d)``; ``None``: no
    drag), the others with a constant ``a`` (``_phi9``). The drag hypothesis' ``(r, v)`` block
    adds the drag partials to first order in them, ``[[D_r h^2/2, D_v h^2/2], [D_r h, D_v h]]``
    (the neglected ``(D h)^2 / 2`` is 1 % of the block for 2 s at 10 km for beta 8,000 kg/m^2,
    0.1 % for 1 s higher up); its ``ln beta`` column is the derivative of the Taylor step's mean
    (``d a_d / d ln beta = -a_d``, ``d adot / d ln beta = -adot``): ``d r / d ln beta =
    -a_d h^2/2 - w h^3/6``, ``d v / d ln beta = -a_d h - w h^2/2``, ``w = (C + D_v) a_d + adot``
    (a constant ``A`` would miss ``adot``, the fast growth of drag as the body descends: 5 % of
    the column at 1 s, 30 km); its columns 7-8 are zero."""
    phi9 = _phi9(grad, model, h)
    phi: F64 = np.empty((phi9.shape[0], m, 9, 9))
    phi[:] = phi9[:, None]
    col = phi[:, j]
    col[:, :6, 6:] = 0.0
    if terms is None or rates is None:
        return phi
    ad, jac = terms
    h3 = h[:, None, None]
    col[:, :3, :6] += (0.5 * h3 * h3) * jac
    col[:, 3:6, :6] += h3 * jac
    h1 = h[:, None]
    w = ad @ _coriolis(model) + rates[:, :, 1]
    col[:, :3, LOG_BETA] = -(0.5 * h1 * h1) * (ad + (h1 / 3.0) * w)
    col[:, 3:6, LOG_BETA] = -h1 * (ad + 0.5 * h1 * w)
    return phi


def _drag_rates(jac: F64, v: F64, f: F64, ad: F64) -> F64:
    """``[adot, D_r v + D_v (f + a_d)] (n, 3, 2)`` for ``_phi_modes`` (one product)."""
    y = np.empty((v.shape[0], 6, 2))
    y[:, :3] = v[:, :, None]
    y[:, 3:, 0] = f
    y[:, 3:, 1] = f + ad
    out: F64 = jac @ y
    return out


def _taylor_step_modes(x: F64, h: F64, model: ForceModel, j: int) -> tuple[F64, F64]:
    """``_taylor_step`` of ``x (k, m, 9)`` where hypothesis ``j`` flies with drag
    (``[r, v, ln beta]``): its ``f = dv/dt`` includes ``a_d`` and
    ``f' = (G + D_r) v + (C + D_v) f``."""
    v = x[..., 3:6]
    g, grad = _gravity_and_gradient(x[..., :3], model.j2)
    lin = _linear_terms(model)
    terms = _drag(x[:, j], jacobians=True, none_in_vacuum=True)
    acc = x[..., 6:].copy()
    acc[:, j] = 0.0 if terms is None else terms[0]
    f = g + acc + x[..., :6] @ lin
    grad += lin[:3].T
    fd = v @ np.swapaxes(grad, -1, -2) + f @ lin[3:]
    rates = None
    if terms is not None:
        ad, jac = terms
        rates = _drag_rates(jac, v[:, j], f[:, j], ad)
        fd[:, j] += rates[:, :, 0]
    hh = h[:, None, None]
    half = 0.5 * hh
    out = x.copy()
    out[..., :3] += hh * (v + half * (f + (hh / 3.0) * fd))
    out[..., 3:6] += hh * (f + half * fd)
    return out, _phi_modes(grad, model, h, x.shape[1], j, terms, rates)


def _rk4_modes(x: F64, h: F64, model: ForceModel, j: int, drag: bool) -> F64:
    """One RK4 step of states ``(k, m, 9)`` by ``h (k,)``: ``a`` held constant, or for
    hypothesis ``j`` the drag of its ``ln beta`` (none if not ``drag``)."""

    def rate(s: F64) -> F64:
        d = acceleration(s[..., :6], model)
        acc = s[..., 6:].copy()
        acc[:, j] = drag_accel(s[:, j]) if drag else 0.0
        d[..., 3:] += acc
        return d

    return _rk4_kinematic(x, h, rate)


def transition_modes(
    x: ArrayLike,
    dt: ArrayLike,
    model: ForceModel = VACUUM,
    *,
    drag_mode: int = 0,
    max_step_s: float = 10.0,
    taylor_max_s: float = 2.0,
) -> tuple[F64, F64]:
    """``transition9`` for ``m`` hypotheses per track of which one, ``drag_mode``, flies with
    drag: states ``(k, m, 9)``, ``dt (k,)``; ``x[:, drag_mode]`` is ``[r, v, ln beta, 0, 0]``
    and flies with the drag of its ballistic coefficient (``drag_terms``; ``ln beta`` constant
    in the mean), the others are ``[r, v, a]`` with ``a`` constant. Returns the moved states
    and one transition matrix per hypothesis ``(k, m, 9, 9)`` (the gravity gradient at
    ``x[:, 0]``, shared; the drag partials at the drag hypothesis' own mean). The mean moves by
    the third-order Taylor step when every ``|dt| <= taylor_max_s`` (with drag,
    ``f' = (G + D_r) v + (C + D_v) f``), otherwise by RK4 in ``ceil(|dt| / max_step_s)``
    sub-steps per row."""
    return _by_sub_steps(
        np.asarray(x, dtype=np.float64),
        np.asarray(dt, dtype=np.float64),
        lambda xr, dr: _taylor_step_modes(xr, dr, model, drag_mode),
        lambda xr, dr, n: _rk4_transition_modes(xr, dr, model, n, drag_mode),
        max_step_s=max_step_s,
        taylor_max_s=taylor_max_s,
    )


#: Faster than any ballistic body tracked here (m/s; an ICBM burns out near 7.5 km/s, 11 km/s is
#: escape speed): bounds how far one sub-step can descend, and a track faster than this has
#: diverged (``fusion``).
MAX_SPEED_M_S: Final = 11_000.0


def _rk4_transition_modes(x: F64, dt: F64, model: ForceModel, n: int, j: int) -> tuple[F64, F64]:
    h = dt / n
    phi: F64 | None = None
    lin = _linear_terms(model)
    reach = np.abs(h) * MAX_SPEED_M_S
    for _ in range(n):
        g = gravity_gradient(x[:, 0, :3], j2=False) + lin[:3].T
        xd = x[:, j]
        # No drag this sub-step if no body can reach the air in it (long coasts in vacuum).
        drag = bool(np.any(_approx_height(xd[:, :3]) - reach < DRAG_CEILING_M))
        terms = _drag(xd, jacobians=True, none_in_vacuum=True) if drag else None
        rates = None
        if terms is not None:
            ad, jac = terms
            f = acceleration(xd[:, :6], model)[:, 3:] + ad
            rates = _drag_rates(jac, xd[:, 3:6], f, ad)
        step = _phi_modes(g, model, h, x.shape[1], j, terms, rates)
        phi = step if phi is None else step @ phi
        x = _rk4_modes(x, h, model, j, drag)
    assert phi is not None
    return x, phi


#: ``kinematic_q9``: the per-axis 3x3 blocks (``(r, v, a)``) as coefficients of ``h^1..h^5``,
#: for the white acceleration density (``[:, 0]``) and the white jerk density (``[:, 1]``);
#: ``BLOCK_OF`` maps a state index to its block, ``SAME_AXIS`` is 1 where two indices share an
#: axis: ``Q[i, j] = blocks[BLOCK_OF[i], BLOCK_OF[j]] * SAME_AXIS[i, j]``.
Q_POWERS: Final = np.zeros((5, 2, 3, 3))
# white acceleration (density 0): [[h^3/3, h^2/2], [h^2/2, h]]
Q_POWERS[2, 0, 0, 0] = 1.0 / 3.0
Q_POWERS[1, 0, 0, 1] = Q_POWERS[1, 0, 1, 0] = 0.5
Q_POWERS[0, 0, 1, 1] = 1.0
# white jerk (density 1): [[h^5/20, h^4/8, h^3/6], [h^4/8, h^3/3, h^2/2], [h^3/6, h^2/2, h]]
Q_POWERS[4, 1, 0, 0] = 1.0 / 20.0
Q_POWERS[3, 1, 0, 1] = Q_POWERS[3, 1, 1, 0] = 1.0 / 8.0
Q_POWERS[2, 1, 0, 2] = Q_POWERS[2, 1, 2, 0] = 1.0 / 6.0
Q_POWERS[2, 1, 1, 1] = 1.0 / 3.0
Q_POWERS[1, 1, 1, 2] = Q_POWERS[1, 1, 2, 1] = 0.5
Q_POWERS[0, 1, 2, 2] = 1.0
BLOCK_OF: Final = np.arange(9) // 3
SAME_AXIS: Final = (np.arange(9)[:, None] % 3 == np.arange(9)[None, :] % 3).astype(np.float64)


def kinematic_q9(dt: ArrayLike, q_accel: ArrayLike, q_jerk: ArrayLike) -> F64:
    """Discrete process noise ``(..., 9, 9)`` of the ``[r, v, a]`` state over ``dt`` s: white
    acceleration of density ``q_accel`` (m^2/s^3, BLK eq. 6.2.2-12) plus a Wiener-process
    acceleration, white jerk of density ``q_jerk`` (m^2/s^5, BLK eq. 6.2.3-8), per axis::

        Q = q_accel [[h^3/3, h^2/2, 0], [h^2/2, h, 0], [0, 0, 0]]
          + q_jerk  [[h^5/20, h^4/8, h^3/6], [h^4/8, h^3/3, h^2/2], [h^3/6, h^2/2, h]]

    (``(r, v, a)`` blocks, each times the 3x3 identity).
    """
    h, qa, qj = np.broadcast_arrays(
        np.abs(np.asarray(dt, dtype=np.float64)),
        np.asarray(q_accel, dtype=np.float64),
        np.asarray(q_jerk, dtype=np.float64),
    )
    powers = np.empty((*h.shape, 5, 2))
    powers[..., 0, 0] = h
    for i in range(1, 5):
        np.multiply(powers[..., i - 1, 0], h, out=powers[..., i, 0])
    np.multiply(powers[..., 0], qj[..., None], out=powers[..., 1])
    powers[..., 0] *= qa[..., None]
    out: F64 = (powers.reshape(*h.shape, 10) @ _Q_FULL).reshape(*h.shape, 9, 9)
    return out


#: ``Q_POWERS`` with every element of the 9x9 matrix: ``(h^1..h^5 x 2 densities, 81)``.
_Q_FULL: Final = (Q_POWERS[:, :, BLOCK_OF[:, None], BLOCK_OF[None, :]] * SAME_AXIS).reshape(10, 81)


# --------------------------------------------------------------------------- impact prediction


def _step_size(x: F64) -> F64:
    r2 = np.einsum("...i,...i->...", x[..., :3], x[..., :3])
    out: F64 = STEP_MEAN_MOTION * np.sqrt(r2 * np.sqrt(r2) / WGS84_GM)
    return out


def _hermite(x0: F64, x1: F64, h: F64, s: F64) -> F64:
    """Cubic Hermite position at fraction ``s`` of a step of length ``h`` between states."""
    s = s[..., None]
    hh = h[..., None]
    s2 = s * s
    s3 = s2 * s
    h00 = 2 * s3 - 3 * s2 + 1
    h10 = s3 - 2 * s2 + s
    h01 = -2 * s3 + 3 * s2
    h11 = s3 - s2
    out: F64 = (
        h00 * x0[..., :3] + h10 * hh * x0[..., 3:] + h01 * x1[..., :3] + h11 * hh * x1[..., 3:]
    )
    return out


def crossing_in_step(x0: F64, x1: F64, h: F64, z0: F64, z1: F64) -> tuple[F64, F64]:
    """For ``k`` steps of length ``h (k,)`` from states ``x0 (k, 6)`` at height ``z0 > 0`` to
    ``x1`` at ``z1 <= 0``: the fraction ``s (k,)`` of the step where the height crosses 0 and
    the interpolated ECEF position ``(k, 3)`` there, by regula falsi (Illinois variant: the
    retained end's height is halved) to 1 mm of height, each row on its own."""
    s_out = np.ones_like(h)
    rows = np.arange(h.shape[0])
    lo, hi = np.zeros_like(h), np.ones_like(h)
    f_lo, f_hi = z0.copy(), z1.copy()
    a, b, hh = x0, x1, h
    for _ in range(40):
        s = (lo * f_hi - hi * f_lo) / (f_hi - f_lo)
        s_out[rows] = s
        f = geodetic_height(_hermite(a, b, hh, s), iterations=1)
        open_ = np.abs(f) >= 1e-3
        if not open_.any():
            break
        # A row stops where it has converged: its answer does not depend on which other
        # rows share the call.
        move_lo = np.sign(f) == np.sign(f_lo)
        lo = np.where(move_lo, s, lo)[open_]
        hi = np.where(move_lo, hi, s)[open_]
        f_lo, f_hi = (
            np.where(move_lo, f, 0.5 * f_lo)[open_],
            np.where(move_lo, 0.5 * f_hi, f)[open_],
        )
        if not open_.all():
            rows, a, b, hh = rows[open_], a[open_], b[open_], hh[open_]
    return s_out, _hermite(x0, x1, h, s_out)


def fly_to_ground(
    x: ArrayLike,
    model: ForceModel = VACUUM,
    *,
    max_flight_s: float = 7200.0,
    max_step_s: float = math.inf,
    inv_beta: ArrayLike | None = None,
) -> tuple[F64, F64]:
    """Fly states ``(k, 6)`` until each descends through ellipsoid height 0.

    Returns ``(dt, r)``: flight time (s, ``(k,)``; NaN if no crossing within ``max_flight_s``)
    and ECEF impact position ``(k, 3)``. A state already at or below height 0 impacts at once.
    The step suits vacuum flight; with drag in ``model`` pass a ``max_step_s`` of a fraction of
    a second. ``inv_beta (k,)``: drag of this inverse ballistic coefficient (m^2/kg) per row in
    the exponential atmosphere (``air_density``), with steps of at most ``DRAG_STEP_S`` below
    the row's drag height and, above it, none that reaches below that height (or is shorter
    than ``DRAG_STEP_S``). A row's drag height is where its drag at its present speed would be
    ``DRAG_NEGLIGIBLE_G`` of gravity (about 70-80 km for re-entry vehicles), and at most
    ``DRAG_CEILING_M``.
    """
    x = np.array(x, dtype=np.float64, ndmin=2)
    k = x.shape[0]
    kb = None if inv_beta is None else np.broadcast_to(np.asarray(inv_beta, float), (k,))
    out_t = np.full(k, np.nan)
    out_r = np.full((k, 3), np.nan)
    # The loop runs on the transposed states (6, k): each coordinate a contiguous row.
    sa = np.ascontiguousarray(x.T)
    za = geodetic_height_xyz(sa[0], sa[1], sa[2], iterations=1)
    done = za <= 0.0
    out_t[done] = 0.0
    out_r[done] = x[done, :3]
    active = np.flatnonzero(~done)
    sa, za = sa[:, active], za[active]
    ta = np.zeros(active.size)
    inv = None if kb is None else kb[active]
    inv_all: F64 | None = inv  # the drag heights' inverse coefficient: the row's and the model's
    if inv is not None and model.ballistic_coeff_kg_m2 is not None:
        inv_all = inv + 1.0 / model.ballistic_coeff_kg_m2
    hits: list[tuple[I64, F64, F64, F64, F64, F64, F64]] = []
    while active.size:
        r2 = sa[0] * sa[0] + sa[1] * sa[1] + sa[2] * sa[2]
        h = np.minimum(STEP_MEAN_MOTION * np.sqrt(r2 * np.sqrt(r2) / WGS84_GM), max_step_s)
        h = np.minimum(h, max_flight_s - ta + 1e-9)
        if inv is not None:
            # Steps of DRAG_STEP_S below the row's drag height; above it, no step may carry a
            # body past that height (it would skip the drag, or meet the rate of a point below
            # ground inside the step): the distance to it at the present speed.
            v2 = sa[3] * sa[3] + sa[4] * sa[4] + sa[5] * sa[5]
            speed = np.sqrt(v2)
            with np.errstate(divide="ignore", invalid="ignore"):
                # rho(z) |v|^2 inv / 2 = DRAG_NEGLIGIBLE_G g0  at  z = H ln(|v|^2 inv / c).
                top = SCALE_HEIGHT_M * np.log(v2 * inv_all / _NEGLIGIBLE_RHO_V2)
            top = np.minimum(top, DRAG_CEILING_M)
            cap = np.maximum((za - top) / speed, DRAG_STEP_S)
            h = np.where(inv > 0.0, np.minimum(h, cap), h)
        s1 = _rk4_rows(sa, h, model, inv)
        z1 = geodetic_height_xyz(s1[0], s1[1], s1[2], iterations=1)
        hit = z1 <= 0.0
        if hit.any():
            # The crossings are found once, for every row, after the loop: one root search
            # over all the rows, not one per step in which some row came down.
            hits.append((active[hit], sa[:, hit], s1[:, hit], h[hit], za[hit], z1[hit], ta[hit]))
        ta = ta + h
        keep = ~hit & (ta < max_flight_s)
        if not keep.all():
            active, s1, ta, z1 = active[keep], s1[:, keep], ta[keep], z1[keep]
            inv = None if inv is None else inv[keep]
            inv_all = None if inv_all is None else inv_all[keep]
        sa, za = s1, z1
    if hits:
        idx, s0s, s1s, hs, z0s, z1s, t0s = (
            np.concatenate(c, axis=-1) for c in zip(*hits, strict=True)
        )
        s, r = crossing_in_step(s0s.T, s1s.T, hs, z0s, z1s)
        out_t[idx] = t0s + s * hs
        out_r[idx] = r
    return out_t, out_r


def _rk4_rows(s: F64, h: F64, model: ForceModel, inv_beta: F64 | None) -> F64:
    """RK4 step by ``h (k,)`` of transposed states ``s (6, k)`` under ``model``, plus drag of
    per-row inverse ballistic coefficient ``inv_beta (k,)`` (m^2/kg): ``a_drag = -rho(h) |v|
    v inv_beta / 2``, added to the model's own drag if it has one."""
    if model.ballistic_coeff_kg_m2 is not None:
        const = 1.0 / model.ballistic_coeff_kg_m2
        inv_beta = np.full(h.shape, const) if inv_beta is None else inv_beta + const
    half_rho_inv = None if inv_beta is None else (0.5 * RHO0_KG_M3) * inv_beta
    return _rk4(lambda y: _rates_rows(y, model, half_rho_inv), s, h)


#: ``_rates_rows``: the J2 factor ``3/2 J2 a^2`` and the Earth's rate.
_J2_A2: Final = 1.5 * WGS84_J2 * WGS84_A**2
_W: Final = WGS84_OMEGA


def _rates_rows(s: F64, model: ForceModel, half_rho_inv: F64 | None) -> F64:
    """``acceleration`` of transposed states ``(6, k)``, plus drag ``-rho(h) |v| v inv_beta /
    2`` where ``half_rho_inv = rho0 inv_beta / 2 (k,)`` is given (the density at
    ``_approx_height``). The J2 term of ``gravity`` regrouped: with ``t = mu k / |r|^3``,
    ``g_xy = (-mu / |r|^3 - t (1 - 5 z^2 / |r|^2)) r_xy`` and ``g_z`` that minus ``2 t z``."""
    r, v = s[:3], s[3:]
    out = np.empty_like(s)
    out[:3] = v
    a = out[3:]
    r2 = np.einsum("ij,ij->j", r, r)
    ir2 = 1.0 / r2
    rn = np.sqrt(r2)
    ir3 = (WGS84_GM * ir2) / rn
    z = r[2]
    z2 = z * z * ir2
    if model.j2:
        t = ir3 * (_J2_A2 * ir2)
        np.multiply(r, -ir3 - t * (1.0 - 5.0 * z2), out=a)
        a[2] -= 2.0 * t * z
    else:
        np.multiply(r, -ir3, out=a)
    if model.rotating:
        a[0] += _W * _W * r[0] + 2.0 * _W * v[1]
        a[1] += _W * _W * r[1] - 2.0 * _W * v[0]
    if half_rho_inv is not None:
        height = rn - WGS84_A * (1.0 - WGS84_F * z2)
        # exp(-h / H) only below the top of the air (zero above, as in ``air_density``).
        rho = np.zeros_like(height)
        np.exp(height * (-1.0 / SCALE_HEIGHT_M), out=rho, where=height < DRAG_CEILING_M)
        a -= (rho * np.sqrt(np.einsum("ij,ij->j", v, v)) * half_rho_inv) * v
    return out


def _sigma_points(x: F64, p: F64) -> F64:
    """``(k, 2n + 1, n)``: the mean then ``x +/- sqrt(n P)`` columns (kappa = 0)."""
    n = x.shape[-1]
    ps = 0.5 * (p + np.swapaxes(p, -1, -2)) * n
    try:
        s = np.linalg.cholesky(ps)
    except np.linalg.LinAlgError:
        w, v = np.linalg.eigh(ps)
        s = v * np.sqrt(np.clip(w, 0.0, None))[..., None, :]
    cols = np.swapaxes(s, -1, -2)
    out: F64 = np.concatenate([x[:, None, :], x[:, None, :] + cols, x[:, None, :] - cols], axis=1)
    return out


#: ``_sigma_points_log_beta``: spreads (in standard deviations) and weights of the
#: ``ln beta`` pair, the 6 ``(r, v)`` pairs and the centre.
_S_BETA, _S_RV = math.sqrt(3.0), math.sqrt(6.0)
_W_BETA, _W_RV, _W_CENTRE = 1.0 / 6.0, 1.0 / 12.0, -1.0 / 3.0


def _sigma_points_log_beta(x: F64, p: F64) -> tuple[F64, F64]:
    """Sigma points ``(k, 15, 7)`` and weights ``(15,)`` of ``[r, v, ln beta]`` states.

    The impact depends on ``beta`` through ``exp(-ln beta)``, far from linear over the prior's
    spread (a factor 2 at 1 sigma): the symmetric unscented set at ``+/- sqrt(7)`` sigma would
    fly one point with a fifth of the median ``beta``, whose short landing drags the mean. So
    ``ln beta`` gets the three-point Gauss-Hermite rule (``+/- sqrt(3)`` sigma, weights 1/6,
    exact for polynomials to degree 5 in it) and the ``(r, v)`` directions the 6-dimensional
    unscented set (``+/- sqrt(6)``, weights 1/12), the centre taking the rest (-1/3; the
    ``kappa = 3 - n`` family of Julier and Uhlmann, Proc. IEEE 92(3), 2004, sec. IV): the
    columns are those of the Cholesky factor of ``P`` ordered ``[ln beta, r, v]``, so the
    ``ln beta`` pair moves ``(r, v)`` along its regression on ``ln beta`` and the others are the
    conditional ``(r, v)`` spread. A linear map is reproduced exactly (mean and covariance)."""
    order = [6, 0, 1, 2, 3, 4, 5]
    po = p[:, order][:, :, order]
    po = 0.5 * (po + np.swapaxes(po, -1, -2))
    jitter = 1e-12 * np.maximum(np.abs(np.diagonal(po, axis1=1, axis2=2)).max(axis=1), 1e-30)
    try:
        chol = np.linalg.cholesky(po + jitter[:, None, None] * np.eye(7))
    except np.linalg.LinAlgError:
        w, v = np.linalg.eigh(po)
        chol = v * np.sqrt(np.clip(w, 0.0, None))[..., None, :]
    cols = np.swapaxes(chol, -1, -2)[:, :, np.argsort(order)]  # (k, 7 columns, 7 components)
    spread = np.array([_S_BETA] + [_S_RV] * 6)
    cols = cols * spread[None, :, None]
    out: F64 = np.concatenate([x[:, None, :], x[:, None, :] + cols, x[:, None, :] - cols], axis=1)
    half = np.array([_W_BETA] + [_W_RV] * 6)
    weights: F64 = np.concatenate([[_W_CENTRE], half, half])
    return out, weights


def ellipse_95(cov_en: ArrayLike) -> tuple[float, float, float]:
    """95 % ellipse of a 2x2 East-North covariance (m^2): ``(semi_major_m, semi_minor_m,
    orientation_deg)``, semi-axes ``sqrt(5.991 lambda_i)``, orientation of the major axis
    clockwise from north in [0, 180)."""
    a, b, o = ellipses_95(np.asarray(cov_en, dtype=np.float64)[None])
    return float(a[0]), float(b[0]), float(o[0])


def ellipses_95(cov_en: F64) -> tuple[F64, F64, F64]:
    """``ellipse_95`` of ``k`` covariances ``(k, 2, 2)`` at once: three ``(k,)`` arrays."""
    w, v = np.linalg.eigh(0.5 * (cov_en + np.swapaxes(cov_en, -1, -2)))
    w = np.clip(w, 0.0, None)
    orient: F64 = np.degrees(np.arctan2(v[:, 0, 1], v[:, 1, 1])) % 180.0
    return np.sqrt(CHI2_2DOF_95 * w[:, 1]), np.sqrt(CHI2_2DOF_95 * w[:, 0]), orient


def propagate_to_impact_many(
    x: ArrayLike,
    p: ArrayLike,
    t: ArrayLike,
    model: ForceModel = VACUUM,
    *,
    max_flight_s: float = 7200.0,
) -> list[Impact | None]:
    """Impact predictions for ``k`` tracks at once: states ``(k, 6)``, covariances
    ``(k, 6, 6)``, state times ``(k,)``. ``None`` where the mean or any sigma point does not
    come down within ``max_flight_s`` (escape, orbit or a covariance too wide to mean
    anything).

    States ``(k, 7)`` with covariances ``(k, 7, 7)`` are ``[r, v, ln beta]`` (the filter's
    ballistic mode, ``transition_modes``): the transform runs over all 7 dimensions (15 points,
    ``_sigma_points_log_beta``, so the ballistic coefficient's correlation with the state is
    kept) and each point flies with the drag of its own ``beta`` (``fly_to_ground``); states
    ``(k, 6)`` fly in vacuum."""
    x = np.array(x, dtype=np.float64, ndmin=2)
    p = np.array(p, dtype=np.float64, ndmin=3)
    t = np.atleast_1d(np.asarray(t, dtype=np.float64))
    k = x.shape[0]
    kb: F64 | None = None
    weights: F64 | None = None
    if x.shape[1] == 7:
        sig7, weights = _sigma_points_log_beta(x, p)
        sig, kb = sig7[..., :6], np.exp(-sig7[..., 6]).reshape(-1)
    else:
        sig = _sigma_points(x, p)
    m = sig.shape[1]
    dt, r = fly_to_ground(sig.reshape(k * m, 6), model, max_flight_s=max_flight_s, inv_beta=kb)
    dt = dt.reshape(k, m)
    r = r.reshape(k, m, 3)
    # The impact points in each track's local frame at its centre point's impact (all tracks
    # at once: the frames broadcast over the points).
    ok = np.all(np.isfinite(dt), axis=1)
    # Tracks without an answer (answered None below) get any finite point: NaN kept out of
    # the batch's LAPACK call (eigh), whose behaviour on NaN input is not specified.
    r[~ok], dt[~ok] = (WGS84_A, 0.0, 0.0), 0.0
    lat0, lon0, _ = ecef_to_geodetic(r[:, 0])
    en = ecef_to_enu(r, lat0[:, None], lon0[:, None], 0.0)[..., :2]  # (k, m, 2)
    if weights is None:
        d = en[:, 1:] - en[:, 1:].mean(axis=1, keepdims=True)
        mean_en = en[:, 1:].mean(axis=1)
        cov = np.einsum("kmi,kmj->kij", d, d) / (m - 1)
        tm = dt[:, 1:].mean(axis=1)
        t_sigma = np.sqrt(np.mean((dt[:, 1:] - tm[:, None]) ** 2, axis=1))
    else:
        # Weighted mean; covariance about the centre point's image (ENU origin), which stays
        # positive semi-definite with the negative centre weight.
        mean_en = np.einsum("m,kmi->ki", weights, en)
        cov = np.einsum("kmi,m,kmj->kij", en[:, 1:], weights[1:], en[:, 1:])
        tm = dt @ weights
        t_sigma = np.sqrt(((dt[:, 1:] - dt[:, :1]) ** 2) @ weights[1:])
    centre = np.concatenate([mean_en, np.zeros((k, 1))], axis=1)
    lat, lon, _ = ecef_to_geodetic(enu_to_ecef(centre, lat0, lon0, 0.0))
    semi_major, semi_minor, orient = ellipses_95(cov)
    cov.setflags(write=False)  # each track's (2, 2) is a read-only view of it
    out: list[Impact | None] = []
    for i in range(k):
        if not ok[i]:
            out.append(None)
            continue
        out.append(
            Impact(
                lat=float(lat[i]),
                lon=float(lon[i]),
                time=float(t[i]) + float(tm[i]),
                time_sigma_s=float(t_sigma[i]),
                semi_major_m=float(semi_major[i]),
                semi_minor_m=float(semi_minor[i]),
                orientation_deg=float(orient[i]),
                cov_enu_2x2=cov[i],
            )
        )
    return out


def propagate_to_impact(
    x: ArrayLike, p: ArrayLike, t: float, model: ForceModel = VACUUM
) -> Impact | None:
    """Predicted impact of one state ``x`` ``(6,)`` with covariance ``p`` ``(6, 6)`` at time
    ``t`` (s); see ``propagate_to_impact_many``."""
    return propagate_to_impact_many(
        np.asarray(x, dtype=np.float64)[None], np.asarray(p, dtype=np.float64)[None], [t], model
    )[0]


def impact_point(x: ArrayLike, model: ForceModel = VACUUM) -> tuple[float, float, float]:
    """Deterministic impact ``(lat_deg, lon_deg, flight_s)`` of one state ``(6,)`` (NaN if it
    does not come down)."""
    dt, r = fly_to_ground(np.asarray(x, dtype=np.float64)[None], model)
    lat, lon, _ = ecef_to_geodetic(r[0])
    return float(lat), float(lon), float(dt[0])


__all__ = [
    "CHI2_2DOF_95",
    "VACUUM",
    "ForceModel",
    "Impact",
    "acceleration",
    "air_density",
    "crossing_in_step",
    "dynamics_jacobian",
    "ellipse_95",
    "fly_to_ground",
    "gravity",
    "gravity_gradient",
    "impact_point",
    "kinematic_q9",
    "propagate",
    "propagate_to_impact",
    "propagate_to_impact_many",
    "rk4_step",
    "transition",
    "transition9",
    "white_accel_q",
]
