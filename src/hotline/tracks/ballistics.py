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

(constants WGS-84, NIMA TR8350.2; see ``geodesy``). The optional drag of an isothermal
exponential atmosphere ``a_drag = -rho(h) |v| v / (2 beta)``, ``rho = 1.225 exp(-h / 7200 m)``
(sea-level density of the US Standard Atmosphere 1976; scale-height approximation as in Regan
and Anandakrishnan, "Dynamics of Atmospheric Re-Entry", AIAA 1993, ch. 2), with ballistic
coefficient ``beta = m / (C_D A)`` in kg/m^2, is used by the scenario generator for truth only.

Phases handled:

* **midcourse** (exo-atmospheric, unpowered): the model above is exact to the J2 level; the
  unmodelled higher harmonics are below 1e-4 m/s^2.
* **boost** is powered: thrust is not modelled. The tracking filter (``fusion``) carries it
  with a high-process-noise mode of an interacting multiple model (IMM) filter.
* **terminal** (re-entry, below about 100 km): drag is ignored by the filter model; the drag
  mismatch is carried by the same high-noise IMM mode. Impact prediction uses vacuum flight, so
  it is biased long for low-beta bodies (the benchmark measures the bias: ``docs/tracks.md``).

Impact prediction (``propagate_to_impact``) uses the unscented transform (Julier and Uhlmann,
"Unscented filtering and nonlinear estimation", Proc. IEEE 92(3), 2004): the 2n = 12 symmetric
sigma points ``x +/- sqrt(n P)_i`` (kappa = 0, weights 1/12) and the mean are each flown until
they descend through ellipsoid height 0, so the non-linear ground-crossing condition is handled
without linearisation; the impact points' local East-North scatter gives the 2x2 covariance and
its 95 % ellipse (chi-square, 2 dof: ``-2 ln 0.05 = 5.991``).

Integration is classical fourth-order Runge-Kutta with a step that scales with the local orbital
time constant, ``h = 0.04 / n(r)``, ``n = sqrt(mu / |r|^3)`` (about 32 s near the ground, 90 s at
6,000 km altitude; the impact point is within 1 m of a 20 times finer integration for all four
benchmark shots); the ground crossing inside the last step is found on the cubic Hermite
interpolant of the step end points (position and velocity), by regula falsi.
"""

from __future__ import annotations

import math
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
)

F64 = NDArray[np.float64]

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
    k1 = acceleration(x, model)
    k2 = acceleration(x + (0.5 * h) * k1, model)
    k3 = acceleration(x + (0.5 * h) * k2, model)
    k4 = acceleration(x + h * k3, model)
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
    retained end's height is halved) to 1 mm of height."""
    lo, hi = np.zeros_like(h), np.ones_like(h)
    f_lo, f_hi = z0.copy(), z1.copy()
    s = hi
    for _ in range(40):
        s = (lo * f_hi - hi * f_lo) / (f_hi - f_lo)
        f = geodetic_height(_hermite(x0, x1, h, s), iterations=1)
        if np.all(np.abs(f) < 1e-3):
            break
        move_lo = np.sign(f) == np.sign(f_lo)
        lo = np.where(move_lo, s, lo)
        hi = np.where(move_lo, hi, s)
        f_lo, f_hi = np.where(move_lo, f, 0.5 * f_lo), np.where(move_lo, 0.5 * f_hi, f)
    return s, _hermite(x0, x1, h, s)


