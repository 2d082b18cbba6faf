"""Multi-sensor, multi-nation track fusion of missile-warning reports.

Reports (``Report``) carry Cursor-on-Target point semantics: ``lat``/``lon`` degrees WGS-84,
``hae`` metres above the ellipsoid, ``ce`` the 1-sigma circular (horizontal) error and ``le`` the
1-sigma linear (vertical) error in metres ("Cursor-on-Target Message Router User's Guide",
MITRE MP090284, 2009, event schema: "ce ... the 1-sigma circular error"; "le ... the 1-sigma
linear error"). We read "1-sigma circular error" as the circular standard deviation: the
horizontal error is isotropic Gaussian with ``sigma_E = sigma_N = ce`` (so the circle of radius
``ce`` holds 39.3 % and the CEP is ``1.1774 ce``), and ``sigma_U = le``. CoT's "unknown" value
``9999999`` (or more) makes a report unusable for tracking; it is counted and ignored.

Measurement (exact in position, linearised in covariance): ``z = ECEF(lat, lon, hae)`` and
``R = C^T diag(ce^2, ce^2, le^2) C`` with ``C`` the ECEF->ENU rotation at the point
(``geodesy.enu_rotation``); ``H = [I 0]``. Each sensor is so weighted by its own stated errors.

The filter is the two-mode IMM EKF of ``imm`` (ballistic ``[r, v, ln beta]``, flying with the
drag of its estimated ballistic coefficient; powered ``[r, v, a]``, ``a`` the thrust). Per
``ingest`` call:

1. reports are checked (a bad one raises ``Invalid`` and changes nothing), sorted by their key
   ``(time, nation, sensor, uid)`` (then content) so every node orders them alike, and
   de-duplicated on that key (the first one counts; a repeat in a later batch is ignored);
2. in time chunks of at most ``chunk_s``, every live track is predicted to the chunk's middle and
   each report is gated against every track (midcourse tracks from their ballistic mode) with
   the Mahalanobis distance of its innovation,
   ``d^2 = nu^T S^-1 nu <= chi2_3(99.9 %) = 16.27`` (the validation gate of Bar-Shalom and Li,
   "Multitarget-Multisensor Tracking: Principles and Techniques", 1995). Gated pairs cost
   ``d^2 + ln|S|`` (the negative log-likelihood, so a vague track does not capture reports just
   for its large covariance), less ``HINT_BONUS`` for the track that the report's
   ``(nation, sensor, uid)`` last went to (the CoT ``uid`` names an object: a sensor's own
   track continuity is evidence); pairs are assigned greedily cheapest first, and one sensor's
   reports of one instant go to different tracks (a global-nearest-neighbour approximation).
   Reports of different nations' sensors on one missile therefore land on ONE track;
3. each track's reports are applied in time order; the filter runs vectorised over tracks, one
   report per track per pass. A report older than a track's last update (late federation
   traffic) is handled exactly by re-filtering: the track keeps the posteriors of its last
   ``history_s`` seconds of reports and replays from the one before the late report;
4. unassociated reports seed new tracks (``initiation``): two or more reports spanning at least
   ``init_min_span_s`` give a least-squares position and velocity;
5. a young track (created within ``merge_window_s``) whose state is statistically the same as
   another live track's is merged into it: ``d^2 = dx^T (P1 + P2)^-1 dx <= chi2_6(99.9 %) =
   22.46`` over position and velocity (the track-to-track association test of Bar-Shalom, "On
   the track-to-track correlation problem", IEEE T-AC 26(2), 1981, cross-covariance
   neglected); the survivor is the track with the earlier first report and keeps whichever
   state has the smaller position covariance (duplicates only arise at initiation);
6. silent tracks are dropped (``max_coast_s``; longer in midcourse, where coverage gaps are
   normal and the prediction holds), and so is a track whose estimate leaves the physical
   envelope (``MAX_TRACK_SPEED_M_S``, ``MAX_TRACK_RADIUS_M``: it has diverged; counted in
   ``tracks_diverged``); impact predictions (``ballistics.propagate_to_impact``)
   are made on confirmation and on a change of phase, and refreshed as the time to impact
   asks (every 2 s of track time in boost and in the last 200 s, up to 10 s when impact is
   far: ``Fuser._impact_every``), many tracks in one vectorised batch.

One missile, one track, on every node: a track's id is ``trk-`` and 16 hex digits of BLAKE2b over
the key ``(time, nation, sensor, uid)`` of the earliest report that initiated it. Fusing the same
reports gives the same tracks and ids on every node; when nodes see the initiating reports in
different orders the ids can differ until a merge, which always keeps the earliest key.

Phase (``trackstate.next_phase``): a new track below 150 km and not surely descending starts in
**boost**; it becomes **midcourse** once the IMM's powered-mode probability has stayed below 0.2
for ``trackstate.CALM_S`` (6 s: burn-out) or it surely descends, and goes back to boost if that
probability exceeds 0.9 while it climbs below 150 km (a later stage, or burn-out declared too
early under noisy reports); **terminal** once descending below 60 km (re-entry, where drag
starts to matter), for good. Impact predictions (``predict_impact``) start from
``impact_state`` and every sigma point flies with the drag of its own ballistic coefficient.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import msgspec
import numpy as np
from numpy.typing import NDArray

from hotline.errors import Invalid
from hotline.tracks.ballistics import (
    MAX_SPEED_M_S,
    Impact,
    acceleration,
    kinematic_q9,
    propagate_to_impact_many,
    transition9,
)
from hotline.tracks.geodesy import (
    WGS84_A,
    ecef_to_geodetic,
    enu_components,
    enu_rotation,
    geodetic_height,
    geodetic_to_ecef,
)
from hotline.tracks.imm import ImmParams, output, predict_only
from hotline.tracks.initiation import (
    Initiator,
    Measurement,
    ReportKey,
    Seed,
    chi2_999,
    fit_initial,
    fit_powered,
)
from hotline.tracks.trackstate import (
    Phase,
    Run,
    StateTable,
    TrackState,
    TrackStatus,
    execute,
    freeze,
    initial_phase,
    kinematics,
    plan,
)

F64 = NDArray[np.float64]

#: CoT's "unknown" circular or linear error.
COT_UNKNOWN_ERROR_M: Final = 9_999_999.0
#: Chi-square 99.9 % quantiles: 3 dof (report gate), 6 dof (track merge).
GATE_CHI2_3: Final = 16.27
MERGE_CHI2_6: Final = 22.46
#: Association cost bonus (a likelihood ratio of e^3 = 20) for the track a sensor's uid last
#: went to: the sensor's own track continuity is evidence, not proof.
HINT_BONUS: Final = 3.0
#: A coasting track predicted this far below the ellipsoid has come down and is dropped.
GROUNDED_M: Final = -2_000.0
#: The physical envelope of a track's estimate: no ballistic missile flies faster than
#: ``ballistics.MAX_SPEED_M_S`` relative to the Earth, nor farther from its centre than three
#: Earth radii (twice a lofted ICBM's apogee). A track outside it has diverged (a seed of two
#: missiles' reports, a filter fed another object's reports): it is dropped at once, as it would
#: otherwise gate every report near its huge covariance.
MAX_TRACK_SPEED_M_S: Final = MAX_SPEED_M_S
MAX_TRACK_RADIUS_M: Final = 3.0 * WGS84_A

__all__ = [
    "Fuser",
    "FuserConfig",
    "Phase",
    "Report",
    "Track",
    "TrackStatus",
    "impact_inputs",
    "impact_state",
    "measurements_of",
    "predict_impact",
    "track_id",
]


class Report(msgspec.Struct, frozen=True, kw_only=True):
    """One sensor point report (Cursor-on-Target semantics; see the module docstring)."""

    uid: str
    nation: str
    sensor: str
    time: float
    lat: float
    lon: float
    hae: float
    ce: float
    le: float

    @property
    def key(self) -> ReportKey:
        return (self.time, self.nation, self.sensor, self.uid)


class Track(msgspec.Struct, frozen=True, eq=False, kw_only=True):
    """Snapshot of a fused track (read-only arrays).

    ``x (6,)``: ECEF position (m) and Earth-relative velocity (m/s) at ``last_time`` (s);
    ``P (6, 6)`` its covariance (IMM-combined). ``nations``: contributing nations; ``sensors``:
    ``NATION/sensor`` names. ``p_manoeuvre``: IMM probability of the powered mode (thrust or
    drag); ``x_ballistic``, ``P_ballistic``: the ballistic mode's own estimate; ``accel``: the
    IMM-combined non-gravitational acceleration (ECEF m/s^2: thrust in boost, drag in
    re-entry). ``log_beta``: the ballistic mode's estimate of the natural logarithm of the
    ballistic coefficient ``beta`` (kg/m^2), ``P_log_beta (7,)`` its covariances with that
    mode's ``[r, v, ln beta]`` (``ballistic_coeff``; the prior's until the body has flown
    through enough air); impact predictions start from ``impact_state``. ``impact``: the latest
    prediction (made on confirmation and on a change of phase, refreshed as
    ``FuserConfig`` says: every 2 s of track time in boost and in the last 200 s before
    impact, at most every 10 s; ``None`` while tentative or if the track would not come down).
    ``merged_into``: the surviving track's id when ``status`` is ``merged``.
    """

    id: str
    x: F64
    P: F64
    last_time: float
    nations: tuple[str, ...]
    sensors: tuple[str, ...]
    phase: Phase
    status: TrackStatus
    n_reports: int
    p_manoeuvre: float
    x_ballistic: F64
    P_ballistic: F64
    impact: Impact | None
    log_beta: float
    P_log_beta: F64
    merged_into: str | None = None
    accel: F64 | None = None

    @property
    def ballistic_coeff(self) -> tuple[float, float]:
        """``beta`` (kg/m^2, the median ``exp(ln beta)``) and the 1-sigma of ``ln beta``."""
        return math.exp(self.log_beta), math.sqrt(float(self.P_log_beta[6]))

    @property
    def geodetic(self) -> tuple[float, float, float]:
        """Latitude, longitude (degrees) and height above the ellipsoid (m) of the position."""
        lat, lon, hae = ecef_to_geodetic(self.x[:3])
        return float(lat), float(lon), float(hae)

    @property
    def lat(self) -> float:
        return self.geodetic[0]

    @property
    def lon(self) -> float:
        return self.geodetic[1]

    @property
    def hae(self) -> float:
        return self.geodetic[2]

    @property
    def velocity_enu(self) -> tuple[float, float, float]:
        """East, north, up velocity (m/s) at the track's position."""
        lat, lon, _ = self.geodetic
        return enu_components(lat, lon, self.x[3:])


