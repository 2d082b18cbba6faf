"""WGS-84 geodesy: closed-form points, round trips, ENU frames, great-circle distance."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.typing import ArrayLike

from hotline.tracks.geodesy import (
    MEAN_RADIUS_M,
    WGS84_A,
    WGS84_B,
    WGS84_E2,
    WGS84_EP2,
    WGS84_F,
    ecef_to_enu,
    ecef_to_geodetic,
    enu_components,
    enu_rotation,
    enu_to_ecef,
    geodetic_height,
    geodetic_height_xyz,
    geodetic_to_ecef,
    great_circle_km,
    look_angles,
)


def test_constants_match_tr8350_2() -> None:
    # NIMA TR8350.2 table 3.3: b = 6356752.3142 m, e^2 = 6.69437999014e-3.
    assert pytest.approx(6356752.3142, abs=1e-4) == WGS84_B
    assert pytest.approx(6.69437999014e-3, rel=1e-11) == WGS84_E2


@pytest.mark.parametrize(
    ("lat", "lon", "h", "xyz"),
    [
        (0.0, 0.0, 0.0, (WGS84_A, 0.0, 0.0)),
        (0.0, 90.0, 100.0, (0.0, WGS84_A + 100.0, 0.0)),
        (90.0, 0.0, 0.0, (0.0, 0.0, WGS84_B)),
        (-90.0, 0.0, -50.0, (0.0, 0.0, -WGS84_B + 50.0)),
    ],
)
def test_geodetic_to_ecef_closed_form(
    lat: float, lon: float, h: float, xyz: tuple[float, float, float]
) -> None:
    assert geodetic_to_ecef(lat, lon, h) == pytest.approx(xyz, abs=1e-6)


def test_geodetic_to_ecef_at_45_degrees() -> None:
    # N = a / sqrt(1 - e^2 / 2); X = N cos 45, Z = N (1 - e^2) sin 45.
    n = WGS84_A / math.sqrt(1.0 - WGS84_E2 / 2.0)
    c = math.sqrt(0.5)
    assert geodetic_to_ecef(45.0, 0.0, 0.0) == pytest.approx(
        (n * c, 0.0, n * (1.0 - WGS84_E2) * c), abs=1e-6
    )


def test_round_trip_surface_to_beyond_geostationary() -> None:
    rng = np.random.default_rng(7)
    lat = rng.uniform(-90.0, 90.0, 20_000)
    lon = rng.uniform(-180.0, 180.0, 20_000)
    h = rng.uniform(-10_000.0, 40_000_000.0, 20_000)
    back_lat, back_lon, back_h = ecef_to_geodetic(geodetic_to_ecef(lat, lon, h))
    assert np.max(np.abs(back_lat - lat)) < 1e-9
    ok = np.abs(lat) < 89.999  # longitude is undefined at the poles
    dlon = (back_lon - lon + 180.0) % 360.0 - 180.0
    assert np.max(np.abs(dlon[ok])) < 1e-9
    assert np.max(np.abs(back_h - h)) < 1e-6


def test_one_iteration_is_enough_near_the_surface() -> None:
    rng = np.random.default_rng(8)
    h = rng.uniform(-1000.0, 100_000.0, 5000)
    r = geodetic_to_ecef(rng.uniform(-90, 90, 5000), rng.uniform(-180, 180, 5000), h)
    assert np.max(np.abs(geodetic_height(r, iterations=1) - h)) < 1e-6


def test_enu_rotation_is_orthonormal_and_up_is_the_normal() -> None:
    c = enu_rotation([35.0, -60.0, 89.0], [139.0, 10.0, -170.0])
    assert c.shape == (3, 3, 3)
    assert np.allclose(c @ np.swapaxes(c, -1, -2), np.eye(3), atol=1e-14)
    assert np.allclose(np.linalg.det(c), 1.0)
    # Up is the ellipsoid normal: a point 1 km above the origin is (0, 0, 1000) in ENU.
    enu = ecef_to_enu(geodetic_to_ecef(35.0, 139.0, 1000.0), 35.0, 139.0, 0.0)
    assert enu == pytest.approx((0.0, 0.0, 1000.0), abs=1e-6)


def test_enu_round_trip_and_north_is_north() -> None:
    enu = np.array([[1200.0, -300.0, 45.0], [-5.0, 99_000.0, 10_000.0]])
    ecef = enu_to_ecef(enu, 37.5, 127.0, 30.0)
    assert ecef_to_enu(ecef, 37.5, 127.0, 30.0) == pytest.approx(enu, abs=1e-6)
    north = ecef_to_enu(geodetic_to_ecef(37.51, 127.0, 30.0), 37.5, 127.0, 30.0)
    assert north[1] > 1000.0
    assert abs(north[0]) < 1e-6


def test_look_angles() -> None:
    target = geodetic_to_ecef(36.0, 128.0, 500_000.0)
    az, el, rng = look_angles(target, 36.0, 128.0, 0.0)
    assert el == pytest.approx(90.0)
    assert rng == pytest.approx(500_000.0, abs=1e-3)
    az, el, _ = look_angles(geodetic_to_ecef(36.0, 129.0, 100_000.0), 36.0, 128.0, 0.0)
    assert az == pytest.approx(90.0, abs=1.0)
    assert 0.0 < el < 90.0


def test_great_circle() -> None:
    assert great_circle_km(10.0, 20.0, 10.0, 20.0) == pytest.approx(0.0)
    quarter = math.pi / 2.0 * MEAN_RADIUS_M / 1000.0
    assert great_circle_km(0.0, 0.0, 90.0, 0.0) == pytest.approx(quarter)
    assert great_circle_km(0.0, 179.5, 0.0, -179.5) == pytest.approx(quarter / 90.0, rel=1e-9)
    # Tokyo - Seoul is about 1,160 km.
    assert great_circle_km(35.68, 139.69, 37.57, 126.98) == pytest.approx(1160.0, rel=0.01)


def _bowring_with_angles(r: np.ndarray, iterations: int) -> tuple[np.ndarray, np.ndarray]:
    """The textbook form of Bowring's iteration (angles, arctangents): latitude (deg), height."""
    x, y, z = r[..., 0], r[..., 1], r[..., 2]
    p = np.hypot(x, y)
    beta = np.arctan2(WGS84_A * z, WGS84_B * p)
    phi = beta
    for _ in range(iterations):
        phi = np.arctan2(
            z + WGS84_EP2 * WGS84_B * np.sin(beta) ** 3, p - WGS84_E2 * WGS84_A * np.cos(beta) ** 3
        )
        beta = np.arctan2((1.0 - WGS84_F) * np.sin(phi), np.cos(phi))
    s = np.sin(phi)
    h = p * np.cos(phi) + z * s - WGS84_A * np.sqrt(1.0 - WGS84_E2 * s * s)
    return np.degrees(phi), h