def fly_to_ground(
    x: ArrayLike,
    model: ForceModel = VACUUM,
    *,
    max_flight_s: float = 7200.0,
    max_step_s: float = math.inf,
) -> tuple[F64, F64]:
    """Fly states ``(k, 6)`` until each descends through ellipsoid height 0.

    Returns ``(dt, r)``: flight time (s, ``(k,)``; NaN if no crossing within ``max_flight_s``)
    and ECEF impact position ``(k, 3)``. A state already at or below height 0 impacts at once.
    The step suits vacuum flight; with drag pass a ``max_step_s`` of a fraction of a second.
    """
    x = np.array(x, dtype=np.float64, ndmin=2)
    k = x.shape[0]
    t = np.zeros(k)
    out_t = np.full(k, np.nan)
    out_r = np.full((k, 3), np.nan)
    z = geodetic_height(x[:, :3], iterations=1)
    done = z <= 0.0
    out_t[done] = 0.0
    out_r[done] = x[done, :3]
    active = np.flatnonzero(~done)
    xa, ta, za = x[active], t[active], z[active]
    while active.size:
        h = np.minimum(np.minimum(_step_size(xa), max_step_s), max_flight_s - ta + 1e-9)
        x1 = rk4_step(xa, h, model)
        z1 = geodetic_height(x1[:, :3], iterations=1)
        hit = z1 <= 0.0
        if np.any(hit):
            s, r = crossing_in_step(xa[hit], x1[hit], h[hit], za[hit], z1[hit])
            idx = active[hit]
            out_t[idx] = ta[hit] + s * h[hit]
            out_r[idx] = r
        ta = ta + h
        keep = ~hit & (ta < max_flight_s)
        active, xa, ta, za = active[keep], x1[keep], ta[keep], z1[keep]
    return out_t, out_r


def _sigma_points(x: F64, p: F64) -> F64:
    """``(k, 13, 6)``: the mean then ``x +/- sqrt(n P)`` columns (kappa = 0)."""
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


def ellipse_95(cov_en: ArrayLike) -> tuple[float, float, float]:
    """95 % ellipse of a 2x2 East-North covariance (m^2): ``(semi_major_m, semi_minor_m,
    orientation_deg)``, semi-axes ``sqrt(5.991 lambda_i)``, orientation of the major axis
    clockwise from north in [0, 180)."""
    c = np.asarray(cov_en, dtype=np.float64)
    w, v = np.linalg.eigh(0.5 * (c + c.T))
    w = np.clip(w, 0.0, None)
    major = v[:, 1]
    orient = math.degrees(math.atan2(float(major[0]), float(major[1]))) % 180.0
    return (
        math.sqrt(CHI2_2DOF_95 * float(w[1])),
        math.sqrt(CHI2_2DOF_95 * float(w[0])),
        orient,
    )


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
    anything)."""
    x = np.array(x, dtype=np.float64, ndmin=2)
    p = np.array(p, dtype=np.float64, ndmin=3)
    t = np.atleast_1d(np.asarray(t, dtype=np.float64))
    k = x.shape[0]
    sig = _sigma_points(x, p)
    m = sig.shape[1]
    dt, r = fly_to_ground(sig.reshape(k * m, 6), model, max_flight_s=max_flight_s)
    dt = dt.reshape(k, m)
    r = r.reshape(k, m, 3)
    out: list[Impact | None] = []
    lat0, lon0, _ = ecef_to_geodetic(r[:, 0])
    for i in range(k):
        if not np.all(np.isfinite(dt[i])):
            out.append(None)
            continue
        en = ecef_to_enu(r[i, 1:], lat0[i], lon0[i], 0.0)[:, :2]
        mean_en = en.mean(axis=0)
        d = en - mean_en
        cov = d.T @ d / (m - 1)
        tm = float(dt[i, 1:].mean())
        t_sigma = float(np.sqrt(np.mean((dt[i, 1:] - tm) ** 2)))
        pt = enu_to_ecef(np.array([mean_en[0], mean_en[1], 0.0]), lat0[i], lon0[i], 0.0)
        lat, lon, _ = ecef_to_geodetic(pt)
        a, b, o = ellipse_95(cov)
        cov.setflags(write=False)
        out.append(
            Impact(
                lat=float(lat),
                lon=float(lon),
                time=float(t[i]) + tm,
                time_sigma_s=t_sigma,
                semi_major_m=a,
                semi_minor_m=b,
                orientation_deg=o,
                cov_enu_2x2=cov,
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
    "crossing_in_step",
    "dynamics_jacobian",
    "ellipse_95",
    "fly_to_ground",
    "gravity",
    "gravity_gradient",
    "impact_point",
    "propagate",
    "propagate_to_impact",
    "propagate_to_impact_many",
    "rk4_step",
    "transition",
    "white_accel_q",
]