def impact_state(track: Track) -> tuple[F64, F64]:
    """The ``[r, v, ln beta]`` estimate ``(7,)``, ``(7, 7)`` impact prediction starts from: the
    ballistic mode's own (position, velocity and ballistic coefficient with their
    correlations) in midcourse and re-entry, where an unpowered body does not manoeuvre and
    the combined covariance would carry the powered mode's spread into every prediction, and
    in boost once burn-out is more probable than not (``p_manoeuvre < 0.5``: the track is then
    predicted as it will be in midcourse, not from a mixture still holding a thrust that is
    gone, 6 s before the phase changes); otherwise, during boost (the instantaneous impact
    point, IIP), the IMM-combined position and velocity, with the ballistic mode's
    ``ln beta`` (uncorrelated with them)."""
    xb = np.append(track.x_ballistic, track.log_beta)
    pb = np.zeros((7, 7))
    pb[:6, :6] = track.P_ballistic
    pb[6], pb[:, 6] = track.P_log_beta, track.P_log_beta
    thrusting = track.phase is Phase.BOOST and track.p_manoeuvre >= 0.5
    return _impact_start(thrusting, track.x, track.P, xb, pb)


def impact_inputs(phase: Phase, mu: F64, x: F64, p: F64, xc: F64, pc: F64) -> tuple[F64, F64]:
    """``impact_state`` of a track in ``phase`` with mode states ``x (2, 9)``, ``P (2, 9, 9)``
    and combined ``xc``, ``pc``."""
    thrusting = phase is Phase.BOOST and mu[1] >= 0.5
    return _impact_start(thrusting, xc, pc, x[0, :7], p[0, :7, :7])


