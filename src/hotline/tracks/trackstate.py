"""Per-track filter state, its short history for late reports, and filter runs vectorised over
many tracks at once.

A track keeps the IMM state (``imm``) after its latest report and the posteriors after each of
its reports of the last ``history_s`` seconds (plus the state before the oldest of them). A report
older than the track's latest (late federation traffic) is then applied exactly by re-filtering:
the run restarts from the posterior just before it and replays the later reports in order
("reprocessing", the exact out-of-sequence-measurement solution; Bar-Shalom, "Update with
out-of-sequence measurements in tracking: exact solution", IEEE T-AES 38(3), 2002, sec. 1).

A batch of runs is executed one report per track per pass, every pass one vectorised IMM cycle
over all the tracks that still have reports, so the Python overhead is per pass, not per report.
"""

from __future__ import annotations

import bisect
import enum
import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from hotline.tracks.ballistics import Impact
from hotline.tracks.geodesy import ecef_to_geodetic, enu_rotation
from hotline.tracks.imm import ImmParams, combine, step
from hotline.tracks.initiation import Measurement, ReportKey

F64 = NDArray[np.float64]

#: Below this height a climbing new track is taken to be in boost.
BOOST_CEILING_M = 150_000.0
#: Descending below this height is re-entry: the terminal phase.
TERMINAL_CEILING_M = 100_000.0
#: Burn-out: the manoeuvre-mode probability stayed below this for ``CALM_S`` seconds.
CALM_P_MANOEUVRE = 0.2
CALM_S = 10.0
#: Powered flight again (a later stage, or burn-out declared too early under noisy reports):
#: the manoeuvre mode is this probable while the track climbs below ``BOOST_CEILING_M``.
THRUST_P_MANOEUVRE = 0.9
#: History is trimmed in slices of this many seconds beyond ``history_s``.
TRIM_SLACK_S = 10.0


class Phase(enum.StrEnum):
    BOOST = "boost"
    MIDCOURSE = "midcourse"
    TERMINAL = "terminal"


class TrackStatus(enum.StrEnum):
    TENTATIVE = "tentative"
    CONFIRMED = "confirmed"
    MERGED = "merged"
    DROPPED = "dropped"


def freeze(*arrays: F64) -> tuple[F64, ...]:
    """Mark arrays read-only (track states are replaced, never written in place, so snapshots
    can share them) and return them."""
    for a in arrays:
        a.setflags(write=False)
    return arrays


@dataclass(slots=True)
class Post:
    """Posterior of a track after one applied measurement, and the phase whose mode switching
    times were used for it (a replay uses the same, so that re-filtering is exact)."""

    m: Measurement
    mu: F64
    x: F64
    p: F64
    phase: Phase


@dataclass(slots=True)
class TrackState:
    """Mutable state of one track inside a ``Fuser`` (never handed out; see ``fusion.Track``).

    ``mu (2,)``, ``x (2, 6)``, ``p (2, 6, 6)``: IMM mode probabilities, states, covariances at
    time ``t``; ``xc (6,)``, ``pc (6, 6)``: their combination. ``key``: report key of the first
    report (orders tracks for merging; the id is derived from it).
    """

    id: str
    key: ReportKey
    t: float
    mu: F64
    x: F64
    p: F64
    xc: F64
    pc: F64
    base_t: float
    base: tuple[F64, F64, F64]
    created: float
    phase: Phase
    history: list[Post] = field(default_factory=list)
    nations: set[str] = field(default_factory=set)
    sensors: set[str] = field(default_factory=set)
    n_reports: int = 0
    n_updates: int = 0
    status: TrackStatus = TrackStatus.TENTATIVE
    #: Since when (track time) the manoeuvre probability has stayed below ``CALM_P_MANOEUVRE``.
    calm_since: float | None = None
    impact: Impact | None = None
    impact_t: float = -math.inf
    merged_into: str | None = None
    #: Cached prediction ``(time, xc, pc)`` of a coasting track, advanced chunk by chunk.
    pred: tuple[float, F64, F64] | None = None
    #: The coasted prediction is below ground: the body has come down.
    grounded: bool = False
    _nation_names: tuple[str, ...] = ()
    _sensor_names: tuple[str, ...] = ()

    def set_state(self, t: float, mu: F64, x: F64, p: F64) -> None:
        xc, pc = combine(mu[None], x[None], p[None])
        self.t, self.mu, self.x, self.p, self.xc, self.pc = t, *freeze(mu, x, p, xc[0], pc[0])
        self.pred, self.grounded = None, False

    def nation_names(self) -> tuple[str, ...]:
        if len(self._nation_names) != len(self.nations):
            self._nation_names = tuple(sorted(self.nations))
        return self._nation_names

    def sensor_names(self) -> tuple[str, ...]:
        if len(self._sensor_names) != len(self.sensors):
            self._sensor_names = tuple(sorted(self.sensors))
        return self._sensor_names

    def last_key(self) -> ReportKey:
        return self.history[-1].m.key if self.history else (self.t, "", "", "")


