"""Per-track filter state, its short history for late reports, and filter runs vectorised over
many tracks at once.

A track keeps the IMM state (``imm``) after its latest report and the posteriors after each of
its reports of the last ``history_s`` seconds (plus the state before the oldest of them). A report
older than the track's latest (late federation traffic) is then applied exactly by re-filtering:
the run restarts from the posterior just before it and replays the later reports in order
("reprocessing", the exact out-of-sequence-measurement solution; Bar-Shalom, "Update with
out-of-sequence measurements in tracking: exact solution", IEEE T-AES 38(3), 2002, sec. 1).

A batch of runs is executed one report per track per pass, every pass one vectorised IMM cycle
over all the tracks that still have reports, so the Python overhead is per pass, not per report;
the tracks' current states are gathered from and written back to a struct-of-arrays
``StateTable`` (one row per live track) instead of being stacked track by track.
"""

from __future__ import annotations

import bisect
import enum
import itertools
import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from hotline.tracks.ballistics import N_STATE, Impact, _approx_height
from hotline.tracks.geodesy import WGS84_E2
from hotline.tracks.imm import ImmParams, output, step
from hotline.tracks.initiation import Measurement, ReportKey

F64 = NDArray[np.float64]

#: Below this height a climbing new track is taken to be in boost.
BOOST_CEILING_M = 150_000.0
#: Descending below this height is re-entry: the terminal phase.
TERMINAL_CEILING_M = 60_000.0
#: Burn-out: the powered-mode probability stayed below this for ``CALM_S`` seconds.
CALM_P_MANOEUVRE = 0.2
CALM_S = 6.0
#: Powered flight again (a later stage, or burn-out declared too early under noisy reports):
#: the powered mode is this probable while the track climbs below ``BOOST_CEILING_M``.
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


class Post(NamedTuple):
    """Posterior of a track after one applied measurement, and the phase whose mode switching
    times were used for it (a replay uses the same, so that re-filtering is exact).

    Kept as row ``k`` of the filter pass's arrays ``(mu, x, p)`` (read-only, shared by the
    pass's tracks): the views are only made when a late report or a trim needs them. (A named
    tuple: one is made per applied report, and a tuple is the cheapest object to make.)
    """

    m: Measurement
    phase: Phase
    src: tuple[F64, F64, F64]
    k: int

    @property
    def mu(self) -> F64:
        out: F64 = self.src[0][self.k]
        return out

    @property
    def x(self) -> F64:
        out: F64 = self.src[1][self.k]
        return out

    @property
    def p(self) -> F64:
        out: F64 = self.src[2][self.k]
        return out


class StateTable:
    """Struct-of-arrays mirror of the live tracks' current states, one row (``slot``) per track:
    time ``t``, mode probabilities ``mu (2,)``, mode states ``x (2, 9)`` and covariances
    ``p (2, 9, 9)``, their combination ``xc (9,)``, ``pc (9, 9)`` and the ballistic mode as
    ``[r, v, a]`` (``xb``, ``pb``; ``imm.output``), a ``ballistic`` flag (midcourse or re-entry:
    the ballistic mode is the estimate), and a
    coasting track's cached prediction (``pred_t``, ``pred_x``, ``pred_p``, valid where
    ``pred_ok``) with its ``grounded`` flag. Filter passes and gates gather the rows they need
    with one fancy index per array, and write them back with one scatter, instead of stacking
    per-track arrays: the per-pass cost does not grow with Python work per track."""

    def __init__(self, capacity: int = 64) -> None:
        self.capacity = 0
        self.free: list[int] = []
        z = np.zeros
        self.t: F64 = z(0)
        self.mu: F64 = z((0, 2))
        self.x: F64 = z((0, 2, N_STATE))
        self.p: F64 = z((0, 2, N_STATE, N_STATE))
        self.xc: F64 = z((0, N_STATE))
        self.pc: F64 = z((0, N_STATE, N_STATE))
        self.xb: F64 = z((0, N_STATE))
        self.pb: F64 = z((0, N_STATE, N_STATE))
        self.pred_t: F64 = z(0)
        self.pred_x: F64 = z((0, N_STATE))
        self.pred_p: F64 = z((0, N_STATE, N_STATE))
        self.ballistic: NDArray[np.bool_] = z(0, dtype=np.bool_)
        self.pred_ok: NDArray[np.bool_] = z(0, dtype=np.bool_)
        self.grounded: NDArray[np.bool_] = z(0, dtype=np.bool_)
        self._grow(capacity)

    _ARRAYS = (
        *("t", "mu", "x", "p", "xc", "pc", "xb", "pb"),
        *("pred_t", "pred_x", "pred_p", "ballistic"),
    )
    _FLAGS = ("pred_ok", "grounded")

    def _grow(self, capacity: int) -> None:
        old = self.capacity
        for name in (*self._ARRAYS, *self._FLAGS):
            a = getattr(self, name)
            out = np.zeros((capacity, *a.shape[1:]), dtype=a.dtype)
            out[:old] = a
            setattr(self, name, out)
        self.free.extend(range(capacity - 1, old - 1, -1))
        self.capacity = capacity

    def take(self) -> int:
        """A free row."""
        if not self.free:
            self._grow(2 * self.capacity)
        return self.free.pop()

    def release(self, slot: int) -> None:
        self.pred_ok[slot] = self.grounded[slot] = False
        self.free.append(slot)

    def write(
        self,
        slots: NDArray[np.intp],
        t: F64,
        mu: F64,
        x: F64,
        p: F64,
        xc: F64,
        pc: F64,
        xb: F64,
        pb: F64,
    ) -> None:
        """New states of the tracks in ``slots`` (any cached prediction is stale)."""
        self.t[slots], self.mu[slots], self.x[slots], self.p[slots] = t, mu, x, p
        self.xc[slots], self.pc[slots], self.xb[slots], self.pb[slots] = xc, pc, xb, pb
        self.pred_ok[slots] = False
        self.grounded[slots] = False