def _impact_start(thrusting: bool, xc: F64, pc: F64, xb: F64, pb: F64) -> tuple[F64, F64]:
    """The rule of ``impact_state``: the ballistic mode's ``[r, v, ln beta]`` ``xb (7,)``,
    ``pb (7, 7)`` unless the track is ``thrusting``; then the combined ``(r, v)`` of ``xc``,
    ``pc`` with the ballistic mode's ``ln beta``, uncorrelated."""
    if not thrusting:
        return xb, pb
    x7 = np.empty(7)
    x7[:6], x7[6] = xc[:6], xb[6]
    p7 = np.zeros((7, 7))
    p7[:6, :6], p7[6, 6] = pc[:6, :6], pb[6, 6]
    return x7, p7


def predict_impact(track: Track) -> Impact | None:
    """The impact prediction of ``track`` now: from ``impact_state``, each sigma point flying
    with the drag of its own ballistic coefficient (``ballistics.propagate_to_impact_many``)."""
    x, p = impact_state(track)
    return propagate_to_impact_many(x[None], p[None], [track.last_time])[0]


@dataclass(frozen=True, slots=True)
class FuserConfig:
    """Tuning of the fuser; the defaults are those the benchmark measured (``docs/tracks.md``).

    Gates: ``gate_chi2`` (3 dof) for a report against a track, ``merge_chi2`` (6 dof) for two
    tracks. ``chunk_s``: reports within this span are associated against one prediction.
    Initiation: ``init_*``. A tentative track is confirmed after ``confirm_updates`` gated
    reports within ``confirm_within_s`` of its creation, else dropped; ``merge_window_s``: a
    track this young is checked for duplicates. A track silent for ``max_coast_s`` is dropped;
    in midcourse, where the ballistic prediction holds (sensor coverage gaps near a lofted
    apogee), after ``max_coast_midcourse_s`` or 30 s past its predicted impact.
    ``history_s``: how late a report may be and still be applied exactly. ``max_future_s``: how
    far after ``now`` a report time may lie. Impacts: predicted on confirmation and on a change
    of phase, then refreshed when the prediction is older than ``impact_refresh_fraction`` of
    its time to impact, within ``impact_interval_s`` and ``impact_interval_max_s`` of track
    time (every ``impact_interval_s`` in boost), in batches (see ``_refresh``).
    """

    imm: ImmParams = field(default_factory=ImmParams)
    gate_chi2: float = GATE_CHI2_3
    merge_chi2: float = MERGE_CHI2_6
    chunk_s: float = 2.0
    chunk_max_reports: int = 2048
    init_max_speed_m_s: float = 8000.0
    init_min_span_s: float = 1.0
    init_max_age_s: float = 20.0
    confirm_updates: int = 2
    confirm_within_s: float = 30.0
    merge_window_s: float = 60.0
    max_coast_s: float = 60.0
    max_coast_midcourse_s: float = 3600.0
    history_s: float = 30.0
    max_future_s: float = 60.0
    impact_interval_s: float = 2.0
    impact_interval_max_s: float = 10.0
    impact_refresh_fraction: float = 0.01
    compute_impacts: bool = True


def track_id(key: ReportKey) -> str:
    """``trk-`` + 16 hex digits of BLAKE2b over the report key (deterministic on every node)."""
    raw = "\x1f".join([repr(float(key[0])), key[1], key[2], key[3]]).encode()
    return "trk-" + hashlib.blake2b(raw, digest_size=8).hexdigest()


def measurements_of(lat: F64, lon: F64, hae: F64, ce: F64, le: F64) -> tuple[F64, F64]:
    """ECEF positions ``(m, 3)`` and covariances ``(m, 3, 3)`` of reports (see module doc):
    ``R = C^T diag(ce^2, ce^2, le^2) C``."""
    z = geodetic_to_ecef(lat, lon, hae)
    c = enu_rotation(lat, lon)
    d = np.stack([ce * ce, ce * ce, le * le], axis=-1)
    r: F64 = np.einsum("mki,mk,mkj->mij", c, d, c)
    return z, r


_FIELDS: Final = ("time", "lat", "lon", "hae", "ce", "le")
_LO: Final = np.array([-math.inf, -90.0, -180.0, -12_000.0, 0.0, 0.0])
_HI: Final = np.array([math.inf, 90.0, 180.0, 5.0e7, math.inf, math.inf])


def _sort_key(r: Report) -> tuple[float, str, str, str, float, float, float, float, float]:
    return (r.time, r.nation, r.sensor, r.uid, r.lat, r.lon, r.hae, r.ce, r.le)


def _numbers(reports: Sequence[Report]) -> F64:
    """``(m, 6)``: time, lat, lon, hae, ce, le of each report."""
    out = np.array([(r.time, r.lat, r.lon, r.hae, r.ce, r.le) for r in reports], dtype=np.float64)
    return out.reshape(len(reports), 6)


#: ``pre_gate``'s rounding allowance, relative to a pair's squared distances (about 45 ulps).
ULPS: Final = 1e-14