@dataclass(slots=True)
class Run:
    """One track's filter run: start state, measurements to apply with the phase to apply each
    in, history entries to keep."""

    track: TrackState
    keep: int
    start: tuple[float, F64, F64, F64]
    items: list[Measurement]
    phases: list[Phase]
    n_new: int


def plan(track: TrackState, new: list[Measurement]) -> tuple[Run | None, int]:
    """The run that applies ``new`` (sorted by key) to ``track``, and how many of them are too
    old for its history (dropped)."""
    if new[0].key >= track.last_key():
        start = (track.t, track.mu, track.x, track.p)
        return Run(track, len(track.history), start, new, [track.phase] * len(new), len(new)), 0
    kept = [m for m in new if m.t >= track.base_t]
    dropped = len(new) - len(kept)
    if not kept:
        return None, dropped
    i = 0
    while i < len(track.history) and track.history[i].m.key < kept[0].key:
        i += 1
    if i == 0:
        start = (track.base_t, *track.base)
    else:
        h = track.history[i - 1]
        start = (h.m.t, h.mu, h.x, h.p)
    # A late report is applied in the phase of the history entry before it.
    entries = [(h.m, h.phase) for h in track.history[i:]]
    before = track.history[i - 1].phase if i else (entries[0][1] if entries else track.phase)
    for m in kept:
        entries.append((m, before))
    entries.sort(key=lambda e: e[0].key)
    last = before
    phases: list[Phase] = []
    for m, ph in entries:
        is_new = any(m is k for k in kept)
        last = last if is_new else ph
        phases.append(last)
    items = [m for m, _ in entries]
    return Run(track, i, start, items, phases, len(kept)), dropped


def execute(runs: list[Run], params: ImmParams, history_s: float) -> None:
    """Apply every run (vectorised over runs, one measurement per run per pass); leaves each
    track's state, combined estimate, history and phase up to date."""
    n_rows = len(runs)
    mu = np.stack([r.start[1] for r in runs])
    xm = np.stack([r.start[2] for r in runs])
    pm = np.stack([r.start[3] for r in runs])
    tt = np.array([r.start[0] for r in runs])
    lengths = np.array([len(r.items) for r in runs])
    every = [m for r in runs for m in r.items]
    every_phase = [ph for r in runs for ph in r.phases]
    taus_all = np.array([mode_taus(ph, params) for ph in every_phase])
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    z_all = np.stack([m.z for m in every])
    r_all = np.stack([m.r for m in every])
    t_all = np.array([m.t for m in every])
    posts: list[list[Post]] = [[] for _ in range(n_rows)]
    for j in range(int(lengths.max())):
        rows = np.flatnonzero(lengths > j)
        at = offsets[rows] + j
        tm = t_all[at]
        mu_n, x_n, p_n = step(
            mu[rows], xm[rows], pm[rows], tm - tt[rows], z_all[at], r_all[at], params, taus_all[at]
        )
        mu[rows], xm[rows], pm[rows], tt[rows] = mu_n, x_n, p_n, tm
        for k, (i, a) in enumerate(zip(rows.tolist(), at.tolist(), strict=True)):
            posts[i].append(Post(every[a], mu_n[k], x_n[k], p_n[k], every_phase[a]))
    xc, pc = combine(mu, xm, pm)
    freeze(mu, xm, pm, xc, pc)
    hae, v_up, sigma = kinematics(xc, pc)
    for i, (run, post) in enumerate(zip(runs, posts, strict=True)):
        ts = run.track
        del ts.history[run.keep :]
        ts.history.extend(post)
        ts.t, ts.mu, ts.x, ts.p, ts.xc, ts.pc = float(tt[i]), mu[i], xm[i], pm[i], xc[i], pc[i]
        ts.pred, ts.grounded = None, False
        if ts.t - ts.history[0].m.t > history_s + TRIM_SLACK_S:
            _trim(ts, history_s)
        ts.n_reports += run.n_new
        ts.n_updates += run.n_new
        p_man = float(ts.mu[1])
        if p_man >= CALM_P_MANOEUVRE:
            ts.calm_since = None
        elif ts.calm_since is None:
            ts.calm_since = ts.t
        calm_s = 0.0 if ts.calm_since is None else ts.t - ts.calm_since
        ts.phase = next_phase(
            ts.phase, float(hae[i]), float(v_up[i]), float(sigma[i]), calm_s, p_man
        )


