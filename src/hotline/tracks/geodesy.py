"""WGS-84 geodesy on NumPy arrays: geodetic <-> ECEF, local ENU frames, great-circle distance.

Every function is vectorised: scalars or arrays of any broadcastable shape ``(...)`` go in,
and arrays of the matching shape come out (``(..., 3)`` for ECEF or ENU vectors).

Constants are those of the World Geodetic System 1984 as defined in NIMA TR8350.2, third
edition (2000), "Department of Defense World Geodetic System 1984, its definition and
relationships with local geodetic systems", table 3.1 (defining parameters) and table 3.3
(derived ``b``, ``e^2``): ``a = 6378137 m``, ``1/f = 298.257223563``,
``GM = 3.986004418e14 m^3/s^2``, ``omega = 7.292115e-5 rad/s``. ``J2`` is derived from the
normalised second-degree zonal coefficient ``C20 = -0.484166774985e-3`` of table 3.1 (EGM96
value) as ``J2 = -sqrt(5) * C20``.

Geodetic -> ECEF is the closed form (TR8350.2 eq. 4-14 / Hofmann-Wellenhof et al., "GNSS",
eq. 5.9)::

    N(phi) = a / sqrt(1 - e^2 sin^2 phi)
    X = (N + h) cos phi cos lam,  Y = (N + h) cos phi sin lam,  Z = (N (1 - e^2) + h) sin phi

ECEF -> geodetic uses Bowring's (1976) parametric-latitude iteration ("Transformation from
spatial to geographical coordinates", Survey Review 23(181)), three iterations, which is
converged to below 1e-9 m of height for every point from the Earth's surface to beyond
geostationary altitude (checked in ``tests/unit/test_geodesy.py``). The height is then
``h = p cos phi + z sin phi - a sqrt(1 - e^2 sin^2 phi)``, exact for any latitude.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

F64 = NDArray[np.float64]

#: Semi-major axis (m), TR8350.2 table 3.1.
WGS84_A: Final = 6378137.0
#: Flattening, TR8350.2 table 3.1.
WGS84_F: Final = 1.0 / 298.257223563
#: Semi-minor axis (m), TR8350.2 table 3.3.
WGS84_B: Final = WGS84_A * (1.0 - WGS84_F)
#: First eccentricity squared, TR8350.2 table 3.3.
WGS84_E2: Final = WGS84_F * (2.0 - WGS84_F)
#: Second eccentricity squared ``e'^2 = e^2 / (1 - e^2)``.
WGS84_EP2: Final = WGS84_E2 / (1.0 - WGS84_E2)
#: Earth's gravitational constant including the atmosphere (m^3/s^2), TR8350.2 table 3.1.
WGS84_GM: Final = 3.986004418e14
#: Earth's nominal mean angular velocity (rad/s), TR8350.2 table 3.1.
WGS84_OMEGA: Final = 7.292115e-5
#: Second zonal harmonic, ``-sqrt(5) * C20`` with ``C20 = -0.484166774985e-3`` (TR8350.2).
WGS84_J2: Final = 1.082629821313e-3
#: IUGG mean Earth radius ``R1 = (2a + b) / 3`` (m), used for great-circle distances.
MEAN_RADIUS_M: Final = (2.0 * WGS84_A + WGS84_B) / 3.0


def geodetic_to_ecef(lat_deg: ArrayLike, lon_deg: ArrayLike, hae_m: ArrayLike) -> F64:
    """WGS-84 geodetic coordinates to Earth-centred, Earth-fixed Cartesian coordinates.

    ``lat_deg``, ``lon_deg``: degrees; ``hae_m``: metres above the ellipsoid; any broadcastable
    shapes ``(...)``. Returns ``(..., 3)`` metres ``[X, Y, Z]`` (TR8350.2 eq. 4-14).
    """
    lat = np.radians(np.asarray(lat_deg, dtype=np.float64))
    lon = np.radians(np.asarray(lon_deg, dtype=np.float64))
    h = np.asarray(hae_m, dtype=np.float64)
    sin_lat = np.sin(lat)
    cos_lat = np.cos(lat)
    n = WGS84_A / np.sqrt(1.0 - WGS84_E2 * sin_lat * sin_lat)
    x = (n + h) * cos_lat * np.cos(lon)
    y = (n + h) * cos_lat * np.sin(lon)
    z = (n * (1.0 - WGS84_E2) + h) * sin_lat
    out: F64 = np.stack(np.broadcast_arrays(x, y, z), axis=-1)
    return out


def ecef_to_geodetic(ecef_m: ArrayLike, *, iterations: int = 3) -> tuple[F64, F64, F64]:
    """ECEF ``(..., 3)`` metres to WGS-84 ``(lat_deg, lon_deg, hae_m)``, each of shape ``(...)``.

    Bowring's iteration on the parametric latitude ``beta``::

        beta_0 = atan2(a z, b p),  p = sqrt(x^2 + y^2)
        phi_k  = atan2(z + e'^2 b sin^3 beta, p - e^2 a cos^3 beta)
        beta   = atan2((1 - f) sin phi_k, cos phi_k)

    Valid everywhere except within a few kilometres of the Earth's centre. One iteration is
    already sub-millimetre within 10 km of the ellipsoid (Bowring 1976); three are the default.
    """
    r = np.asarray(ecef_m, dtype=np.float64)
    x = r[..., 0]
    y = r[..., 1]
    p, sin_phi, cos_phi = _bowring(x, y, r[..., 2], iterations)
    h = _height(p, r[..., 2], sin_phi, cos_phi)
    lat: F64 = np.degrees(np.arctan2(sin_phi, cos_phi))
    lon: F64 = np.degrees(np.arctan2(y, x))
    return lat, lon, h


def geodetic_height(ecef_m: ArrayLike, *, iterations: int = 3) -> F64:
    """Height above the WGS-84 ellipsoid (m) of ECEF points ``(..., 3)``; shape ``(...)``: the
    height of ``ecef_to_geodetic`` without its angles (the hot path of impact prediction)."""
    r = np.asarray(ecef_m, dtype=np.float64)
    return geodetic_height_xyz(r[..., 0], r[..., 1], r[..., 2], iterations=iterations)


def geodetic_height_xyz(x: F64, y: F64, z: F64, *, iterations: int = 3) -> F64:
    """``geodetic_height`` of points given as separate coordinate arrays (contiguous ones are
    faster than the columns of an ``(n, 3)`` array)."""
    p, sin_phi, cos_phi = _bowring(x, y, z, iterations)
    return _height(p, z, sin_phi, cos_phi)


def _bowring(x: F64, y: F64, z: F64, iterations: int) -> tuple[F64, F64, F64]:
    """``p = sqrt(x^2 + y^2)`` and the sine and cosine of the geodetic latitude by
    ``ecef_to_geodetic``'s iteration, carried as unnormalised direction pairs instead of
    angles: ``beta = atan2(u, v)`` has ``sin beta = u / hypot(u, v)``, ``cos beta = v /
    hypot(u, v)``, so no arctangent, sine or cosine is taken (each Bowring step is then a
    square root and a few products; the same numbers up to rounding)."""
    p = np.sqrt(x * x + y * y)
    u, v = WGS84_A * z, WGS84_B * p  # beta_0
    for i in range(iterations):
        n = 1.0 / np.sqrt(u * u + v * v)
        sb, cb = u * n, v * n
        u = z + WGS84_EP2 * WGS84_B * sb * sb * sb  # phi_k = atan2(u, v)
        v = p - WGS84_E2 * WGS84_A * cb * cb * cb
        if i < iterations - 1:
            u = (1.0 - WGS84_F) * u  # beta = atan2((1 - f) sin phi, cos phi)
    n = 1.0 / np.sqrt(u * u + v * v)
    return p, u * n, v * n


def _height(p: F64, z: F64, sin_phi: F64, cos_phi: F64) -> F64:
    out: F64 = p * cos_phi + z * sin_phi - WGS84_A * np.sqrt(1.0 - WGS84_E2 * sin_phi * sin_phi)
    return out


def enu_components(lat_deg: float, lon_deg: float, vec: ArrayLike) -> tuple[float, float, float]:
    """East, north, up components of the ECEF vector ``vec (3,)`` at one point: the product
    ``enu_rotation(lat_deg, lon_deg) @ vec`` in scalar arithmetic (a track summary's velocity;
    the array form costs ~50 µs for one point)."""
    v = np.asarray(vec, dtype=np.float64)
    if v.shape != (3,):
        raise ValueError(f"enu_components: a vector of 3 components, not of shape {v.shape}")
    lat, lon = math.radians(lat_deg), math.radians(lon_deg)
    sl, cl, so, co = math.sin(lat), math.cos(lat), math.sin(lon), math.cos(lon)
    x, y, z = (float(c) for c in v)
    horizontal = co * x + so * y
    return -so * x + co * y, -sl * horizontal + cl * z, cl * horizontal + sl * z


def enu_rotation(lat_deg: ArrayLike, lon_deg: ArrayLike) -> F64:
    """Rotation ``C`` (``(..., 3, 3)``) from ECEF to the local East-North-Up frame at a point.

    ``enu = C @ (ecef - ecef_origin)``; rows are the unit vectors east, north, up expressed in
    ECEF (the geodetic normal is "up"; Hofmann-Wellenhof et al., "GNSS", eq. 5.25)::

        e = [-sin lam,          cos lam,          0     ]
        n = [-sin phi cos lam, -sin phi sin lam,  cos phi]
        u = [ cos phi cos lam,  cos phi sin lam,  sin phi]

    ``C`` is orthonormal, so ``C.T`` maps ENU back to ECEF.
    """
    lat = np.radians(np.asarray(lat_deg, dtype=np.float64))
    lon = np.radians(np.asarray(lon_deg, dtype=np.float64))
    sl, cl = np.sin(lat), np.cos(lat)
    so, co = np.sin(lon), np.cos(lon)
    zero = np.zeros_like(sl * so)
    rows = (
        (-so + zero, co + zero, zero),
        (-sl * co, -sl * so, cl + zero),
        (cl * co, cl * so, sl + zero),
    )
    out: F64 = np.stack([np.stack(row, axis=-1) for row in rows], axis=-2)
    return out


def ecef_to_enu(
    ecef_m: ArrayLike, lat0_deg: ArrayLike, lon0_deg: ArrayLike, hae0_m: ArrayLike
) -> F64:
    """ECEF points ``(..., 3)`` to ENU ``(..., 3)`` metres relative to a geodetic origin."""
    origin = geodetic_to_ecef(lat0_deg, lon0_deg, hae0_m)
    c = enu_rotation(lat0_deg, lon0_deg)
    d = np.asarray(ecef_m, dtype=np.float64) - origin
    out: F64 = np.einsum("...ij,...j->...i", c, d)
    return out


def enu_to_ecef(
    enu_m: ArrayLike, lat0_deg: ArrayLike, lon0_deg: ArrayLike, hae0_m: ArrayLike
) -> F64:
    """ENU ``(..., 3)`` metres relative to a geodetic origin back to ECEF ``(..., 3)``."""
    origin = geodetic_to_ecef(lat0_deg, lon0_deg, hae0_m)
    c = enu_rotation(lat0_deg, lon0_deg)
    out: F64 = origin + np.einsum("...ji,...j->...i", c, np.asarray(enu_m, dtype=np.float64))
    return out


def look_angles(
    ecef_m: ArrayLike, lat0_deg: ArrayLike, lon0_deg: ArrayLike, hae0_m: ArrayLike
) -> tuple[F64, F64, F64]:
    """Azimuth (deg clockwise from north), elevation (deg) and slant range (m) of ECEF points
    ``(..., 3)`` seen from a geodetic site (elevation above the site's local horizontal plane).
    """
    enu = ecef_to_enu(ecef_m, lat0_deg, lon0_deg, hae0_m)
    e, n, u = enu[..., 0], enu[..., 1], enu[..., 2]
    horiz = np.hypot(e, n)
    az: F64 = np.mod(np.degrees(np.arctan2(e, n)), 360.0)
    el: F64 = np.degrees(np.arctan2(u, horiz))
    rng: F64 = np.sqrt(horiz * horiz + u * u)
    return az, el, rng


def great_circle_km(
    lat1_deg: ArrayLike, lon1_deg: ArrayLike, lat2_deg: ArrayLike, lon2_deg: ArrayLike
) -> F64:
    """Great-circle distance (km) on the IUGG mean sphere, haversine form (Sinnott 1984,
    "Virtues of the haversine", Sky & Telescope 68(2)), well-conditioned for small distances.

    Against the WGS-84 ellipsoidal geodesic the error is below 0.56 % of the distance; for the
    kilometre-scale impact-error figures this is metres, far below the filter errors.
    """
    p1 = np.radians(np.asarray(lat1_deg, dtype=np.float64))
    p2 = np.radians(np.asarray(lat2_deg, dtype=np.float64))
    dl = np.radians(np.asarray(lon2_deg, dtype=np.float64) - np.asarray(lon1_deg, np.float64))
    s = np.sin((p2 - p1) / 2.0) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2.0) ** 2
    out: F64 = 2.0 * MEAN_RADIUS_M / 1000.0 * np.arcsin(np.sqrt(np.clip(s, 0.0, 1.0)))
    return out