@dataclass(slots=True)
class TrackState:
    """Mutable state of one track inside a ``Fuser`` (never handed out; see ``fusion.Track``).

    ``mu (2,)``, ``x (2, 9)``, ``p (2, 9, 9)``: IMM mode probabilities, states ``[r, v, a]``,
    covariances at time ``t``; ``xc (9,)``, ``pc (9, 9)``: their combination. ``key``: report
    key of the first report (orders tracks for merging; the id is derived from it). ``table``,
    ``slot``: the track's row in the fuser's ``StateTable`` (kept equal to these attributes).
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
    #: Since when (track time) the powered probability has stayed below ``CALM_P_MANOEUVRE``.
    calm_since: float | None = None
    impact: Impact | None = None
    impact_t: float = -math.inf
    #: The phase the latest impact prediction was made in (a new phase asks for a new one).
    impact_phase: Phase | None = None
    merged_into: str | None = None
    table: StateTable | None = None
    slot: int = -1
    _nation_names: tuple[str, ...] = ()
    _sensor_names: tuple[str, ...] = ()

    def set_state(self, t: float, mu: F64, x: F64, p: F64) -> None:
        xc, pc, xa, pa = output(mu[None], x[None], p[None])
        self.t, self.mu, self.x, self.p, self.xc, self.pc = t, *freeze(mu, x, p, xc[0], pc[0])
        if self.table is not None:
            slots = np.array([self.slot])
            self.table.write(slots, np.array([t]), mu[None], x[None], p[None], xc, pc, xa, pa)
            self.table.ballistic[self.slot] = self.phase is not Phase.BOOST

    @property
    def grounded(self) -> bool:
        """The coasted prediction is below ground: the body has come down."""
        return self.table is not None and bool(self.table.grounded[self.slot])

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
    #: The run starts from the track's current state (no late report).
    current: bool = False


def plan(track: TrackState, new: list[Measurement]) -> tuple[Run | None, int]:
    """The run that applies ``new`` (sorted by key) to ``track``, and how many of them are too
    old for its history (dropped)."""
    if new[0].key >= track.last_key():
        start = (track.t, track.mu, track.x, track.p)
        run = Run(track, len(track.history), start, new, [track.phase] * len(new), len(new), True)
        return run, 0
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


def execute(
    runs: list[Run], params: ImmParams, history_s: float, batch: tuple[F64, F64] | None = None
) -> None:
    """Apply every run (vectorised over runs, one measurement per run per pass); leaves each
    track's state, combined estimate, history and phase up to date. ``batch``: the positions
    and covariances that new measurements' ``row`` index (gathered at once, not stacked).

    The runs are taken longest first, so that the runs of pass ``j`` (those with a ``j``-th
    measurement) are the first ``n_j`` rows: each pass works on leading slices of the arrays,
    and a run's posterior after pass ``j`` is row ``i`` of that pass's arrays."""
    lengths_l = [len(r.items) for r in runs]
    if any(a < b for a, b in itertools.pairwise(lengths_l)):
        order = sorted(range(len(runs)), key=lengths_l.__getitem__, reverse=True)
        runs = [runs[i] for i in order]
        lengths_l = [lengths_l[i] for i in order]
    table = runs[0].track.table
    slots = np.fromiter((r.track.slot for r in runs), dtype=np.intp, count=len(runs))
    if table is not None:
        mu, xm, pm, tt = table.mu[slots], table.x[slots], table.p[slots], table.t[slots]
        late = [i for i, r in enumerate(runs) if not r.current]
        if late:
            mu[late] = np.stack([runs[i].start[1] for i in late])
            xm[late] = np.stack([runs[i].start[2] for i in late])
            pm[late] = np.stack([runs[i].start[3] for i in late])
            tt[late] = [runs[i].start[0] for i in late]
    else:
        mu = np.stack([r.start[1] for r in runs])
        xm = np.stack([r.start[2] for r in runs])
        pm = np.stack([r.start[3] for r in runs])
        tt = np.array([r.start[0] for r in runs])
    lengths = np.array(lengths_l)
    every = [m for r in runs for m in r.items]
    every_phase = [ph for r in runs for ph in r.phases]
    taus = _tau_table(params)
    if all(r.current or len(set(r.phases)) == 1 for r in runs):  # one phase per run
        taus_all = np.repeat(np.array([taus[r.phases[0]] for r in runs]), lengths, axis=0)
    else:
        taus_all = np.array([taus[ph] for ph in every_phase])
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    rows_of = np.fromiter((m.row for m in every), dtype=np.intp, count=len(every))
    if batch is not None and all(r.current for r in runs) and rows_of.min() >= 0:
        z_all, r_all = batch[0][rows_of], batch[1][rows_of]
    else:
        z_all = np.stack([m.z for m in every])
        r_all = np.stack([m.r for m in every])
    t_all = np.array([m.t for m in every])
    # Runs with a j-th measurement: the first n_of[j] (lengths are non-increasing).
    n_of = np.searchsorted(-lengths, -np.arange(1, lengths_l[0] + 1), side="right").tolist()
    srcs: list[tuple[F64, F64, F64]] = []
    for j, n in enumerate(n_of):
        at = offsets[:n] + j
        tm = t_all[at]
        args = (mu[:n], xm[:n], pm[:n], tm - tt[:n])  # views, not copies
        src = freeze(*step(*args, z_all[at], r_all[at], params, taus_all[at]))
        mu[:n], xm[:n], pm[:n], tt[:n] = src[0], src[1], src[2], tm
        srcs.append((src[0], src[1], src[2]))
    xc, pc, xa, pa = output(mu, xm, pm)
    freeze(mu, xm, pm, xc, pc)
    hae, v_up, sigma = kinematics(xc, pc)
    descending = (v_up < -2.0 * sigma).tolist()
    hae_l, v_up_l = hae.tolist(), v_up.tolist()
    p_man_l = mu[:, 1].tolist()
    t_l = tt.tolist()
    offsets_l = offsets.tolist()
    limit = history_s + TRIM_SLACK_S
    states = zip(t_l, list(mu), list(xm), list(pm), list(xc), list(pc), strict=True)
    for i, (run, state) in enumerate(zip(runs, states, strict=True)):
        ts = run.track
        hist = ts.history
        del hist[run.keep :]
        o, n = offsets_l[i], lengths_l[i]
        if n == 1:
            hist.append(Post(every[o], every_phase[o], srcs[0], i))
        else:
            hist.extend([Post(every[o + j], every_phase[o + j], srcs[j], i) for j in range(n)])
        t = state[0]
        ts.t, ts.mu, ts.x, ts.p, ts.xc, ts.pc = state
        if t - hist[0].m.t > limit:
            _trim(ts, history_s)
        ts.n_reports += run.n_new
        ts.n_updates += run.n_new
        p_man = p_man_l[i]
        if p_man >= CALM_P_MANOEUVRE:
            ts.calm_since = None
        elif ts.calm_since is None:
            ts.calm_since = t
        calm_s = 0.0 if ts.calm_since is None else t - ts.calm_since
        ts.phase = _next_phase(ts.phase, hae_l[i], v_up_l[i], descending[i], calm_s, p_man)
    if table is not None:
        table.write(slots, tt, mu, xm, pm, xc, pc, xa, pa)
        table.ballistic[slots] = [r.track.phase is not Phase.BOOST for r in runs]


_TAU_TABLES: dict[ImmParams, dict[Phase, tuple[float, float, float, float]]] = {}


def _tau_table(params: ImmParams) -> dict[Phase, tuple[float, float, float, float]]:
    table = _TAU_TABLES.get(params)
    if table is None:
        table = _TAU_TABLES[params] = {ph: mode_taus(ph, params) for ph in Phase}
    return table


def mode_taus(phase: Phase, params: ImmParams) -> tuple[float, float, float, float]:
    """Mean sojourn times (s) ``(to powered, to ballistic)`` of the IMM modes in ``phase``, the
    acceleration prior (m/s^2) of the powered mode when it takes over, and whether the
    ballistic mode is mixed from the powered one (``imm.switching``, ``imm.mix``): in
    boost the powered mode is the likelier (a weak early thrust under noisy reports is not taken
    for burn-out by the prior alone) and seeds the ballistic one (thrust may end at any
    moment); in midcourse and re-entry it is shut (an unpowered body does not manoeuvre, the
    ballistic mode carries drag in its ``ln beta``, and the powered mode's spread would leak
    into the ballistic estimate)."""
    if phase is Phase.BOOST:
        return (
            params.tau_to_powered_s,
            params.tau_boost_to_ballistic_s,
            params.accel_prior_m_s2,
            1.0,
        )
    return params.tau_midcourse_s, params.tau_to_ballistic_s, params.accel_prior_m_s2, 0.0


def _trim(ts: TrackState, history_s: float) -> None:
    cut = bisect.bisect_left(ts.history, ts.t - history_s, key=lambda h: h.m.t)
    cut = min(cut, len(ts.history) - 1)
    if cut > 0:
        b = ts.history[cut - 1]
        ts.base_t, ts.base = b.m.t, (b.mu, b.x, b.p)
        del ts.history[:cut]


#: ``(1, 1, 1 / (1 - e^2))``: scales an ECEF point to the gradient of the ellipsoid's equation.
_NORMAL_SCALE = np.array([1.0, 1.0, 1.0 / (1.0 - WGS84_E2)])


def kinematics(x: F64, p: F64) -> tuple[F64, F64, F64]:
    """Height (m), up-velocity (m/s) and its 1-sigma for states ``(k, 6+)``, covariances
    ``(k, 6+, 6+)``; each ``(k,)``. For the flight phase: the height is the geocentric-radius
    approximation of ``ballistics`` (within 20 m of the geodetic one) and "up" the normal of the
    ellipsoid's level surface through the point, ``(x, y, z / (1 - e^2))`` normalised (within
    2e-4 rad of the geodetic normal at 1,000 km)."""
    r = x[:, :3]
    hae = _approx_height(r)
    n = r * _NORMAL_SCALE
    up = n / np.sqrt(np.einsum("ki,ki->k", n, n))[:, None]
    v_up = np.einsum("ki,ki->k", up, x[:, 3:6])
    var = np.einsum("ki,kij,kj->k", up, p[:, 3:6, 3:6], up)
    return hae, v_up, np.sqrt(np.clip(var, 0.0, None))


def initial_phase(hae: float, v_up: float, sigma: float) -> Phase:
    """A new track below ``BOOST_CEILING_M`` not surely descending is taken to be boosting."""
    phase = Phase.BOOST if hae < BOOST_CEILING_M and v_up > -2.0 * sigma else Phase.MIDCOURSE
    return next_phase(phase, hae, v_up, sigma, 0.0, 0.5)


def next_phase(
    phase: Phase, hae: float, v_up: float, sigma: float, calm_s: float, p_manoeuvre: float
) -> Phase:
    """Boost -> midcourse once the powered mode has been improbable for ``CALM_S`` seconds
    (burn-out) or the track surely descends (``v_up < -2 sigma``); midcourse -> terminal when
    descending below ``TERMINAL_CEILING_M``; midcourse -> boost again if the powered mode
    becomes near certain while climbing low (thrust after all). Terminal is final."""
    return _next_phase(phase, hae, v_up, v_up < -2.0 * sigma, calm_s, p_manoeuvre)


def _next_phase(
    phase: Phase, hae: float, v_up: float, descending: bool, calm_s: float, p_manoeuvre: float
) -> Phase:
    if phase is Phase.BOOST and (calm_s >= CALM_S or descending):
        phase = Phase.MIDCOURSE
    if phase is Phase.MIDCOURSE:
        if descending and hae < TERMINAL_CEILING_M:
            phase = Phase.TERMINAL
        elif p_manoeuvre >= THRUST_P_MANOEUVRE and hae < BOOST_CEILING_M and v_up > 0.0:
            phase = Phase.BOOST
    return phase
