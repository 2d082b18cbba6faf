"""Synthetic missile-warning scenarios: truth trajectories and noisy sensor reports.

Pure: the random generator is an argument (``numpy.random.Generator``), time is an argument.

**Truth.** A missile rises vertically for ``vertical_s``, then its thrust elevation in the launch
site's East-North-Up frame pitches over linearly to ``pitch_burnout_deg`` at burn-out, on a
fixed azimuth. Thrust acceleration (net of ascent drag) grows as the propellant burns at a
constant rate, ``a(t) = a0 / (1 - (1 - 1/MR) t / t_b)`` (Sutton and Biblarz, "Rocket Propulsion
Elements", 9th ed., ch. 4: constant thrust, linear mass depletion, mass ratio ``MR``). After
burn-out the body flies ballistically (J2 gravity, rotating frame) and re-enters with drag of
ballistic coefficient ``beta`` (``ballistics.ForceModel``). RK4 at ``dt = 0.1 s``; states between
samples come from cubic Hermite interpolation (1 s steps above 120 km, where there is no
drag). The classes' figures are notional, picked to give
the stated ranges and apogees, not any real missile's.

**Sensors.** Notional figures, not any real system's performance: a radar reports at
``rate_hz`` when the target is within ``max_range_m``, at least ``min_elevation_deg`` above the
site's horizontal (the Earth's curvature hides low targets at long range) and detected (``p_d``).
The reported 1-sigma errors grow with slant range ``R``: ``ce = sigma0_m + angle_sigma_rad R``,
``le = le_ratio ce``; the reported point is the truth plus ENU noise
``N(0, diag(ce^2, ce^2, le^2))``, i.e. exactly the errors the report states (the model the fuser
assumes; see ``fusion``). Each sensor keeps one CoT ``uid`` per object (``<sensor>.<object>``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Final

import numpy as np
from numpy.typing import NDArray

from hotline.tracks.ballistics import (
    DRAG_CEILING_M,
    ForceModel,
    acceleration,
    crossing_in_step,
    rk4_step,
)
from hotline.tracks.fusion import Report
from hotline.tracks.geodesy import (
    ecef_to_geodetic,
    enu_rotation,
    geodetic_to_ecef,
    great_circle_km,
    look_angles,
)

F64 = NDArray[np.float64]

#: Truth integration step (s) in boost and in the atmosphere; 1 s in vacuum midcourse.
TRUTH_DT_S: Final = 0.1
MIDCOURSE_DT_S: Final = 1.0
#: Thrust acceleration cap (m/s^2), as a throttled or staged booster would have.
MAX_ACCEL_M_S2: Final = 70.0


@dataclass(frozen=True, slots=True)
class MissileClass:
    """Notional missile: thrust profile, pitch program, re-entry ballistic coefficient and the
    launch azimuth of its standard shot (degrees clockwise from north)."""

    name: str
    accel0_m_s2: float
    mass_ratio: float
    burn_s: float
    vertical_s: float
    pitch_burnout_deg: float
    beta_kg_m2: float
    azimuth_deg: float = 90.0


#: ~300 km short-range shot (apogee ~94 km, 329 s), lands off the Korean east coast.
SRBM: Final = MissileClass("srbm-300km", 20.0, 3.0, 65.96, 6.0, 30.0, 8_000.0, 90.0)
#: ~1,000 km medium-range shot (apogee ~273 km, 575 s), lands west of Sado Island.
MRBM: Final = MissileClass("mrbm-1000km", 20.0, 4.0, 100.98, 8.0, 25.0, 30_000.0, 90.0)
#: Lofted intermediate-range shot: apogee ~2,100 km, range ~750 km, 30 min.
IRBM_LOFTED: Final = MissileClass("irbm-lofted", 20.0, 6.0, 166.27, 10.0, 78.0, 40_000.0, 80.0)
#: Lofted ICBM shot into the Sea of Japan: apogee ~4,490 km, range ~1,090 km, 53 min.
ICBM_LOFTED: Final = MissileClass("icbm-lofted", 18.0, 8.0, 225.15, 12.0, 78.0, 60_000.0, 72.0)

CLASSES: Final = (SRBM, MRBM, IRBM_LOFTED, ICBM_LOFTED)

#: A notional launch area (near Pyongyang); shots go east into the Sea of Japan.
LAUNCH_LAT: Final = 39.20
LAUNCH_LON: Final = 125.67


@dataclass(frozen=True, slots=True)
class Launch:
    cls: MissileClass
    lat: float
    lon: float
    azimuth_deg: float
    t0: float
    name: str = "m1"


@dataclass(frozen=True, slots=True, eq=False)
class Trajectory:
    """Truth: sample times ``t (n,)`` (s) and states ``x (n, 6)`` (ECEF) up to impact."""

    launch: Launch
    t: F64
    x: F64
    burnout_time: float
    impact_time: float
    impact_lat: float
    impact_lon: float
    apogee_m: float
    range_km: float

    def shifted(self, dt: float, name: str) -> Trajectory:
        """The same flight launched ``dt`` seconds later (the Earth-fixed dynamics do not depend
        on time, so the path is identical)."""
        launch = replace(self.launch, t0=self.launch.t0 + dt, name=name)
        return replace(
            self,
            launch=launch,
            t=self.t + dt,
            burnout_time=self.burnout_time + dt,
            impact_time=self.impact_time + dt,
        )

    def state_at(self, t: float | F64) -> F64:
        """Interpolated state(s) ``(..., 6)`` at time(s) within the flight (cubic Hermite)."""
        tq = np.clip(np.asarray(t, dtype=np.float64), self.t[0], self.t[-1])
        i = np.clip(np.searchsorted(self.t, tq, side="right") - 1, 0, self.t.size - 2)
        h = self.t[i + 1] - self.t[i]
        s = ((tq - self.t[i]) / h)[..., None]
        x0, x1 = self.x[i], self.x[i + 1]
        hh = h[..., None]
        s2, s3 = s * s, s * s * s
        p0, v0, p1, v1 = x0[..., :3], x0[..., 3:], x1[..., :3], x1[..., 3:]
        pos = (
            (2 * s3 - 3 * s2 + 1) * p0
            + (s3 - 2 * s2 + s) * hh * v0
            + (-2 * s3 + 3 * s2) * p1
            + (s3 - s2) * hh * v1
        )
        vel = (
            (6 * s2 - 6 * s) * p0
            + (3 * s2 - 4 * s + 1) * hh * v0
            + (-6 * s2 + 6 * s) * p1
            + (3 * s2 - 2 * s) * hh * v1
        ) / hh
        out: F64 = np.concatenate([pos, vel], axis=-1)
        return out


def _truth_model(cls: MissileClass, *, drag: bool) -> ForceModel:
    return ForceModel(ballistic_coeff_kg_m2=cls.beta_kg_m2 if drag else None)


def _thrust(launch: Launch, t: float) -> F64:
    """Thrust acceleration ``(3,)`` ECEF at time since launch ``t`` (0 after burn-out)."""
    c = launch.cls
    if t >= c.burn_s:
        return np.zeros(3)
    a = min(c.accel0_m_s2 / (1.0 - (1.0 - 1.0 / c.mass_ratio) * t / c.burn_s), MAX_ACCEL_M_S2)
    if t < c.vertical_s:
        el = 90.0
    else:
        f = (t - c.vertical_s) / (c.burn_s - c.vertical_s)
        el = 90.0 + f * (c.pitch_burnout_deg - 90.0)
    el_r, az_r = math.radians(el), math.radians(launch.azimuth_deg)
    enu = np.array(
        [math.cos(el_r) * math.sin(az_r), math.cos(el_r) * math.cos(az_r), math.sin(el_r)]
    )
    out: F64 = a * (enu_rotation(launch.lat, launch.lon).T @ enu)
    return out


def _thrust6(launch: Launch, t: float) -> F64:
    out: F64 = np.concatenate([np.zeros(3), _thrust(launch, t)])
    return out


def fly(launch: Launch, *, dt: float = TRUTH_DT_S, max_flight_s: float = 7200.0) -> Trajectory:
    """Integrate the truth trajectory of ``launch`` from ignition to impact."""
    model = _truth_model(launch.cls, drag=True)
    boost_model = _truth_model(launch.cls, drag=False)  # thrust is net of ascent drag
    x = np.concatenate([geodetic_to_ecef(launch.lat, launch.lon, 0.0), np.zeros(3)])
    ts = [0.0]
    xs = [x]
    t: float = 0.0
    # Boost: the thrust is piecewise-smooth; RK4 with the thrust held at each stage point.
    bm = boost_model
    while t < launch.cls.burn_s - 1e-9:
        h = min(dt, launch.cls.burn_s - t)
        k1 = acceleration(x, bm) + _thrust6(launch, t)
        k2 = acceleration(x + 0.5 * h * k1, bm) + _thrust6(launch, t + h / 2)
        k3 = acceleration(x + 0.5 * h * k2, bm) + _thrust6(launch, t + h / 2)
        k4 = acceleration(x + h * k3, bm) + _thrust6(launch, min(t + h, launch.cls.burn_s - 1e-9))
        x = x + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        t += h
        ts.append(t)
        xs.append(x)
    burnout = t
    z0 = float(ecef_to_geodetic(x[:3])[2])
    while t < max_flight_s:
        # Vacuum above the drag ceiling: 1 s steps are accurate to millimetres there.
        h = MIDCOURSE_DT_S if z0 > DRAG_CEILING_M + 20_000.0 else dt
        x1 = rk4_step(x, h, model)
        z1 = float(ecef_to_geodetic(x1[:3])[2])
        if z1 <= 0.0:
            frac, r_hit = crossing_in_step(
                x[None], x1[None], np.array([h]), np.array([z0]), np.array([z1])
            )
            x_hit = rk4_step(x, float(frac[0]) * h, model)
            x_hit[:3] = r_hit[0]
            t += float(frac[0]) * h
            ts.append(t)
            xs.append(x_hit)
            break
        x, z0 = x1, z1
        t += h
        ts.append(t)
        xs.append(x)
    tt = np.array(ts) + launch.t0
    xx = np.stack(xs)
    lat, lon, hae = ecef_to_geodetic(xx[:, :3])
    return Trajectory(
        launch=launch,
        t=tt,
        x=xx,
        burnout_time=launch.t0 + burnout,
        impact_time=float(tt[-1]),
        impact_lat=float(lat[-1]),
        impact_lon=float(lon[-1]),
        apogee_m=float(hae.max()),
        range_km=float(great_circle_km(launch.lat, launch.lon, lat[-1], lon[-1])),
    )


@dataclass(frozen=True, slots=True)
class Sensor:
    """A notional radar (see module docstring)."""

    name: str
    nation: str
    lat: float
    lon: float
    hae: float
    rate_hz: float
    max_range_m: float
    min_elevation_deg: float
    sigma0_m: float
    angle_sigma_rad: float
    le_ratio: float = 1.0
    p_d: float = 0.95
    phase_s: float = 0.0


#: US forward-based X-band radar (notional figures), Kyogamisaki, Japan.
US_RADAR: Final = Sensor(
    "tpy2-kyogamisaki", "USA", 35.77, 135.20, 150.0, 1.0, 2.0e6, 1.0, 30.0, 0.25e-3, phase_s=0.0
)
#: Japanese ground-based early-warning radar (notional figures), Sado Island.
JPN_RADAR: Final = Sensor(
    "fps5-sado", "JPN", 38.00, 138.45, 300.0, 0.5, 2.0e6, 1.0, 50.0, 0.45e-3, phase_s=0.3
)
#: Korean L-band early-warning radar (notional figures), central ROK.
KOR_RADAR: Final = Sensor(
    "greenpine-central", "KOR", 36.50, 127.60, 200.0, 1.0, 0.9e6, 1.0, 50.0, 0.8e-3, phase_s=0.6
)

SENSORS: Final = (US_RADAR, JPN_RADAR, KOR_RADAR)


def observe(
    traj: Trajectory, sensor: Sensor, rng: np.random.Generator, *, obj: str | None = None
) -> list[Report]:
    """The reports ``sensor`` makes of ``traj`` (time order)."""
    t0 = math.ceil((traj.t[0] - sensor.phase_s) * sensor.rate_hz) / sensor.rate_hz
    times = np.arange(t0 + sensor.phase_s, traj.impact_time, 1.0 / sensor.rate_hz)
    if times.size == 0:
        return []
    x = traj.state_at(times)
    _, el, rng_m = look_angles(x[:, :3], sensor.lat, sensor.lon, sensor.hae)
    lat, lon, hae = ecef_to_geodetic(x[:, :3])
    seen = (
        (el >= sensor.min_elevation_deg)
        & (rng_m <= sensor.max_range_m)
        & (hae > 0.0)
        & (rng.random(times.size) < sensor.p_d)
    )
    idx = np.flatnonzero(seen)
    if idx.size == 0:
        return []
    ce = sensor.sigma0_m + sensor.angle_sigma_rad * rng_m[idx]
    le = sensor.le_ratio * ce
    noise = rng.standard_normal((idx.size, 3)) * np.stack([ce, ce, le], axis=-1)
    c = enu_rotation(lat[idx], lon[idx])
    pts = x[idx, :3] + np.einsum("nji,nj->ni", c, noise)
    plat, plon, phae = ecef_to_geodetic(pts)
    uid = f"{sensor.name}.{obj or traj.launch.name}"
    return [
        Report(
            uid=uid,
            nation=sensor.nation,
            sensor=sensor.name,
            time=round(float(times[k]), 6),
            lat=float(plat[j]),
            lon=float(plon[j]),
            hae=float(phae[j]),
            ce=round(float(ce[j]), 1),
            le=round(float(le[j]), 1),
        )
        for j, k in enumerate(idx)
    ]


def observe_all(
    trajs: Sequence[Trajectory], sensors: Sequence[Sensor], rng: np.random.Generator
) -> list[Report]:
    """Every sensor's reports of every trajectory, sorted by time."""
    out = [r for tr in trajs for s in sensors for r in observe(tr, s, rng)]
    out.sort(key=lambda r: r.key)
    return out


def launch_of(
    cls: MissileClass,
    *,
    t0: float = 0.0,
    lat: float = LAUNCH_LAT,
    lon: float = LAUNCH_LON,
    azimuth_deg: float | None = None,
    name: str = "m1",
) -> Launch:
    """The standard shot of ``cls`` (from the notional launch area unless told otherwise)."""
    az = cls.azimuth_deg if azimuth_deg is None else azimuth_deg
    return Launch(cls, lat, lon, az, t0, name)
