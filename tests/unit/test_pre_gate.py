"""The association pre-gate (``fusion.pre_gate``): one matrix product that never drops a pair the
exact validation gate would pass, and agrees with the direct bound ``|delta|^2 <= gate tr S``."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.tracks.fusion import pre_gate

GATE = 16.27


def _scene(
    seed: int,
    m: int,
    n: int,
    spread_m: float,
    accel_m_s2: float = 10.0,
    q_max: float = 50.0,
    p_max: float = 3e4,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Reports and tracks over Korea's sky: ``n`` tracks ``[r, v]`` within ``spread_m`` of each
    other, with accelerations, covariances and acceleration densities; ``m`` reports, each
    near a random track's predicted position."""
    rng = np.random.default_rng(seed)
    base = np.array([-3.05e6, 4.05e6, 3.9e6])
    r = base + rng.normal(0.0, spread_m, (n, 3))
    v = rng.normal(0.0, 2_000.0, (n, 3))
    acc = rng.normal(0.0, accel_m_s2, (n, 3))
    a = rng.normal(0.0, 1.0, (n, 9, 9))
    pc = a @ np.swapaxes(a, 1, 2) * rng.uniform(100.0, p_max, (n, 1, 1))
    q = rng.uniform(0.0, q_max, n)
    dt = rng.uniform(-1.0, 1.0, m)
    owner = rng.integers(0, n, m)
    noise = rng.normal(0.0, 1.0, (m, 3)) * rng.uniform(10.0, 3_000.0, (m, 1))
    z = r[owner] + (v[owner] + 0.5 * acc[owner] * dt[:, None]) * dt[:, None] + noise
    b = rng.normal(0.0, 1.0, (m, 3, 3))
    rr = b @ np.swapaxes(b, 1, 2) * rng.uniform(100.0, 1e4, (m, 1, 1))
    return z, rr, dt, np.hstack([r, v]), acc, pc, q