def mode_taus(phase: Phase, params: ImmParams) -> tuple[float, float]:
    """Mean sojourn times (s) ``(to manoeuvre, to ballistic)`` of the IMM modes in ``phase``."""
    if phase is Phase.BOOST:
        return params.tau_to_manoeuvre_s, params.tau_boost_to_ballistic_s
    if phase is Phase.MIDCOURSE:
        return params.tau_midcourse_s, params.tau_to_ballistic_s
    return params.tau_to_manoeuvre_s, params.tau_to_ballistic_s


def _trim(ts: TrackState, history_s: float) -> None:
    cut = bisect.bisect_left(ts.history, ts.t - history_s, key=lambda h: h.m.t)
    cut = min(cut, len(ts.history) - 1)
    if cut > 0:
        b = ts.history[cut - 1]
        ts.base_t, ts.base = b.m.t, (b.mu, b.x, b.p)
        del ts.history[:cut]


def kinematics(x: F64, p: F64) -> tuple[F64, F64, F64]:
    """Height (m), up-velocity (m/s) and its 1-sigma for states ``(k, 6)``, covariances
    ``(k, 6, 6)``; each ``(k,)``."""
    lat, lon, hae = ecef_to_geodetic(x[:, :3])
    up = enu_rotation(lat, lon)[:, 2, :]
    v_up = np.einsum("ki,ki->k", up, x[:, 3:])
    var = np.einsum("ki,kij,kj->k", up, p[:, 3:, 3:], up)
    return hae, v_up, np.sqrt(np.clip(var, 0.0, None))


def initial_phase(hae: float, v_up: float, sigma: float) -> Phase:
    """A new track below ``BOOST_CEILING_M`` not surely descending is taken to be boosting."""
    phase = Phase.BOOST if hae < BOOST_CEILING_M and v_up > -2.0 * sigma else Phase.MIDCOURSE
    return next_phase(phase, hae, v_up, sigma, 0.0, 0.5)


def next_phase(
    phase: Phase, hae: float, v_up: float, sigma: float, calm_s: float, p_manoeuvre: float
) -> Phase:
    """Boost -> midcourse once the manoeuvre mode has been improbable for ``CALM_S`` seconds
    (burn-out) or the track surely descends (``v_up < -2 sigma``); midcourse -> terminal when
    descending below ``TERMINAL_CEILING_M``; midcourse -> boost again if the manoeuvre mode
    becomes near certain while climbing low (thrust after all). Terminal is final."""
    descending = v_up < -2.0 * sigma
    if phase is Phase.BOOST and (calm_s >= CALM_S or descending):
        phase = Phase.MIDCOURSE
    if phase is Phase.MIDCOURSE:
        if descending and hae < TERMINAL_CEILING_M:
            phase = Phase.TERMINAL
        elif p_manoeuvre >= THRUST_P_MANOEUVRE and hae < BOOST_CEILING_M and v_up > 0.0:
            phase = Phase.BOOST
    return phase