def pre_gate(
    z: F64, rr: F64, dt: F64, x: F64, acc: F64, pc: F64, q: F64, gate: float
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Report and track indices ``(mi, ni)`` of the pairs that may pass the validation gate:
    reports ``z (M, 3)``, ``R (M, 3, 3)`` at ``dt (M,)`` s from the time of the tracks'
    predictions ``x = [r, v] (N, 6)``, accelerations ``acc (N, 3)``, covariances ``pc (N, 9+,
    9+)`` and white acceleration densities ``q (N,)``.

    The innovation of report ``m`` on track ``n`` is ``delta = z - (r + v dt + a dt^2 / 2)``
    and its covariance ``S = P_rr + dt (P_rv + P_vr) + dt^2 P_vv + R + q |dt|^3 / 3 I``; since
    ``d^2 = delta^T S^-1 delta >= |delta|^2 / lambda_max(S) >= |delta|^2 / tr S``, a pair with
    ``|delta|^2 > gate tr S`` cannot pass the gate. Both sides are sums of products of a
    report's terms (``1, dt, .., dt^4, |dt|^3, z, dt z, dt^2 z``) with a track's, so the test
    of every pair is ONE matrix product ``(M, 16) @ (16, N)`` (not ``(M, N, 3)`` arrays):
    positions are taken from the reports' centroid to keep the cancellation small, and each
    pair's bound is loosened by 1 m^2 plus a few ulps of its own squared distances from the
    centroid, ``1e-14 (|z - o|^2 + |r - o|^2)``, more than the rounding (the exact gate
    decides). Per pair, not over all pairs: one far-away (diverged) track would otherwise
    loosen every pair's bound until every report passed it."""
    o = z.mean(axis=0)
    zc, rc = z - o, x[:, :3] - o
    v, a = x[:, 3:6], acc
    dt2 = dt * dt
    adt3 = np.abs(dt) * dt2
    tr = np.trace
    f = np.empty((z.shape[0], 16))
    zz = np.einsum("mi,mi->m", zc, zc)
    rr2 = np.einsum("ni,ni->n", rc, rc)
    f[:, 0] = zz * (1.0 - ULPS) - gate * tr(rr, axis1=1, axis2=2)
    f[:, 1], f[:, 2], f[:, 3], f[:, 4], f[:, 5], f[:, 6] = 1.0, dt, dt2, dt2 * dt, dt2 * dt2, adt3
    f[:, 7:10] = zc
    f[:, 10:13] = zc * dt[:, None]
    f[:, 13:16] = zc * dt2[:, None]
    g = np.empty((16, x.shape[0]))
    g[0] = 1.0
    g[1] = rr2 * (1.0 - ULPS) - gate * tr(pc[:, :3, :3], axis1=1, axis2=2)
    g[2] = 2.0 * (np.einsum("ni,ni->n", rc, v) - gate * tr(pc[:, :3, 3:6], axis1=1, axis2=2))
    g[3] = (
        np.einsum("ni,ni->n", v, v)
        + np.einsum("ni,ni->n", rc, a)
        - gate * tr(pc[:, 3:6, 3:6], axis1=1, axis2=2)
    )
    g[4] = np.einsum("ni,ni->n", v, a)
    g[5] = 0.25 * np.einsum("ni,ni->n", a, a)
    g[6] = -gate * q
    g[7:10] = -2.0 * rc.T
    g[10:13] = -2.0 * v.T
    g[13:16] = -a.T
    # Rounding: a few ulps (ULPS, in f[:, 0] and g[1]) of the pair's largest products,
    # |z - o|^2 and |r - o|^2, on top of the 1 m^2.
    mi, ni = np.nonzero(f @ g <= 1.0)
    return mi, ni


def _scan_groups(ms: list[Measurement]) -> NDArray[np.intp]:
    """Per report (sorted by key), the index of its ``(time, nation, sensor)`` group: one
    sensor's reports of one instant."""
    heads = [m.key[:3] for m in ms]
    out = np.zeros(len(ms), dtype=np.intp)
    np.cumsum([a != b for a, b in itertools.pairwise(heads)], out=out[1:])
    return out


def _outside_envelope(x: F64) -> NDArray[np.bool_]:
    """Per state ``[r, v, ...]`` ``(n, 6+)``: outside the physical envelope (faster than
    ``MAX_TRACK_SPEED_M_S``, farther than ``MAX_TRACK_RADIUS_M``) or not finite."""
    r2 = np.einsum("ni,ni->n", x[:, :3], x[:, :3])
    v2 = np.einsum("ni,ni->n", x[:, 3:6], x[:, 3:6])
    inside = (r2 <= MAX_TRACK_RADIUS_M**2) & (v2 <= MAX_TRACK_SPEED_M_S**2)
    out: NDArray[np.bool_] = ~inside  # NaN compares False: not inside
    return out


def _check(reports: Sequence[Report], arr: F64, now: float, max_future_s: float) -> None:
    """Raise ``Invalid`` naming the first bad report and field (vectorised check)."""
    for rep in reports:
        if not (rep.uid and rep.nation and rep.sensor):
            name = next(n for n in ("uid", "nation", "sensor") if not getattr(rep, n))
            raise Invalid(f"report {rep.uid!r}: field {name!r} is empty; expected a name")
    hi = _HI.copy()
    hi[0] = now + max_future_s
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(arr) | (arr < _LO) | (arr > hi)
        bad[:, 4:] |= arr[:, 4:] <= 0.0
    if not bad.any():
        return
    i, j = (int(v[0]) for v in np.nonzero(bad))
    rep, name, v = reports[i], _FIELDS[j], float(arr[i, j])
    if name == "time":
        want = f"finite seconds no later than now + {max_future_s:g} s ({now!r})"
    elif name in ("ce", "le"):
        want = "a finite number > 0 (metres)"
    else:
        want = f"a finite number in [{_LO[j]:g}, {_HI[j]:g}]"
    raise Invalid(
        f"report {rep.uid!r} from {rep.nation}/{rep.sensor}: field {name!r} = {v!r}; "
        f"expected {want}"
    )


class Fuser:
    """The tracks of one node and the fusion of reports into them.

    Deterministic and pure apart from its own in-memory state: the same sequence of ``ingest``
    calls gives the same tracks. ``stats`` counts what happened to reports and tracks.
    """

    def __init__(self, config: FuserConfig | None = None) -> None:
        self.config = config or FuserConfig()
        c = self.config
        self._tracks: dict[str, TrackState] = {}
        #: Positions and covariances of the reports of the ``ingest`` call under way.
        self._batch: tuple[F64, F64] | None = None
        self._table = StateTable()
        self._hint: dict[tuple[str, str, str], str] = {}
        #: ``NATION/sensor`` of each ``(nation, sensor)`` seen.
        self._sources: dict[tuple[str, str], str] = {}
        self._seen: dict[ReportKey, None] = {}
        self._seen_order: deque[ReportKey] = deque()
        self._init = Initiator(
            max_speed_m_s=c.init_max_speed_m_s,
            min_span_s=c.init_min_span_s,
            max_age_s=c.init_max_age_s,
        )
        names = (
            "reports duplicates unusable associated late_refiltered late_dropped seeded "
            "seed_expired tracks_initiated tracks_merged tracks_dropped tracks_diverged "
            "impacts_predicted impact_batches"
        )
        self.stats: dict[str, int] = dict.fromkeys(names.split(), 0)

    # ------------------------------------------------------------------ public

    def tracks(self) -> list[Track]:
        """Snapshots of every live track, in creation order."""
        return [self._snapshot(ts) for ts in self._tracks.values()]

    def ingest(self, reports: Sequence[Report], now: float) -> list[Track]:
        """Fuse ``reports`` (any order) at node time ``now`` (s); returns the tracks that changed
        (created, updated, merged away or dropped), in creation order.

        Raises ``Invalid`` (and changes nothing) if any report is malformed.
        """
        arr = _numbers(reports)
        _check(reports, arr, now, self.config.max_future_s)
        # Sort by key, then content, so that which of two same-key reports counts (the first)
        # does not depend on arrival order within the batch (a batch already in strictly
        # increasing key order, the usual case, is that order).
        keys = [(r.time, r.nation, r.sensor, r.uid) for r in reports]
        if not all(a < b for a, b in itertools.pairwise(keys)):
            order = sorted(range(len(reports)), key=lambda i: _sort_key(reports[i]))
            reports = [reports[i] for i in order]
            keys = [keys[i] for i in order]
            arr = arr[order]
        keep = self._dedupe(reports, keys)
        changed: dict[str, TrackState] = {}
        if keep:
            fresh = [reports[i] for i in keep]
            a = arr[keep]
            z, rr = measurements_of(a[:, 1], a[:, 2], a[:, 3], a[:, 4], a[:, 5])
            zl, rl = list(z), list(rr)  # row views, made in one call each
            ms = [Measurement(keys[j][0], zl[i], rl[i], keys[j], i) for i, j in enumerate(keep)]
            self._batch = (z, rr)
            uids = [r.uid for r in fresh]
            for lo, hi in self._chunks(ms):
                self._process_chunk(ms[lo:hi], uids[lo:hi], z[lo:hi], rr[lo:hi], changed)
            self._merge(changed)
        self.stats["seed_expired"] += self._init.expire(now)
        self._prune(now, changed)
        self._refresh(changed)
        return [self._snapshot(ts) for ts in sorted(changed.values(), key=lambda s: s.created)]

    # ------------------------------------------------------------------ steps

    def _dedupe(self, reports: Sequence[Report], keys: list[ReportKey]) -> list[int]:
        """Indices of the reports (with these keys) not seen before and usable."""
        fresh: list[int] = []
        for i, (rep, key) in enumerate(zip(reports, keys, strict=True)):
            if key in self._seen:
                self.stats["duplicates"] += 1
                continue
            self._seen[key] = None
            self._seen_order.append(key)
            if rep.ce >= COT_UNKNOWN_ERROR_M or rep.le >= COT_UNKNOWN_ERROR_M:
                self.stats["unusable"] += 1
                continue
            fresh.append(i)
        self.stats["reports"] += len(reports)
        return fresh

    def _chunks(self, ms: list[Measurement]) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        lo = 0
        for i in range(1, len(ms) + 1):
            if (
                i == len(ms)
                or ms[i].t - ms[lo].t > self.config.chunk_s
                or i - lo >= self.config.chunk_max_reports
            ):
                out.append((lo, i))
                lo = i
        return out

    def _process_chunk(
        self,
        ms: list[Measurement],
        uids: list[str],
        z: F64,
        rr: F64,
        changed: dict[str, TrackState],
    ) -> None:
        live = list(self._tracks.values())
        assigned = self._associate(ms, uids, z, rr, live) if live else [-1] * len(ms)
        per_track: defaultdict[int, list[Measurement]] = defaultdict(list)
        loose: list[Measurement] = []
        hint = self._hint
        for m, uid, a in zip(ms, uids, assigned, strict=True):
            if a < 0:
                loose.append(m)
                continue
            per_track[a].append(m)
            key = m.key
            hint[(key[1], key[2], uid)] = live[a].id
        runs: list[Run] = []
        sources = self._sources
        for a, new in per_track.items():
            ts = live[a]
            for ns in {(m.key[1], m.key[2]) for m in new}:
                source = sources.get(ns)
                if source is None:
                    source = sources[ns] = f"{ns[0]}/{ns[1]}"
                ts.nations.add(ns[0])
                ts.sensors.add(source)
            run, dropped = plan(ts, new)
            self.stats["late_dropped"] += dropped
            if run is not None:
                self.stats["late_refiltered"] += run.keep < len(ts.history)
                self.stats["associated"] += run.n_new
                runs.append(run)
        if runs:
            execute(runs, self.config.imm, self.config.history_s, self._batch)
            for run in runs:
                ts = run.track
                if (
                    ts.status is TrackStatus.TENTATIVE
                    and ts.n_updates >= self.config.confirm_updates
                ):
                    ts.status = TrackStatus.CONFIRMED
                changed[ts.id] = ts
        ready: list[Seed] = []
        for m in loose:
            self.stats["seeded"] += 1
            seed = self._init.add(m)
            if self._init.ready(seed) and all(seed is not s for s in ready):
                ready.append(seed)
        for seed in ready:
            self._initiate(seed, changed)

    def _predict(self, live: list[TrackState], t: float) -> tuple[F64, F64, F64]:
        """States ``[r, v, a]`` ``(n, 9)`` and covariances ``(n, 9, 9)`` of ``live`` at time
        ``t`` for gating and merging (an EKF prediction of the IMM-combined estimate; in
        midcourse and re-entry of the ballistic mode's, its drag held as ``a`` over the step;
        the white acceleration density, returned too as ``(n,)``, is the mode-weighted one
        there and ``q_manoeuvre`` in boost). A coasting track's prediction is cached and
        advanced from the cache, so a long coverage gap costs one short step per chunk, not one
        long one."""
        tab = self._table
        slots = np.fromiter((ts.slot for ts in live), dtype=np.intp, count=len(live))
        t0 = tab.t[slots]
        bal = tab.ballistic[slots]
        # In midcourse and re-entry, from the ballistic mode's estimate (as [r, v, a], its drag
        # held over the short step): the combined one carries the powered mode's (improbable)
        # thrust uncertainty, which a long coast would blow up as dt^2/2.
        xc = np.where(bal[:, None], tab.xb[slots], tab.xc[slots])
        pc = np.where(bal[:, None, None], tab.pb[slots], tab.pc[slots])
        cached = tab.pred_ok[slots] & (tab.pred_t[slots] <= t)
        if cached.any():
            xc = np.where(cached[:, None], tab.pred_x[slots], xc)
            pc = np.where(cached[:, None, None], tab.pred_p[slots], pc)
            dt = t - np.where(cached, tab.pred_t[slots], t0)
        else:
            dt = t - t0
        # Boost is where unmodelled accelerations happen: size the prediction (and so the gate)
        # for them there (thrust cut off, staging), whatever the modes say.
        imm = self.config.imm
        mu = tab.mu[slots]
        q = np.where(bal, mu @ imm.q(), imm.q_manoeuvre)
        # No thrust in midcourse: the powered mode's jerk noise (which grows as dt^5) would make
        # a coasting track's gate swallow its neighbours after a long coverage gap.
        q_jerk = np.where(bal, 0.0, mu[:, 1] * imm.q_jerk)
        xp, phi = transition9(
            xc[:, None], dt, imm.model, max_step_s=imm.max_step_s, taylor_max_s=imm.taylor_max_s
        )
        xp = xp[:, 0]
        pp = phi @ pc @ np.swapaxes(phi, -1, -2) + kinematic_q9(dt, q, q_jerk)
        coast = t - t0 > self.config.chunk_s
        if coast.any():
            cs = slots[coast]
            tab.pred_t[cs], tab.pred_x[cs], tab.pred_p[cs] = t, xp[coast], pp[coast]
            tab.pred_ok[cs] = True
            tab.grounded[cs] = geodetic_height(xp[coast, :3], iterations=1) < GROUNDED_M
        return xp, pp, q

    def _associate(
        self, ms: list[Measurement], uids: list[str], z: F64, rr: F64, live: list[TrackState]
    ) -> list[int]:
        """Index into ``live`` of each report's track, or -1 (see module doc, step 2); ``z``,
        ``rr``: the reports' positions ``(M, 3)`` and covariances ``(M, 3, 3)``."""
        c = self.config
        t = np.array([m.t for m in ms])
        tc = 0.5 * (t[0] + t[-1])
        xc, pc, q = self._predict(live, float(tc))
        acc = acceleration(xc[:, :6], c.imm.model)[:, 3:] + xc[:, 6:]
        dt = (t - tc)[:, None]  # (M, 1)
        mi, ni = pre_gate(z, rr, dt[:, 0], xc[:, :6], acc, pc, q, c.gate_chi2)
        if mi.size == 0:
            return [-1] * len(ms)
        dtm = dt[mi]
        pred = xc[ni, :3] + xc[ni, 3:6] * dtm
        pred += 0.5 * acc[ni] * (dtm * dtm)
        dl = z[mi] - pred
        dtp = dtm[:, :, None]
        s = pc[ni, :3, :3] + dtp * (pc[ni, :3, 3:6] + pc[ni, 3:6, :3])
        s = s + dtp * dtp * pc[ni, 3:6, 3:6]
        s = s + rr[mi] + (q[ni] * np.abs(dtp[:, 0, 0]) ** 3 / 3.0)[:, None, None] * np.eye(3)
        d2 = np.einsum("pi,pi->p", dl, np.linalg.solve(s, dl[..., None])[..., 0])
        ok = d2 <= c.gate_chi2
        mk, nk = mi[ok], ni[ok]
        # A pair whose report gates no other track, and whose track no other pair asks for the
        # same sensor's instant, is taken by the greedy assignment whatever the order: assign
        # it directly; only contested pairs go through the greedy loop.
        scans = _scan_groups(ms)[mk] * len(live) + nk
        alone = (np.bincount(mk, minlength=len(ms))[mk] == 1) & (np.bincount(scans)[scans] == 1)
        direct = np.full(len(ms), -1)
        direct[mk[alone]] = nk[alone]
        out: list[int] = direct.tolist()
        if alone.all():
            return out
        # Cost: the negative log-likelihood d^2 + ln|S| (so a vague track does not capture
        # reports merely because its covariance is large), less a bonus where the sensor's own
        # uid went to that track before. Greedy global-nearest-neighbour assignment: cheapest
        # pairs first, and one sensor's reports of one instant go to different tracks.
        rest = np.flatnonzero(ok)[~alone]
        cost = d2[rest] + np.linalg.slogdet(s[rest])[1]
        taken: set[tuple[int, str, str, float]] = set()
        pairs = []
        for v, k, n in zip(cost.tolist(), mi[rest].tolist(), ni[rest].tolist(), strict=True):
            m = ms[k]
            hint = self._hint.get((m.key[1], m.key[2], uids[k]))
            pairs.append((v - (HINT_BONUS if hint == live[n].id else 0.0), k, n))
        pairs.sort()
        for _, k, n in pairs:
            key = ms[k].key
            scan = (n, key[1], key[2], key[0])
            if out[k] < 0 and scan not in taken:
                out[k] = n
                taken.add(scan)
        return out

    def _initiate(self, seed: Seed, changed: dict[str, TrackState]) -> None:
        imm = self.config.imm
        # Each mode starts from the fit under its own model: a = 0, or a with its prior.
        # Both fits are inflated by q_manoeuvre over the span: the seed may straddle a change of
        # thrust (burn-out, staging) that neither model has. A seed is a track only if the
        # ballistic fit passes its chi-square test and both fits are no faster than
        # ``init_max_speed_m_s`` (two reports of two missiles a few km apart fit, with no
        # degrees of freedom to refuse them, a body moving at an impossible speed); otherwise
        # its oldest report is dropped and the rest tried again.
        max_v2 = self.config.init_max_speed_m_s**2
        while len(seed.items) >= 2 and seed.span_s >= self.config.init_min_span_s:
            x, p, chi2 = fit_initial(seed.items, imm.q_manoeuvre, imm.model)
            dof = 3 * len(seed.items) - 6
            if (dof == 0 or chi2 <= chi2_999(dof)) and float(x[3:6] @ x[3:6]) <= max_v2:
                x9, p9 = fit_powered(
                    seed.items, imm.accel_prior_m_s2, imm.q_manoeuvre, imm.q_jerk, imm.model
                )
                if float(x9[3:6] @ x9[3:6]) <= max_v2:
                    break
            seed.items.pop(0)
        else:
            return
        self._init.remove(seed)
        first, last = seed.items[0], seed.items[-1]
        xm = np.zeros((2, 9))
        pm = np.zeros((2, 9, 9))
        xm[0, :6], pm[0, :6, :6], xm[1], pm[1] = x, p, x9, p9
        # The ballistic mode's ln beta: its prior (the fit cannot see drag).
        xm[0, 6], pm[0, 6, 6] = imm.log_beta_prior, imm.log_beta_sigma**2
        mu = np.array([0.5, 0.5])
        xc, pc, _, _ = output(mu[None], xm[None], pm[None])
        mu, xm, pm, x, p = freeze(mu, xm, pm, xc[0], pc[0])
        tid = track_id(first.key)
        if tid in self._tracks:  # cannot happen after de-duplication; never overwrite a track
            return
        hae, v_up, sigma = (float(a[0]) for a in kinematics(x[None], p[None]))
        ts = TrackState(
            id=tid,
            key=first.key,
            t=last.t,
            mu=mu,
            x=xm,
            p=pm,
            xc=x,
            pc=p,
            base_t=last.t,
            base=(mu, xm, pm),
            created=last.t,
            phase=initial_phase(hae, v_up, sigma),
            n_reports=len(seed.items),
            table=self._table,
            slot=self._table.take(),
        )
        ts.set_state(last.t, mu, xm, pm)
        for m in seed.items:
            ts.nations.add(m.nation)
            ts.sensors.add(m.source)
        self._tracks[tid] = ts
        self.stats["tracks_initiated"] += 1
        changed[tid] = ts

    def _merge(self, changed: dict[str, TrackState]) -> None:
        """Merge young changed tracks into statistically identical live ones (step 5)."""
        live = list(self._tracks.values())
        t_ref = max((ts.t for ts in live), default=0.0)
        young = [
            i
            for i, ts in enumerate(live)
            if ts.id in changed and ts.t - ts.created <= self.config.merge_window_s
        ]
        if len(live) < 2 or not young:
            return
        # Pre-gate on the states as they are, moved linearly to t_ref (generously: 4 times the
        # gate's variance plus 3 km), so that only plausible pairs are predicted exactly.
        tab = self._table
        slots = np.fromiter((ts.slot for ts in live), dtype=np.intp, count=len(live))
        near = tab.xc[slots, :3] + tab.xc[slots, 3:6] * (t_ref - tab.t[slots])[:, None]
        var = np.trace(tab.pc[slots, :3, :3], axis1=1, axis2=2)
        yi = np.array(young)
        dd = near[yi][:, None, :] - near[None, :, :]
        loose = (
            np.einsum("abk,abk->ab", dd, dd)
            <= 4.0 * self.config.merge_chi2 * (var[yi][:, None] + var) + 3000.0**2
        )
        loose[np.arange(yi.size), yi] = False
        if not loose.any():
            return
        # The young tracks with a loose neighbour and every track that is one (sorted, unique).
        rows = loose.any(axis=0)
        rows[yi[loose.any(axis=1)]] = True
        keep_rows = np.flatnonzero(rows)
        kept = set(keep_rows.tolist())
        young = [i for i in young if i in kept]
        remap = {int(r): n for n, r in enumerate(keep_rows)}
        live = [live[int(r)] for r in keep_rows]
        young = [remap[i] for i in young]
        if len(live) < 2 or not young:
            return
        xc, pc, _ = self._predict(live, t_ref)
        idx = np.array(young)
        d = xc[idx][:, None, :3] - xc[None, :, :3]
        tr = np.trace(pc[:, :3, :3], axis1=1, axis2=2)
        cand = np.einsum("abk,abk->ab", d, d) <= self.config.merge_chi2 * (tr[idx][:, None] + tr)
        cand[np.arange(idx.size), idx] = False
        gone: dict[str, str] = {}
        for a, j in zip(*np.nonzero(cand), strict=True):
            i = int(idx[a])
            ta, tb = live[i], live[int(j)]
            if ta.id in gone or tb.id in gone:
                continue
            dx = xc[i, :6] - xc[j, :6]
            if (
                float(dx @ np.linalg.solve(pc[i, :6, :6] + pc[j, :6, :6], dx))
                > self.config.merge_chi2
            ):
                continue
            keep, lose = (ta, tb) if ta.key < tb.key else (tb, ta)
            better = ta if tr[i] <= tr[j] else tb
            self._absorb(keep, lose, better, t_ref)
            gone[lose.id] = keep.id
            changed[keep.id] = keep
            changed[lose.id] = lose
        for tid in gone:
            self._table.release(self._tracks.pop(tid).slot)
        if gone:
            self._hint = {k: gone.get(v, v) for k, v in self._hint.items()}

    def _absorb(self, keep: TrackState, lose: TrackState, better: TrackState, t: float) -> None:
        """``keep`` takes over ``lose``: sources, report count, and the IMM state of ``better``
        predicted to ``t``; its history restarts there (late reports before ``t`` are dropped)."""
        c, xp, pp = predict_only(
            better.mu[None],
            better.x[None],
            better.p[None],
            np.array([t - better.t]),
            self.config.imm,
        )
        keep.set_state(t, c[0], xp[0], pp[0])
        keep.base_t, keep.base = t, (keep.mu, keep.x, keep.p)
        keep.history.clear()
        keep.nations |= lose.nations
        keep.sensors |= lose.sensors
        keep.n_reports += lose.n_reports
        keep.n_updates += lose.n_updates
        if TrackStatus.CONFIRMED in (keep.status, lose.status):
            keep.status = TrackStatus.CONFIRMED
        lose.status, lose.merged_into = TrackStatus.MERGED, keep.id
        self.stats["tracks_merged"] += 1

    def _prune(self, now: float, changed: dict[str, TrackState]) -> None:
        c = self.config
        live = list(self._tracks.values())
        if not live:
            return self._forget(now)
        # Only a tentative track, one silent for half the shortest coasting limit, or one
        # outside the physical envelope (diverged) can go.
        slots = np.fromiter((ts.slot for ts in live), dtype=np.intp, count=len(live))
        quiet = (now - self._table.t[slots] > 0.5 * c.max_coast_s).tolist()
        diverged = _outside_envelope(self._table.xc[slots]).tolist()
        for ts, q, bad in zip(live, quiet, diverged, strict=True):
            if bad:
                self.stats["tracks_diverged"] += 1
            elif not q and ts.status is not TrackStatus.TENTATIVE:
                continue
            coast = c.max_coast_s
            if ts.phase is Phase.MIDCOURSE and ts.status is TrackStatus.CONFIRMED:
                coast = c.max_coast_midcourse_s
                if ts.impact is not None:
                    coast = min(coast, ts.impact.time + 30.0 - ts.t)
            stale = now - ts.t > max(coast, c.max_coast_s) or (
                ts.grounded and now - ts.t > c.max_coast_s / 2
            )
            unconfirmed = ts.status is TrackStatus.TENTATIVE and now - ts.created > (
                c.confirm_within_s
            )
            if bad or stale or unconfirmed:
                ts.status = TrackStatus.DROPPED
                del self._tracks[ts.id]
                self._table.release(ts.slot)
                changed[ts.id] = ts
                self.stats["tracks_dropped"] += 1
        self._forget(now)

    def _forget(self, now: float) -> None:
        """Forget the keys of reports too old to come again, and hints to ended tracks."""
        c = self.config
        horizon = now - max(c.history_s, c.max_coast_s) - c.max_future_s
        while self._seen_order and self._seen_order[0][0] < horizon:
            self._seen.pop(self._seen_order.popleft(), None)
        if len(self._hint) > 4 * len(self._seen) + 1024:
            self._hint = {k: v for k, v in self._hint.items() if v in self._tracks}

    def _refresh(self, changed: dict[str, TrackState]) -> None:
        """Impact predictions, in one vectorised batch (batching is what makes them cheap:
        ``docs/tracks.md``): at once for a newly confirmed track or one whose phase changed,
        and when a track's state has moved ``_impact_every`` of its own time past its last
        prediction. Whenever any track is due, every track at least half due and due within
        half the shortest interval joins the batch, so the refreshes of many tracks fall
        together. Track time, not node time, so a replay at any speed refreshes alike."""
        if not self.config.compute_impacts:
            return
        live = [
            (ts, ts.t - ts.impact_t, self._impact_every(ts))
            for ts in self._tracks.values()
            if ts.status is TrackStatus.CONFIRMED and ts.impact_t < ts.t
        ]
        if not any(age >= every for _, age, every in live):
            return
        soon = 0.5 * self.config.impact_interval_s
        due = [ts for ts, age, every in live if age >= max(every / 2, every - soon)]
        starts = [impact_inputs(ts.phase, ts.mu, ts.x, ts.p, ts.xc, ts.pc) for ts in due]
        impacts = propagate_to_impact_many(
            np.stack([s[0] for s in starts]),
            np.stack([s[1] for s in starts]),
            np.array([ts.t for ts in due]),
            self.config.imm.model,
        )
        self.stats["impacts_predicted"] += len(due)
        self.stats["impact_batches"] += 1
        for ts, imp in zip(due, impacts, strict=True):
            ts.impact, ts.impact_t, ts.impact_phase = imp, ts.t, ts.phase
            changed[ts.id] = ts

    def _impact_every(self, ts: TrackState) -> float:
        """How old (track seconds) a track's impact prediction may grow: 0 before the first
        and after a change of phase; in boost, or without a prediction (the track would not
        come down), ``impact_interval_s``; otherwise ``impact_refresh_fraction`` of the
        prediction's time to impact, within ``impact_interval_s`` and
        ``impact_interval_max_s``: an ICBM 25 minutes out is refreshed every 10 s, and every
        track every 2 s in its last 200 s."""
        c = self.config
        if ts.impact_phase is not ts.phase:
            return 0.0
        if ts.impact is None or ts.phase is Phase.BOOST:
            return c.impact_interval_s
        to_go = c.impact_refresh_fraction * (ts.impact.time - ts.impact_t)
        return min(c.impact_interval_max_s, max(c.impact_interval_s, to_go))

    def _snapshot(self, ts: TrackState) -> Track:
        # Track states are read-only arrays, replaced and never written in place: views of them
        # are snapshots.
        return Track(
            id=ts.id,
            x=ts.xc[:6],
            P=ts.pc[:6, :6],
            last_time=ts.t,
            nations=ts.nation_names(),
            sensors=ts.sensor_names(),
            phase=ts.phase,
            status=ts.status,
            n_reports=ts.n_reports,
            p_manoeuvre=float(ts.mu[1]),
            x_ballistic=ts.x[0, :6],
            P_ballistic=ts.p[0, :6, :6],
            impact=ts.impact,
            merged_into=ts.merged_into,
            accel=ts.xc[6:],
            log_beta=float(ts.x[0, 6]),
            P_log_beta=ts.p[0, 6, :7],
        )