@pytest.mark.parametrize("iterations", [0, 1, 3])
def test_algebraic_iteration_is_bowrings_with_angles(iterations: int) -> None:
    # ecef_to_geodetic carries the latitudes as direction pairs (no trigonometry): the same
    # numbers as the angle form up to rounding, everywhere from below ground to 2,000 km up.
    rng = np.random.default_rng(3)
    n = 20_000
    r = geodetic_to_ecef(
        rng.uniform(-90, 90, n), rng.uniform(-180, 180, n), rng.uniform(-5e4, 2e6, n)
    )
    lat, _, h = ecef_to_geodetic(r, iterations=iterations)
    want_lat, want_h = _bowring_with_angles(r, iterations)
    assert np.abs(lat - want_lat).max() < 1e-12
    assert np.abs(h - want_h).max() < 1e-7
    assert np.array_equal(geodetic_height(r, iterations=iterations), h)
    assert np.array_equal(geodetic_height_xyz(r[:, 0], r[:, 1], r[:, 2], iterations=iterations), h)


@given(
    st.floats(-90.0, 90.0),
    st.floats(-180.0, 180.0),
    st.lists(st.floats(-1e4, 1e4), min_size=3, max_size=3),
)
def test_enu_components_are_the_rotation_applied(lat: float, lon: float, v: list[float]) -> None:
    got = enu_components(lat, lon, v)
    assert got == pytest.approx(enu_rotation(lat, lon) @ np.array(v), abs=1e-9)


@pytest.mark.parametrize("vec", [[1.0, 2.0], [[1.0, 2.0, 3.0]], [1.0, 2.0, 3.0, 4.0]])
def test_enu_components_refuse_anything_but_one_vector(vec: ArrayLike) -> None:
    with pytest.raises(ValueError, match="3 components"):
        enu_components(38.0, 131.0, vec)