def _direct(
    z: np.ndarray,
    rr: np.ndarray,
    dt: np.ndarray,
    x: np.ndarray,
    acc: np.ndarray,
    pc: np.ndarray,
    q: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per pair: ``|delta|^2``, ``tr S`` and the exact ``d^2``, the slow way."""
    d = dt[:, None, None]
    pred = x[None, :, :3] + x[None, :, 3:] * d + 0.5 * acc[None] * d * d
    delta = z[:, None] - pred
    s = (
        pc[None, :, :3, :3]
        + d[..., None] * (pc[None, :, :3, 3:6] + pc[None, :, 3:6, :3])
        + (d * d)[..., None] * pc[None, :, 3:6, 3:6]
        + rr[:, None]
        + (q[None] * np.abs(dt[:, None]) ** 3 / 3.0)[..., None, None] * np.eye(3)
    )
    d2 = np.einsum("mni,mni->mn", delta, np.linalg.solve(s, delta[..., None])[..., 0])
    return np.einsum("mni,mni->mn", delta, delta), np.trace(s, axis1=2, axis2=3), d2


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    m=st.integers(1, 40),
    n=st.integers(1, 30),
    spread_m=st.sampled_from([2_000.0, 50_000.0, 1_500_000.0]),
)
def test_pre_gate_keeps_every_pair_the_exact_gate_passes(
    seed: int, m: int, n: int, spread_m: float
) -> None:
    z, rr, dt, x, acc, pc, q = _scene(seed, m, n, spread_m)
    mi, ni = pre_gate(z, rr, dt, x, acc, pc, q, GATE)
    kept = np.zeros((m, n), dtype=bool)
    kept[mi, ni] = True
    d2e, tr_s, d2 = _direct(z, rr, dt, x, acc, pc, q)
    assert not np.any((d2 <= GATE) & ~kept)
    # The same test as the direct bound, but for pairs within the slack of it (1 m^2 and a
    # few ulps of the squared distances).
    margin = np.abs(d2e - GATE * tr_s)
    assert np.array_equal(kept[margin > 2.0], (d2e <= GATE * tr_s)[margin > 2.0])


@pytest.mark.parametrize(
    "accel_m_s2, q_max, p_max",
    [(10.0, 50.0, 3e4), (300.0, 1e6, 300.0)],  # midcourse-like; every term of S weighs
)
def test_pre_gate_is_the_direct_bound_where_pairs_crowd_its_edge(
    accel_m_s2: float, q_max: float, p_max: float
) -> None:
    z, rr, dt, x, acc, pc, q = _scene(11, 800, 60, 2_000.0, accel_m_s2, q_max, p_max)
    d2e, tr_s, _ = _direct(z, rr, dt, x, acc, pc, q)
    ratio = d2e / (GATE * tr_s)
    assert np.count_nonzero(np.abs(ratio - 1.0) < 0.01) >= 20  # the edge is crowded
    mi, ni = pre_gate(z, rr, dt, x, acc, pc, q, GATE)
    kept = np.zeros(d2e.shape, dtype=bool)
    kept[mi, ni] = True
    sure = np.abs(d2e - GATE * tr_s) > 2.0
    assert np.array_equal(kept[sure], (d2e <= GATE * tr_s)[sure])


def test_pre_gate_keeps_the_pairs_of_a_report_far_out() -> None:
    """A report 40,000 km out (the largest height a report may state is 50,000 km) makes the
    squared distances near 1e15 m^2: the rounding of the product must not drop a pair."""
    z, rr, dt, x, acc, pc, q = _scene(5, 60, 20, 2_000.0)
    up = z[0] / np.linalg.norm(z[0])
    z = np.vstack([z, z[0] + 4.0e7 * up])
    rr = np.concatenate([rr, rr[:1]])
    dt = np.append(dt, 0.0)
    mi, ni = pre_gate(z, rr, dt, x, acc, pc, q, GATE)
    kept = np.zeros((z.shape[0], x.shape[0]), dtype=bool)
    kept[mi, ni] = True
    _, _, d2 = _direct(z, rr, dt, x, acc, pc, q)
    assert np.any(d2 <= GATE)
    assert not np.any((d2 <= GATE) & ~kept)


def test_pre_gate_on_no_pairs_and_far_tracks() -> None:
    z, rr, dt, x, acc, pc, q = _scene(7, 5, 4, 2_000.0)
    far = x.copy()
    far[:, 0] += 3.0e6  # every track 3,000 km away
    mi, ni = pre_gate(z, rr, dt, far, acc, pc, q, GATE)
    assert mi.size == ni.size == 0
    mi, ni = pre_gate(z, rr, dt, x, acc, pc, q, GATE)
    assert mi.size > 0 and mi.dtype.kind == ni.dtype.kind == "i"


def test_one_diverged_track_does_not_open_the_gate_for_every_pair() -> None:
    """A track 1e16 m out at 1e16 m/s (a diverged filter) gates nothing, and the other pairs
    keep their own bounds (the rounding allowance is each pair's, not the largest one's)."""
    z, rr, dt, x, acc, pc, q = _scene(3, 200, 40, 2_000.0)
    bad = np.array([[1e16, -1e16, 1e16, 3e16, 3e16, -1e16]])
    xb = np.vstack([x, bad])
    accb = np.vstack([acc, [[5e16, 0.0, 0.0]]])
    pcb = np.concatenate([pc, pc[:1] * 1e6])
    qb = np.append(q, 1e4)
    mi, ni = pre_gate(z, rr, dt, xb, accb, pcb, qb, GATE)
    assert not np.any(ni == x.shape[0])
    kept = np.zeros((z.shape[0], x.shape[0]), dtype=bool)
    kept[mi, ni] = True
    d2e, tr_s, _ = _direct(z, rr, dt, x, acc, pc, q)
    sure = np.abs(d2e - GATE * tr_s) > 2.0
    assert np.array_equal(kept[sure], (d2e <= GATE * tr_s)[sure])
    assert kept.sum() < kept.size // 4
