"""Ballistic flight in the rotating Earth frame: closed-form checks, invariants, Jacobians and
impact prediction."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hotline.tracks.ballistics import (
    CHI2_2DOF_95,
    ForceModel,
    _rates_rows,
    acceleration,
    crossing_in_step,
    drag_terms,
    dynamics_jacobian,
    ellipse_95,
    fly_to_ground,
    gravity,
    gravity_gradient,
    impact_point,
    kinematic_q9,
    propagate,
    propagate_to_impact,
    propagate_to_impact_many,
    transition,
    transition9,
    transition_modes,
    white_accel_q,
)
from hotline.tracks.geodesy import (
    WGS84_A,
    WGS84_GM,
    WGS84_J2,
    WGS84_OMEGA,
    ecef_to_enu,
    ecef_to_geodetic,
    enu_rotation,
    geodetic_height,
    geodetic_to_ecef,
    great_circle_km,
)

INERTIAL = ForceModel(rotating=False)
POINT_MASS_INERTIAL = ForceModel(j2=False, rotating=False)


def _state(lat: float, lon: float, h: float, v_enu: tuple[float, float, float]) -> np.ndarray:
    r = geodetic_to_ecef(lat, lon, h)
    return np.concatenate([r, enu_rotation(lat, lon).T @ np.array(v_enu)])


@pytest.mark.parametrize(
    ("lat", "expected"),
    # Somigliana normal gravity, NIMA TR8350.2 table 3.4: 9.7803253359 and 9.8321849378 m/s^2.
    [(0.0, 9.7803253359), (90.0, 9.8321849378), (45.0, 9.806)],
)
def test_body_at_rest_on_the_ellipsoid_feels_normal_gravity(lat: float, expected: float) -> None:
    a = acceleration(_state(lat, 30.0, 0.0, (0.0, 0.0, 0.0)))[3:]
    assert 9.78 <= np.linalg.norm(a) <= 9.833
    assert np.linalg.norm(a) == pytest.approx(expected, abs=2e-3)
    # J2 gravity plus centrifugal is (almost) normal to the ellipsoid: deflection < 0.001 deg.
    up = enu_rotation(lat, 30.0)[2]
    assert math.degrees(math.acos(-a @ up / np.linalg.norm(a))) < 1e-3


def test_short_hop_without_j2_or_rotation_is_the_parabola() -> None:
    # Start on the x axis; over 20 s the field is uniform to ~3e-4 (tilt) and ~1e-4 (height).
    r0 = np.array([WGS84_A, 0.0, 0.0])
    v0 = np.array([100.0, 80.0, -30.0])
    g = WGS84_GM / WGS84_A**2
    t = 20.0
    x = propagate(np.concatenate([r0, v0]), t, POINT_MASS_INERTIAL, max_step_s=0.5)
    expected = r0 + v0 * t - 0.5 * g * t * t * np.array([1.0, 0.0, 0.0])
    assert x[:3] == pytest.approx(expected, abs=1.0)
    assert x[3:] == pytest.approx(v0 - g * t * np.array([1.0, 0.0, 0.0]), abs=0.1)


def _j2_potential(r: np.ndarray) -> float:
    rn = float(np.linalg.norm(r))
    s2 = (r[2] / rn) ** 2
    return float(-WGS84_GM / rn * (1.0 - WGS84_J2 * (WGS84_A / rn) ** 2 * (3.0 * s2 - 1.0) / 2.0))


def test_energy_and_polar_angular_momentum_are_conserved_in_the_inertial_frame() -> None:
    x0 = _state(39.0, 125.7, 200_000.0, (2500.0, 500.0, 3500.0))
    x1 = propagate(x0, 1500.0, INERTIAL, max_step_s=1.0)

    def energy(x: np.ndarray) -> float:
        return 0.5 * float(x[3:] @ x[3:]) + _j2_potential(x[:3])

    def hz(x: np.ndarray) -> float:
        return float(x[0] * x[4] - x[1] * x[3])

    assert energy(x1) == pytest.approx(energy(x0), rel=1e-11)
    assert hz(x1) == pytest.approx(hz(x0), rel=1e-10)


def test_jacobi_integral_is_conserved_in_the_rotating_frame() -> None:
    # C = v^2/2 + U - w^2 (x^2 + y^2)/2 is constant with Coriolis and centrifugal terms.
    x0 = _state(39.0, 125.7, 200_000.0, (2500.0, 500.0, 3500.0))
    x1 = propagate(x0, 1500.0, max_step_s=1.0)

    def jacobi(x: np.ndarray) -> float:
        return (
            0.5 * float(x[3:] @ x[3:])
            + _j2_potential(x[:3])
            - 0.5 * WGS84_OMEGA**2 * float(x[0] ** 2 + x[1] ** 2)
        )

    assert jacobi(x1) == pytest.approx(jacobi(x0), rel=1e-11)


def test_propagate_forward_and_back_returns_the_state() -> None:
    x0 = _state(39.0, 125.7, 300_000.0, (2000.0, 0.0, 1000.0))
    x1 = propagate(propagate(x0, 600.0), -600.0)
    assert x1[:3] == pytest.approx(x0[:3], abs=1e-4)
    assert x1[3:] == pytest.approx(x0[3:], abs=1e-7)


def test_vectorised_propagation_with_per_row_times() -> None:
    x0 = _state(39.0, 125.7, 300_000.0, (2000.0, 0.0, 1000.0))
    rows = propagate(np.stack([x0, x0]), np.array([30.0, -12.0]))
    assert rows[0] == pytest.approx(propagate(x0, 30.0), abs=1e-6)
    assert rows[1] == pytest.approx(propagate(x0, -12.0), abs=1e-6)


def _vallado_j2(r: np.ndarray) -> np.ndarray:
    """Vallado eq. 8-30, written out independently (works on complex input)."""
    x, y, z = r
    rn = np.sqrt(x * x + y * y + z * z)
    k = -1.5 * WGS84_J2 * WGS84_GM * WGS84_A**2 / rn**5
    f = 5.0 * z * z / rn**2
    out: np.ndarray = -WGS84_GM * r / rn**3 + k * np.array([x * (1 - f), y * (1 - f), z * (3 - f)])
    return out


def test_gravity_and_its_gradient_match_an_independent_formula() -> None:
    r = geodetic_to_ecef(40.0, 130.0, 300_000.0)
    assert gravity(r) == pytest.approx(_vallado_j2(r).real, rel=1e-14)
    h = 1e-20
    numeric = np.zeros((3, 3))
    for j in range(3):
        step = np.zeros(3, dtype=complex)
        step[j] = 1j * h
        numeric[:, j] = _vallado_j2(r + step).imag / h  # complex-step derivative
    assert gravity_gradient(r) == pytest.approx(numeric, rel=1e-9, abs=1e-18)


def test_dynamics_jacobian_and_transition_match_finite_differences() -> None:
    x = _state(40.0, 130.0, 300_000.0, (1500.0, -900.0, 2000.0))
    a = dynamics_jacobian(x)
    eps = np.array([10.0, 10.0, 10.0, 0.1, 0.1, 0.1])
    num_a = np.zeros((6, 6))
    num_phi = np.zeros((6, 6))
    for j in range(6):
        d = np.zeros(6)
        d[j] = eps[j]
        num_a[:, j] = (acceleration(x + d) - acceleration(x - d)) / (2 * eps[j])
        num_phi[:, j] = (propagate(x + d, 30.0) - propagate(x - d, 30.0)) / (2 * eps[j])
    assert a == pytest.approx(num_a, abs=1e-9)
    x1, phi = transition(x, 30.0)
    assert x1 == pytest.approx(propagate(x, 30.0), abs=1e-6)
    # A is taken at each 5 s sub-step start: about 2e-5 absolute on entries of size up to 30.
    assert phi == pytest.approx(num_phi, rel=1e-4, abs=5e-5)


def test_white_acceleration_noise_blocks() -> None:
    q = white_accel_q(2.0, 3.0)
    assert q[0, 0] == pytest.approx(3.0 * 8.0 / 3.0)
    assert q[0, 3] == pytest.approx(3.0 * 2.0)
    assert q[3, 3] == pytest.approx(6.0)
    assert q[0, 1] == 0.0
    assert np.allclose(q, q.T)
    assert np.linalg.eigvalsh(q).min() > 0.0


def test_fly_to_ground_lands_on_the_ellipsoid() -> None:
    x = _state(39.2, 125.7, 150_000.0, (2000.0, 300.0, 1500.0))
    dt, r = fly_to_ground(x[None])
    assert geodetic_height(r[0]) == pytest.approx(0.0, abs=0.01)
    fine = propagate(x, float(dt[0]), max_step_s=0.5)
    assert fine[:3] == pytest.approx(r[0], abs=0.5)
    lat, lon, flight = impact_point(x)
    assert flight == pytest.approx(float(dt[0]))
    assert (lat, lon) == pytest.approx(tuple(ecef_to_geodetic(r[0])[:2]))


@pytest.mark.parametrize("j2", [True, False])
@pytest.mark.parametrize("rotating", [True, False])
@pytest.mark.parametrize("beta", [None, 4_000.0])
def test_transposed_rates_are_the_acceleration(
    j2: bool, rotating: bool, beta: float | None
) -> None:
    # fly_to_ground's own rate function (states as rows (6, k), drag per row) against
    # ``acceleration`` of the same model with the drag as the model's constant beta.
    rng = np.random.default_rng(7)
    lat, lon = rng.uniform(-80, 80, 64), rng.uniform(-180, 180, 64)
    h = np.concatenate([rng.uniform(0.0, 100e3, 32), rng.uniform(100e3, 1500e3, 32)])
    r = geodetic_to_ecef(lat, lon, h)
    x = np.concatenate([r, rng.normal(0.0, 3000.0, (64, 3))], axis=1)
    model = ForceModel(j2=j2, rotating=rotating, ballistic_coeff_kg_m2=beta)
    half_rho_inv = None if beta is None else np.full(64, 0.5 * 1.225 / beta)
    rows = _rates_rows(
        np.ascontiguousarray(x.T), ForceModel(j2=j2, rotating=rotating), half_rho_inv
    )
    want = acceleration(x, model)
    assert np.allclose(rows.T, want, rtol=1e-12, atol=1e-12 * np.abs(want).max())


def test_crossing_of_a_row_does_not_depend_on_the_rows_beside_it() -> None:
    # Rows stop as each converges, so one root search over many steps answers each as alone.
    steps = []
    for i, (lat, vz) in enumerate(((39.0, -1500.0), (35.0, -300.0), (41.0, -3000.0))):
        x0 = _state(lat, 130.0 + i, 1500.0, (1000.0, 200.0, vz))
        dt, _ = fly_to_ground(x0[None])
        h = float(dt[0]) + 0.7
        x1 = propagate(x0, h, max_step_s=0.1)
        steps.append((x0, x1, h))
    x0s = np.stack([s[0] for s in steps])
    x1s = np.stack([s[1] for s in steps])
    hs = np.array([s[2] for s in steps])
    z0, z1 = geodetic_height(x0s[:, :3]), geodetic_height(x1s[:, :3])
    s_all, r_all = crossing_in_step(x0s, x1s, hs, z0, z1)
    for i in range(3):
        s_one, r_one = crossing_in_step(
            x0s[i : i + 1], x1s[i : i + 1], hs[i : i + 1], z0[i : i + 1], z1[i : i + 1]
        )
        assert s_one[0] == s_all[i]
        assert np.array_equal(r_one[0], r_all[i])
        assert abs(float(geodetic_height(r_all[i]))) < 1e-3


def test_escaping_state_never_lands() -> None:
    x = _state(39.2, 125.7, 500_000.0, (0.0, 0.0, 12_000.0))
    assert propagate_to_impact(x, np.eye(6), 0.0) is None


@pytest.mark.parametrize("with_beta", [False, True])
def test_a_batch_answers_each_track_as_if_alone(with_beta: bool) -> None:
    """Predictions of several tracks at once (the fuser's batches): a track that does not come
    down is ``None`` and changes nothing of the others' answers, which are those it would get
    alone."""
    xs = np.stack(
        [
            _state(39.2, 125.7, 150_000.0, (1500.0, 300.0, 800.0)),
            _state(39.2, 125.7, 500_000.0, (0.0, 0.0, 12_000.0)),  # escapes
            _state(40.0, 131.0, 90_000.0, (2000.0, -500.0, -1200.0)),
        ]
    )
    ps = np.repeat(np.diag([200.0**2] * 3 + [3.0**2] * 3)[None], 3, axis=0)
    if with_beta:
        xs = np.concatenate([xs, np.full((3, 1), math.log(20_000.0))], axis=1)
        big = np.zeros((3, 7, 7))
        big[:, :6, :6], big[:, 6, 6] = ps, 0.5**2
        ps = big
    times = np.array([10.0, 20.0, 30.0])
    together = propagate_to_impact_many(xs, ps, times)
    assert together[1] is None
    for i in (0, 2):
        alone = propagate_to_impact_many(xs[i : i + 1], ps[i : i + 1], times[i : i + 1])[0]
        got = together[i]
        assert got is not None and alone is not None
        assert got.time > times[i]
        for name in ("lat", "lon", "time", "time_sigma_s", "semi_major_m", "semi_minor_m"):
            assert getattr(got, name) == pytest.approx(getattr(alone, name), rel=1e-12), name
        assert np.allclose(got.cov_enu_2x2, alone.cov_enu_2x2, rtol=1e-12, atol=0.0)
        assert not got.cov_enu_2x2.flags.writeable


def test_ellipse_axes_and_orientation() -> None:
    a, b, o = ellipse_95(np.diag([4.0, 1.0]))  # longer east-west
    assert (a, b, o) == pytest.approx((2 * math.sqrt(CHI2_2DOF_95), math.sqrt(CHI2_2DOF_95), 90))
    assert ellipse_95(np.diag([1.0, 9.0]))[2] == pytest.approx(0.0)
    c45 = np.array([[5.0, 4.0], [4.0, 5.0]])  # major axis north-east
    assert ellipse_95(c45)[2] == pytest.approx(45.0)
    assert pytest.approx(5.991, abs=1e-3) == CHI2_2DOF_95


def test_unscented_impact_covariance_matches_monte_carlo() -> None:
    x = _state(39.5, 128.0, 200_000.0, (2200.0, 100.0, 800.0))
    p = np.diag([80.0**2] * 3 + [1.5**2] * 3)
    imp = propagate_to_impact(x, p, 100.0)
    assert imp is not None
    _, _, flight = impact_point(x)
    assert imp.time == pytest.approx(100.0 + flight, abs=0.5)
    rng = np.random.default_rng(3)
    xs = x + rng.standard_normal((600, 6)) @ np.linalg.cholesky(p).T
    dt, r = fly_to_ground(xs)
    en = ecef_to_enu(r, imp.lat, imp.lon, 0.0)[:, :2]
    mc = np.cov(en.T)
    assert np.sqrt(np.linalg.eigvalsh(imp.cov_enu_2x2)) == pytest.approx(
        np.sqrt(np.linalg.eigvalsh(mc)), rel=0.1
    )
    assert imp.time_sigma_s == pytest.approx(float(np.std(dt)), rel=0.15)
    inside = np.einsum("ni,ij,nj->n", en, np.linalg.inv(imp.cov_enu_2x2), en) <= CHI2_2DOF_95
    assert 0.92 <= inside.mean() <= 0.98
    assert imp.semi_major_m == pytest.approx(
        math.sqrt(CHI2_2DOF_95 * np.linalg.eigvalsh(imp.cov_enu_2x2)[1])
    )


def test_powered_state_transition_matches_rk4_and_finite_differences() -> None:
    # [r, v, a] with a held constant: one Taylor step for short steps, RK4 sub-steps for long
    # ones; the a = 0 part is the ballistic transition.
    x0 = np.concatenate([geodetic_to_ecef(38.0, 131.0, 250e3), [2100.0, -300.0, 900.0]])
    x9 = np.concatenate([x0, np.zeros(3)])[None, None]
    for dt in (0.4, 1.0, 3.0, 4.9, 30.0, 700.0):
        # Taylor up to 5 s: within a millimetre of RK4; beyond, the same RK4 sub-steps.
        xn, phi = transition9(x9, np.array([dt]), max_step_s=30.0, taylor_max_s=5.0)
        ref, phi_ref = transition(x0, dt, max_step_s=30.0, j2_gradient=False)
        assert xn[0, 0, :6] == pytest.approx(ref, abs=1e-3)
        assert phi[0, :6, :6] == pytest.approx(phi_ref, rel=1e-9, abs=1e-12)
    a = np.array([3.0, -20.0, 7.0])
    x9 = np.concatenate([x0, a])[None, None]
    h = 2.0
    xn, phi = transition9(x9, np.array([h]))
    ballistic = transition9(np.concatenate([x0, np.zeros(3)])[None, None], np.array([h]))[0]
    # a h^2 / 2 and a h, up to the Coriolis force on the added velocity (2 w a h^3 / 3 ~ 1 cm).
    assert xn[0, 0, :3] - ballistic[0, 0, :3] == pytest.approx(a * h * h / 2, abs=1e-2)
    assert xn[0, 0, 3:6] - ballistic[0, 0, 3:6] == pytest.approx(a * h, abs=1e-2)
    eps = np.array([1.0] * 3 + [0.01] * 3 + [0.01] * 3)
    num = np.zeros((9, 9))
    for j in range(9):
        d = np.zeros(9)
        d[j] = eps[j]
        plus = transition9((x9[0, 0] + d)[None, None], np.array([h]))[0][0, 0]
        minus = transition9((x9[0, 0] - d)[None, None], np.array([h]))[0][0, 0]
        num[:, j] = (plus - minus) / (2 * eps[j])
    assert phi[0] == pytest.approx(num, abs=2e-5)


def test_kinematic_process_noise_is_the_wiener_acceleration_model() -> None:
    h, qa, qj = 1.7, 2.0, 3.0
    per_axis = qa * np.array(
        [[h**3 / 3, h**2 / 2, 0], [h**2 / 2, h, 0], [0, 0, 0]]
    ) + qj * np.array(
        [[h**5 / 20, h**4 / 8, h**3 / 6], [h**4 / 8, h**3 / 3, h**2 / 2], [h**3 / 6, h**2 / 2, h]]
    )
    assert kinematic_q9(h, qa, qj) == pytest.approx(np.kron(per_axis, np.eye(3)), rel=1e-12)
    assert kinematic_q9(np.array([h, -h]), qa, qj)[1] == pytest.approx(np.kron(per_axis, np.eye(3)))


def _drag_state(lat: float, h: float, v_enu: tuple[float, float, float], beta: float) -> np.ndarray:
    """A two-hypothesis stack ``(1, 2, 9)``: ``[r, v, ln beta, 0, 0]`` (drag) and ``[r, v, a]``."""
    x = np.zeros((1, 2, 9))
    x[0, :, :6] = _state(lat, 129.0, h, v_enu)
    x[0, 0, 6] = math.log(beta)
    x[0, 1, 6:] = (1.0, -2.0, 3.0)
    return x


@pytest.mark.parametrize(
    ("beta", "h"), [(8_000.0, 30e3), (8_000.0, 10e3), (60_000.0, 20e3), (20_000.0, 80e3)]
)
def test_drag_state_transition_matches_rk4_and_finite_differences(beta: float, h: float) -> None:
    # The drag hypothesis [r, v, ln beta] moves like the truth's drag model (RK4 at 10 ms) to
    # centimetres over 1 s in the lowest air, and its transition matrix is the derivative of
    # that step (the ln beta column included); the other hypothesis is transition9's.
    x = _drag_state(37.5, h, (1200.0, 100.0, -800.0), beta)
    truth = ForceModel(ballistic_coeff_kg_m2=beta)
    for dt in (0.5, 1.0, 2.0):
        xn, phi = transition_modes(x, np.array([dt]), taylor_max_s=5.0)
        ref = propagate(x[0, 0, :6], dt, truth, max_step_s=0.01)
        assert np.linalg.norm(xn[0, 0, :3] - ref[:3]) < 0.1 * dt**3
        assert np.linalg.norm(xn[0, 0, 3:6] - ref[3:]) < 0.05 * dt**2
        assert np.all(xn[0, 0, 6:] == x[0, 0, 6:])
        other, phi_other = transition9(x[:, 1:], np.array([dt]), taylor_max_s=5.0)
        assert xn[0, 1] == pytest.approx(other[0, 0], abs=1e-9)
        assert phi[0, 1] == pytest.approx(phi_other[0], abs=1e-12)
        eps = np.array([1.0] * 3 + [0.01] * 3 + [1e-2])
        num = np.zeros((7, 7))
        for j in range(7):
            d = np.zeros(9)
            d[j] = eps[j]
            plus = transition_modes(x + d, np.array([dt]), taylor_max_s=5.0)[0][0, 0, :7]
            minus = transition_modes(x - d, np.array([dt]), taylor_max_s=5.0)[0][0, 0, :7]
            num[:, j] = (plus - minus) / (2 * eps[j])
        # The ln beta column exactly; the (r, v) block to first order in the drag partials:
        # (D h)^2 / 2 is left out, 1 % of the block for 2 s at 10 km with beta 8,000 kg/m^2.
        assert phi[0, 0, :6, 6] == pytest.approx(num[:6, 6], rel=1e-3, abs=1e-9)
        scale = np.abs(num[:6, :6]).max()
        assert np.abs(phi[0, 0, :6, :6] - num[:6, :6]).max() < 1.5e-2 * scale
        assert np.all(phi[0, 0, :6, 7:] == 0.0)
        assert np.all(phi[0, 0, 6:, 6:] == np.eye(3))


def test_drag_is_nil_above_the_air_and_long_coasts_skip_it() -> None:
    x = _drag_state(38.0, 1000e3, (2000.0, -300.0, 2000.0), 20_000.0)
    ad, dr, dv = drag_terms(x[:, 0])
    assert np.all(ad == 0.0) and np.all(dr == 0.0) and np.all(dv == 0.0)
    # A 700 s coast (RK4 sub-steps) high up is the vacuum flight, ln beta not felt.
    xn, phi = transition_modes(x, np.array([700.0]), max_step_s=30.0, taylor_max_s=5.0)
    ref = propagate(x[0, 0, :6], 700.0, max_step_s=30.0)
    assert xn[0, 0, :6] == pytest.approx(ref, abs=1e-2)
    assert np.all(phi[0, 0, :6, 6:] == 0.0)


def test_impact_with_ballistic_coefficient_state() -> None:
    # From the true state and beta, the [r, v, ln beta] prediction lands where the truth's
    # drag model does; a prior spread of ln beta moves the mean by the Gauss-Hermite rule
    # (the one-sigma-larger beta and the smaller one weighed alike), not by a far tail point.
    beta = 30_000.0
    x6 = _state(39.0, 133.0, 60e3, (2400.0, 0.0, -1500.0))

    def landing(b: float) -> tuple[float, float]:
        _, r = fly_to_ground(x6, ForceModel(ballistic_coeff_kg_m2=b), max_step_s=0.05)
        la, lo, _ = ecef_to_geodetic(r[0])
        return float(la), float(lo)

    lat, lon = landing(beta)
    x7 = np.concatenate([x6, [math.log(beta)]])
    p7 = np.diag([1e-6] * 6 + [1e-12])
    imp = propagate_to_impact_many(x7[None], p7[None], [0.0])[0]
    assert imp is not None
    assert great_circle_km(imp.lat, imp.lon, lat, lon) < 0.005
    p7[6, 6] = 0.7**2
    spread = propagate_to_impact_many(x7[None], p7[None], [0.0])[0]
    assert spread is not None
    # Three-point Gauss-Hermite over ln beta by hand: weights 2/3 and 1/6, 1/6.
    pts = []
    for z, w in ((0.0, 2.0 / 3.0), (math.sqrt(3.0), 1.0 / 6.0), (-math.sqrt(3.0), 1.0 / 6.0)):
        la, lo = landing(beta * math.exp(0.7 * z))
        pts.append((w, ecef_to_enu(geodetic_to_ecef(la, lo, 0.0), lat, lon, 0.0)[:2]))
    mean_en = sum(w * e for w, e in pts)
    got = ecef_to_enu(geodetic_to_ecef(spread.lat, spread.lon, 0.0), lat, lon, 0.0)[:2]
    assert np.linalg.norm(got - mean_en) < 5.0  # metres
    # The spread is that of the two outer points about the centre one's landing (the (r, v)
    # spread is nil here).
    var = sum(w * float(e @ e) for w, e in pts[1:])
    assert spread.semi_major_m == pytest.approx(math.sqrt(CHI2_2DOF_95 * var), rel=0.05)


@pytest.mark.parametrize("beta", [300.0, 8_000.0, 60_000.0])
def test_steps_above_a_bodys_drag_height_keep_the_impact(beta: float) -> None:
    # Per-row drag flies in large steps down to where the body's drag becomes a thousandth of
    # gravity, then in 2 s steps; against 50 ms steps with the same drag all the way, from
    # 300 km (falling steeply, and shallow) the impact moves by centimetres.
    xs = np.stack(
        [
            _state(38.0, 131.0, 300e3, (2000.0, 500.0, -2500.0)),
            _state(38.0, 131.0, 300e3, (5000.0, 0.0, -1000.0)),
            _state(30.0, 140.0, 150e3, (900.0, -300.0, -1200.0)),
        ]
    )
    dt, r = fly_to_ground(xs, inv_beta=np.full(3, 1.0 / beta))
    ref_dt, ref_r = fly_to_ground(xs, ForceModel(ballistic_coeff_kg_m2=beta), max_step_s=0.05)
    assert np.all(np.isfinite(dt))
    assert np.max(np.linalg.norm(r - ref_r, axis=1)) < 1.0
    assert np.max(np.abs(dt - ref_dt)) < 0.005
