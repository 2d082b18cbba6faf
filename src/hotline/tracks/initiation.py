"""Track initiation: unassociated reports gather into seeds; a seed spanning enough time becomes a
track by a weighted least-squares fit of position and velocity.

Seeding: a report joins the seed whose latest report it can reach, ``|z - z_last| <= v_max
|dt| + 4 sqrt(tr R + tr R_last) + 500 m`` (the nearest in that normalised distance), else it
starts a new seed. A seed with at least two reports spanning ``min_span_s`` is fitted.

Fit (two-point initiation generalised to m >= 2 points; BLK sec. 3.4 "least squares
estimation", and the two-point differencing of Mehrotra and Mahapatra, "Two-point
initialization", IEEE T-AES 33(4), 1997): the model is ``z_k = r + v d_k + a d_k^2 / 2 + w_k``,
``d_k = t_k - t_ref`` with ``t_ref`` the latest report time, ``a`` the ballistic acceleration
(gravity, Coriolis and centrifugal) at the fitted state (two passes) and ``w_k ~ N(0, R_k)``::

    J = sum_k H_k^T R_k^-1 H_k,  H_k = [I, d_k I],   x = J^-1 sum_k H_k^T R_k^-1 (z_k - a d_k^2/2)

``P = J^-1 + Q(span)``: the information of the fit plus process noise over the span. The fit
is accepted when its residual ``sum nu_k^T R_k^-1 nu_k`` is below the 99.9 % chi-square
quantile of ``3m - 6`` degrees of freedom; otherwise the oldest report is dropped (it was
probably another object's).

The IMM's powered mode also needs the thrust acceleration ``a`` (``imm``): ``fit_powered``
estimates ``[r, v, a]`` from the model ``z_k = r + v d_k + (g + a) d_k^2 / 2 + w_k`` with the
prior ``a ~ N(0, sigma_a^2 I)`` (a Bayesian least-squares fit: the prior adds ``I / sigma_a^2``
to the information of ``a``; with two or three reports ``a`` is mostly the prior's), so each
mode starts from the estimate conditioned on its own model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import msgspec
import numpy as np
from numpy.typing import NDArray

from hotline.tracks.ballistics import (
    VACUUM,
    ForceModel,
    acceleration,
    kinematic_q9,
    white_accel_q,
)

F64 = NDArray[np.float64]

#: ``(time, nation, sensor, uid)``: orders reports the same way on every node.
ReportKey = tuple[float, str, str, str]

#: 99.9 % chi-square quantiles by degrees of freedom (3m - 6 for m = 3..9 reports).
_CHI2_999 = {3: 16.27, 6: 22.46, 9: 27.88, 12: 32.91, 15: 37.70, 18: 42.31, 21: 46.80}


class Measurement(msgspec.Struct, frozen=True, eq=False):
    """One usable report as an ECEF position ``z (3,)`` with covariance ``r (3, 3)`` at ``t``;
    ``row``: its row in the arrays of the ``Fuser.ingest`` call that made it (-1: none)."""

    t: float
    z: F64
    r: F64
    key: ReportKey
    row: int = -1

    @property
    def nation(self) -> str:
        return self.key[1]

    @property
    def source(self) -> str:
        """``NATION/sensor``."""
        return f"{self.key[1]}/{self.key[2]}"


@dataclass(slots=True)
class Seed:
    items: list[Measurement] = field(default_factory=list)

    @property
    def last(self) -> Measurement:
        return self.items[-1]

    @property
    def span_s(self) -> float:
        return self.items[-1].t - self.items[0].t


def chi2_999(dof: int) -> float:
    """99.9 % chi-square quantile (Wilson-Hilferty approximation beyond the table)."""
    if dof in _CHI2_999:
        return _CHI2_999[dof]
    z = 3.090232306  # standard normal 99.9 %
    h = 2.0 / (9.0 * dof)
    return float(dof * (1.0 - h + z * math.sqrt(h)) ** 3)


def fit_initial(
    items: list[Measurement], q_inflate: float, model: ForceModel = VACUUM
) -> tuple[F64, F64, float]:
    """Least-squares ``x (6,)`` at the latest item's time, its covariance ``(6, 6)`` and the
    residual chi-square. Needs at least two items at distinct times."""
    t = np.array([m.t for m in items])
    z = np.stack([m.z for m in items])
    r_inv = np.linalg.inv(np.stack([m.r for m in items]))
    d = t - t[-1]
    a = acceleration(np.concatenate([z.mean(axis=0), np.zeros(3)]), model)[3:]
    j = np.zeros((6, 6))
    j[:3, :3] = r_inv.sum(axis=0)
    j[:3, 3:] = j[3:, :3] = np.einsum("k,kij->ij", d, r_inv)
    j[3:, 3:] = np.einsum("k,kij->ij", d * d, r_inv)
    x = np.zeros(6)
    for _ in range(2):
        y = z - 0.5 * a * (d * d)[:, None]
        ry = np.einsum("kij,kj->ki", r_inv, y)
        b = np.concatenate([ry.sum(axis=0), (d[:, None] * ry).sum(axis=0)])
        x = np.linalg.solve(j, b)
        a = acceleration(x, model)[3:]
    nu = z - 0.5 * a * (d * d)[:, None] - x[:3] - d[:, None] * x[3:]
    chi2 = float(np.einsum("ki,kij,kj->", nu, r_inv, nu))
    p = np.linalg.inv(j) + white_accel_q(float(-d[0]), q_inflate)
    p = 0.5 * (p + p.T)
    return x, p, chi2


def fit_powered(
    items: list[Measurement],
    accel_prior_m_s2: float,
    q_accel: float,
    q_jerk: float,
    model: ForceModel = VACUUM,
) -> tuple[F64, F64]:
    """Least-squares ``[r, v, a]`` ``(9,)`` at the latest item's time and its covariance
    ``(9, 9)`` under the prior ``a ~ N(0, accel_prior_m_s2^2 I)``, plus the process noise of
    white acceleration ``q_accel`` and white jerk ``q_jerk`` over the span (see module doc)."""
    t = np.array([m.t for m in items])
    z = np.stack([m.z for m in items])
    r_inv = np.linalg.inv(np.stack([m.r for m in items]))
    d = t - t[-1]
    coef = np.stack([np.ones_like(d), d, 0.5 * d * d], axis=-1)  # (m, 3): r, v, a
    j = np.einsum("mi,mj,mab->iajb", coef, coef, r_inv).reshape(9, 9)
    j[6:, 6:] += np.eye(3) / accel_prior_m_s2**2
    g = acceleration(np.concatenate([z.mean(axis=0), np.zeros(3)]), model)[3:]
    x = np.zeros(9)
    for _ in range(2):
        y = z - 0.5 * g * (d * d)[:, None]
        ry = np.einsum("kij,kj->ki", r_inv, y)
        b = np.einsum("mi,ma->ia", coef, ry).reshape(9)
        x = np.linalg.solve(j, b)
        g = acceleration(x[:6], model)[3:]
    p = np.linalg.inv(j) + kinematic_q9(float(-d[0]), q_accel, q_jerk)
    p = 0.5 * (p + p.T)
    return x, p


class Initiator:
    """The pool of seeds. Deterministic: seeds are kept in creation order."""

    def __init__(self, *, max_speed_m_s: float, min_span_s: float, max_age_s: float) -> None:
        self.max_speed_m_s = max_speed_m_s
        self.min_span_s = min_span_s
        self.max_age_s = max_age_s
        self.seeds: list[Seed] = []

    def add(self, m: Measurement) -> Seed:
        """Put ``m`` into the nearest reachable seed, or a new one; returns that seed."""
        best: Seed | None = None
        best_d = 1.0
        _, nation, sensor, uid = m.key
        for seed in self.seeds:
            if any(
                it.key[1] == nation and it.key[2] == sensor and it.key[3] != uid
                for it in seed.items
            ):
                continue  # that sensor sees another object there: not this report's seed
            last = seed.last
            reach = (
                self.max_speed_m_s * abs(m.t - last.t)
                + 4.0 * math.sqrt(float(np.trace(m.r) + np.trace(last.r)))
                + 500.0
            )
            d = float(np.linalg.norm(m.z - last.z)) / reach
            if d <= best_d:
                best, best_d = seed, d
        if best is None:
            best = Seed()
            self.seeds.append(best)
        best.items.append(m)
        best.items.sort(key=lambda it: it.key)
        return best

    def ready(self, seed: Seed) -> bool:
        return len(seed.items) >= 2 and seed.span_s >= self.min_span_s

    def remove(self, seed: Seed) -> None:
        self.seeds = [s for s in self.seeds if s is not seed]

    def expire(self, now: float) -> int:
        """Forget seeds whose latest report is older than ``max_age_s``; returns reports lost."""
        keep = [s for s in self.seeds if now - s.last.t <= self.max_age_s]
        lost = sum(len(s.items) for s in self.seeds) - sum(len(s.items) for s in keep)
        self.seeds = keep
        return lost
