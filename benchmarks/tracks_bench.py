"""Benchmark of missile-warning fusion: impact prediction accuracy and ingest throughput.

For each missile class of ``hotline.tracks.simulate`` (short range, medium range, lofted IRBM,
lofted ICBM) and each of ``--runs`` seeds, the truth is observed by three nations' radars
(USA, JPN, KOR; notional figures). Four fusers are fed the reports in 1-second batches, as a node
would ingest them: one per single sensor and one with all three, all four fed the same reports
of the run (common random numbers: the fused filter sees exactly the noise draws the single
ones see). At fixed times since launch, each fuser's track of the missile (the one with the
most reports) is flown to the ground (``fusion.predict_impact``: from ``fusion.impact_state``,
with the estimated drag in re-entry) and compared with the true impact: great-circle error of
the impact point (km), error of the impact time (s), and whether the truth lies inside the
predicted 95 % ellipse. The table gives the RMS over the runs and, per time, the comparison of
the fused RMS with the best single sensor's (the single-sensor filter with the lowest RMS at
that time): ``better`` / ``worse``, ``equal, single source`` where only one sensor's filter
has a track and the fused filter is that same filter, and ``P(better)``, the fraction of
paired bootstrap resamples of the runs in which fused beats the best single (``_compare``).

Throughput: a raid of ``--salvo`` missiles (default 200) of mixed classes from four launch
areas over five minutes, all three sensors (about 200,000 reports), ingested in 1-second batches
by one fuser: reports per second of CPU time (and of wall time), for association and filtering
alone and with the impact predictions refreshed every 2 s of track time; plus the cost of one
impact prediction per track and of one territory look-up (nation and zone of an impact point).
Each configuration runs ``--repeat`` times (default 3) and the best run is reported with the
median: the fuser is deterministic, so the runs differ only by what else the machine was doing
(the best is the least disturbed, as ``timeit`` takes it).

Usage::

    python benchmarks/tracks_bench.py [--runs 8] [--seed 1] [--out artifacts/bench-tracks]
        [--classes srbm,mrbm,irbm,icbm] [--salvo 200] [--repeat 3]
        [--part all|accuracy|throughput] [--quick] [--no-plot]

``run(args) -> dict`` is the entry point for ``hotline bench tracks`` (``args`` is an
``argparse.Namespace`` or a mapping with the same names).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import functools
import json
import math
import os
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hotline.tracks import simulate as sim
from hotline.tracks.ballistics import impact_point, propagate_to_impact_many
from hotline.tracks.blas import single_threaded_blas
from hotline.tracks.fusion import Fuser, FuserConfig, Report, Track, TrackStatus, predict_impact
from hotline.tracks.geodesy import ecef_to_enu, geodetic_to_ecef, great_circle_km
from hotline.tracks.imm import ImmParams
from hotline.tracks.territory import load_territory, territory_of

F64 = NDArray[np.float64]

FILTERS = ("USA", "JPN", "KOR", "fused")
CLASS_KEYS = {"srbm": sim.SRBM, "mrbm": sim.MRBM, "irbm": sim.IRBM_LOFTED, "icbm": sim.ICBM_LOFTED}
#: Evaluation step (s since launch) per class.
EVAL_STEP_S = {"srbm": 10.0, "mrbm": 10.0, "irbm": 30.0, "icbm": 60.0}
CHI2_2_95 = -2.0 * math.log(0.05)
DEFAULT_OUT = "artifacts/bench-tracks"
DEFAULT_CLASSES = ("srbm", "mrbm", "irbm", "icbm")
#: Monte Carlo runs per class. 64 left one comparison a coin toss: at IRBM 120 s (boost) every
#: filter's IIP is ~606 km short of the impact and the fused and KOR's RMS differ by 0.3 km,
#: with a paired standard error of 1.6 km (docs/tracks.md); 320 runs decide every time.
DEFAULT_RUNS = 320
DEFAULT_SALVO = 200
#: Throughput: runs of each configuration (the best and the median are reported).
DEFAULT_REPEAT = 3


@dataclass(frozen=True, slots=True)
class Options:
    runs: int = DEFAULT_RUNS
    seed: int = 1
    out: str = DEFAULT_OUT
    classes: tuple[str, ...] = DEFAULT_CLASSES
    quick: bool = False
    salvo: int = DEFAULT_SALVO
    plot: bool = True
    repeat: int = DEFAULT_REPEAT
    #: Worker processes for the accuracy runs (each run is independent; the results are the
    #: same whatever the number).
    jobs: int = 1


def _options(args: Any) -> Options:
    get = args.get if isinstance(args, Mapping) else lambda k, d=None: getattr(args, k, d)
    classes = get("classes", None) or DEFAULT_CLASSES
    if isinstance(classes, str):
        classes = tuple(c.strip() for c in classes.split(",") if c.strip())
    quick = bool(get("quick", False))
    return Options(
        runs=int(get("runs", None) or (2 if quick else DEFAULT_RUNS)),
        seed=int(get("seed", None) or 1),
        out=str(get("out", None) or DEFAULT_OUT),
        classes=tuple(classes),
        quick=quick,
        salvo=int(get("salvo", None) or (40 if quick else DEFAULT_SALVO)),
        plot=not bool(get("no_plot", False)),
        repeat=max(1, int(get("repeat", None) or (1 if quick else DEFAULT_REPEAT))),
        jobs=max(1, int(get("jobs", None) or (os.cpu_count() or 1))),
    )


# ------------------------------------------------------------------------------ accuracy


def _primary(tracks: Sequence[Track]) -> Track | None:
    return max(tracks, key=lambda t: (t.n_reports, t.id)) if tracks else None


def _evaluate(track: Track | None, truth: sim.Trajectory) -> tuple[float, float, float]:
    """(impact point error km, impact time error s, 1.0 if truth inside the 95 % ellipse)."""
    if track is None:
        return math.nan, math.nan, math.nan
    imp = predict_impact(track)
    if imp is None:
        return math.nan, math.nan, math.nan
    err = float(great_circle_km(imp.lat, imp.lon, truth.impact_lat, truth.impact_lon))
    en = ecef_to_enu(
        geodetic_to_ecef(truth.impact_lat, truth.impact_lon, 0.0), imp.lat, imp.lon, 0.0
    )[:2]
    try:
        d2 = float(en @ np.linalg.solve(imp.cov_enu_2x2, en))
    except np.linalg.LinAlgError:
        d2 = math.inf
    return err, imp.time - truth.impact_time, float(d2 <= CHI2_2_95)


def _fly_once(
    truth: sim.Trajectory, reports: dict[str, list[Report]], times: F64
) -> dict[str, F64]:
    """Feed each filter in 1 s batches; evaluate at ``times``; returns (n_times, 4) per filter."""
    t0 = truth.launch.t0
    feeds = {n: reports[n] for n in FILTERS[:3]}
    feeds["fused"] = sorted((r for n in FILTERS[:3] for r in reports[n]), key=lambda r: r.key)
    out: dict[str, F64] = {}
    for name, reps in feeds.items():
        fuser = Fuser(FuserConfig(compute_impacts=False))
        res = np.full((times.size, 4), np.nan)
        k = 0
        ti = 0
        rep_t = np.array([r.time for r in reps])
        for sec in np.arange(t0 + 1.0, truth.impact_time + 1.0, 1.0):
            hi = int(np.searchsorted(rep_t, sec, side="left"))
            fuser.ingest(reps[k:hi], float(sec))
            k = hi
            while ti < times.size and t0 + times[ti] <= sec:
                tracks = [t for t in fuser.tracks() if t.status is TrackStatus.CONFIRMED]
                e, dt, inside = _evaluate(_primary(tracks), truth)
                res[ti] = (e, dt, inside, len(tracks))
                ti += 1
        out[name] = res
    return out


def _nan_stats(arr: F64) -> tuple[F64, F64, F64, F64]:
    """RMS impact error, RMS time error, ellipse coverage, fraction of runs with a track."""
    err = arr[..., 0]
    have = np.isfinite(err).mean(axis=0)
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns (no track yet)
        rms = np.sqrt(np.nanmean(err**2, axis=0))
        rms_t = np.sqrt(np.nanmean(arr[..., 1] ** 2, axis=0))
        cover = np.nanmean(arr[..., 2], axis=0)
    rms[have < 0.5] = np.nan
    rms_t[have < 0.5] = np.nan
    return rms, rms_t, cover, have


def _floor(truth: sim.Trajectory, times: F64) -> F64:
    """Impact error (km) of a vacuum prediction from the TRUE state: the drag-mismatch floor."""
    out = np.full(times.size, np.nan)
    for i, t in enumerate(times):
        if t + truth.launch.t0 >= truth.burnout_time:
            lat, lon, _ = impact_point(truth.state_at(truth.launch.t0 + t))
            out[i] = float(great_circle_km(lat, lon, truth.impact_lat, truth.impact_lon))
    return out


def _prior_floor(truth: sim.Trajectory, times: F64) -> F64:
    """Impact error (km) of the filter's prediction from the TRUE state with the prior of the
    ballistic coefficient (``ImmParams.log_beta_prior``, ``log_beta_sigma``): the common floor of
    every filter until the body has flown through enough air to tell its drag."""
    imm = ImmParams()
    out = np.full(times.size, np.nan)
    keep = [i for i, t in enumerate(times) if t + truth.launch.t0 >= truth.burnout_time]
    if not keep:
        return out
    x = np.array([truth.state_at(truth.launch.t0 + times[i]) for i in keep])
    x7 = np.concatenate([x, np.full((len(keep), 1), imm.log_beta_prior)], axis=1)
    p7 = np.zeros((len(keep), 7, 7))
    p7[:, 6, 6] = imm.log_beta_sigma**2
    for i, imp in zip(keep, propagate_to_impact_many(x7, p7, np.zeros(len(keep))), strict=True):
        if imp is not None:
            out[i] = float(great_circle_km(imp.lat, imp.lon, truth.impact_lat, truth.impact_lon))
    return out


@functools.cache
def _truth(key: str) -> sim.Trajectory:
    return sim.fly(sim.launch_of(CLASS_KEYS[key]))


def _one_run(work: tuple[str, int, int, F64]) -> dict[str, F64]:
    """Run ``r`` of class ``key``: its own noise draws (``[seed, r, class]``), every filter."""
    key, seed, r, times = work
    truth = _truth(key)
    rng = np.random.default_rng([seed, r, list(CLASS_KEYS).index(key)])
    reports = {s.nation: sim.observe(truth, s, rng) for s in sim.SENSORS}
    return _fly_once(truth, reports, times)


def _accuracy(opts: Options) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for key in opts.classes:
        cls = CLASS_KEYS[key]
        truth = _truth(key)
        step = EVAL_STEP_S[key] * (2 if opts.quick else 1)
        times = np.arange(step, truth.impact_time - truth.launch.t0, step)
        runs: dict[str, list[F64]] = {n: [] for n in FILTERS}
        work = [(key, opts.seed, r, times) for r in range(opts.runs)]
        if opts.jobs > 1 and opts.runs > 1:
            with concurrent.futures.ProcessPoolExecutor(
                opts.jobs, initializer=single_threaded_blas
            ) as pool:
                done = list(pool.map(_one_run, work, chunksize=4))
        else:
            done = [_one_run(w) for w in work]
        for one in done:
            for name, res in one.items():
                runs[name].append(res)
        table: dict[str, dict[str, list[Any]]] = {}
        for name in FILTERS:
            arr = np.stack(runs[name])  # (runs, times, 4)
            rms, rms_t, cover, have = _nan_stats(arr)
            table[name] = {
                "impact_err_km_rms": rms.tolist(),
                "impact_time_err_s_rms": rms_t.tolist(),
                "inside_95": cover.tolist(),
                "have_track": have.tolist(),
                "tracks_max": np.max(np.nan_to_num(arr[..., 3]), axis=0).tolist(),
                # Per run (runs, times), for the paired comparison: common random numbers.
                "impact_err_km_runs": arr[..., 0].tolist(),
            }
        results[key] = {
            "class": cls.name,
            "range_km": truth.range_km,
            "apogee_km": truth.apogee_m / 1e3,
            "flight_s": truth.impact_time - truth.launch.t0,
            "burnout_s": truth.burnout_time - truth.launch.t0,
            "impact": [truth.impact_lat, truth.impact_lon],
            "times_s": times.tolist(),
            "drag_floor_km": _floor(truth, times).tolist(),
            "prior_floor_km": _prior_floor(truth, times).tolist(),
            "filters": table,
        }
        results[key]["comparison"] = _compare(results[key], seed=opts.seed)
    return results


#: Bootstrap resamples of the runs for the confidence of each comparison.
N_BOOT = 4000
#: A comparison is "confident" when the bootstrap puts fused below the best single this often.
CONFIDENCE = 0.95


def _compare(res: dict[str, Any], seed: int = 0) -> list[dict[str, Any]]:
    """Per evaluation time: fused against the best single sensor (the single-sensor filter with
    the lowest RMS impact error at that time, among those with a track in at least half of the
    runs).

    ``status``: ``better`` / ``worse`` (fused RMS below / not below the best single's, where at
    least one single-sensor filter has a track and the fused filter is not that filter), ``equal,
    single source`` (only one sensor's filter has a track and the fused filter gave exactly its
    numbers in every run: it was fed the same reports, nobody else had seen the missile),
    ``fused only`` (no single-sensor filter has a track yet), ``no track``. ``p_better``: the
    fraction of bootstrap resamples of the runs (paired: the same runs for every filter, which
    saw the same noise draws) in which the fused RMS is below the lowest single RMS, the best
    single being chosen again in each resample.
    """
    f = res["filters"]
    err = {n: np.array(f[n]["impact_err_km_runs"], dtype=float) for n in FILTERS}  # (runs, t)
    rms = {n: np.array(f[n]["impact_err_km_rms"], dtype=float) for n in FILTERS}
    runs = err["fused"].shape[0]
    rng = np.random.default_rng(seed)
    boot = rng.integers(0, runs, size=(N_BOOT, runs))
    out: list[dict[str, Any]] = []
    for i, t in enumerate(res["times_s"]):
        singles = [n for n in FILTERS[:3] if np.isfinite(rms[n][i])]
        row: dict[str, Any] = {"t_s": t, "singles": singles, "fused_km": rms["fused"][i]}
        if not np.isfinite(rms["fused"][i]):
            row["status"] = "no track" if not singles else "worse"
            out.append(row)
            continue
        if not singles:
            row["status"] = "fused only"
            out.append(row)
            continue
        best = min(singles, key=lambda n: rms[n][i])
        row["best"], row["best_km"] = best, rms[best][i]
        row["ratio"] = rms["fused"][i] / rms[best][i]
        a, b = err["fused"][:, i], err[best][:, i]
        same = np.array_equal(np.isnan(a), np.isnan(b)) and np.array_equal(
            a[np.isfinite(a)], b[np.isfinite(b)]
        )
        if len(singles) == 1 and same:
            row["status"] = "equal, single source"
            out.append(row)
            continue
        with warnings.catch_warnings(), np.errstate(invalid="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            fb = np.sqrt(np.nanmean(a[boot] ** 2, axis=1))
            sb = np.min(
                [np.sqrt(np.nanmean(err[n][:, i][boot] ** 2, axis=1)) for n in singles], axis=0
            )
        row["p_better"] = float(np.mean(fb < sb))
        row["status"] = "better" if rms["fused"][i] < rms[best][i] else "worse"
        out.append(row)
    return out


def _verdicts(acc: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, res in acc.items():
        t = np.array(res["times_s"])
        f = res["filters"]
        fused = np.array(f["fused"]["impact_err_km_rms"], dtype=float)
        cmp = res["comparison"]
        cover = np.array(f["fused"]["inside_95"], dtype=float)
        after_bo = t >= res["burnout_s"]
        several = [c for c in cmp if len(c["singles"]) >= 2 and "ratio" in c]
        counted = [c for c in cmp if c["status"] in ("better", "worse")]
        v: dict[str, Any] = {
            "runs": len(f["fused"]["impact_err_km_runs"]),
            "times": len(cmp),
            "times_with_2plus_sensors": len(several),
            "fused_better_than_best_single_2plus": sum(c["status"] == "better" for c in several),
            "fused_better_than_best_single": sum(c["status"] == "better" for c in counted),
            "times_compared": len(counted),
            "confident_better": sum(
                c["status"] == "better" and c["p_better"] >= CONFIDENCE for c in counted
            ),
            "fused_worse_at_s": [c["t_s"] for c in counted if c["status"] == "worse"],
            "equal_single_source_at_s": [
                c["t_s"] for c in cmp if c["status"] == "equal, single source"
            ],
            "fused_only_at_s": [c["t_s"] for c in cmp if c["status"] == "fused only"],
            "min_p_better": min((c["p_better"] for c in counted), default=math.nan),
            "median_ratio_fused_to_best_single": float(np.median([c["ratio"] for c in counted]))
            if counted
            else math.nan,
            "max_ratio_fused_to_best_single": max((c["ratio"] for c in counted), default=math.nan),
            "ellipse_coverage_after_burnout": float(np.nanmean(cover[after_bo])),
        }
        if key == "mrbm":
            at = res["burnout_s"] + 150.0
            i = int(np.searchsorted(t, at))
            if i < t.size:
                v["fused_err_km_150s_after_burnout"] = float(fused[i])
                v["at_s"] = float(t[i])
        out[key] = v
    return out


# ------------------------------------------------------------------------------ throughput


def _salvo(n: int, seed: int) -> list[Report]:
    """A raid of ``n`` missiles of mixed classes over about five minutes: ``ceil(n / 4)``
    distinct flights (four launch areas, jittered pads and azimuths), each flown by up to four
    launchers from its pad at least 60 s apart."""
    rng = np.random.default_rng(seed)
    sites = [(39.20, 125.67), (40.00, 124.60), (38.70, 125.30), (39.70, 127.40)]
    mix = [sim.SRBM, sim.SRBM, sim.MRBM, sim.MRBM, sim.IRBM_LOFTED, sim.ICBM_LOFTED]
    base = []
    for i in range(math.ceil(n / 4)):
        lat, lon = sites[i % len(sites)]
        cls = mix[i % len(mix)]
        base.append(
            sim.fly(
                sim.Launch(
                    cls,
                    lat + float(rng.uniform(-0.3, 0.3)),
                    lon + float(rng.uniform(-0.3, 0.3)),
                    cls.azimuth_deg + float(rng.uniform(-15, 15)),
                    0.0,
                    f"b{i:03d}",
                )
            )
        )
    trajs = [
        base[i // 4].shifted(75.0 * (i % 4) + float(rng.uniform(0.0, 15.0)), f"m{i:03d}")
        for i in range(n)
    ]
    return sim.observe_all(trajs, sim.SENSORS, rng)


def _throughput(opts: Options) -> dict[str, Any]:
    reports = _salvo(opts.salvo, opts.seed)
    rep_t = np.array([r.time for r in reports])
    out: dict[str, Any] = {"missiles": opts.salvo, "reports": len(reports), "repeat": opts.repeat}
    span = float(rep_t[-1] - rep_t[0])
    for label, batch_s, cfg in (
        ("fuse_1s_batches", 1.0, FuserConfig(compute_impacts=False)),
        ("fuse_5s_batches", 5.0, FuserConfig(compute_impacts=False)),
        ("fuse_and_impacts_1s_batches", 1.0, FuserConfig()),
    ):
        runs = [_fuse_salvo(reports, rep_t, batch_s, cfg) for _ in range(opts.repeat)]
        best = min(runs, key=lambda r: r["cpu_s"])
        cpu = sorted(r["cpu_s"] for r in runs)
        out[label] = {
            "batch_s": batch_s,
            "scenario_s": span,
            "core_fraction_in_real_time": best["cpu_s"] / span,
            "worst_batch_cpu_s": best["worst_batch_cpu_s"],
            "wall_s": best["wall_s"],
            "cpu_s": best["cpu_s"],
            "reports_per_s_wall": len(reports) / best["wall_s"],
            "reports_per_s_cpu": len(reports) / best["cpu_s"],
            "reports_per_s_cpu_median": len(reports) / cpu[len(cpu) // 2],
            "reports_per_s_cpu_runs": [len(reports) / r["cpu_s"] for r in runs],
            "confirmed_tracks": best["confirmed_tracks"],
            "max_live_tracks": best["max_live_tracks"],
            "impact_interval_s": cfg.impact_interval_s if cfg.compute_impacts else None,
            "stats": best["stats"],
        }
    out["impact_ms_per_track"] = _impact_cost()
    out["territory_us_per_query"] = _territory_cost(opts.seed)
    return out


def _fuse_salvo(
    reports: list[Report], rep_t: F64, batch_s: float, cfg: FuserConfig
) -> dict[str, Any]:
    """One fuser fed the salvo in ``batch_s`` windows: CPU and wall seconds inside ``ingest``
    (in all, and of the busiest window: above ``batch_s`` the fuser falls behind a live feed),
    confirmed and live track counts, the fuser's counters."""
    fuser = Fuser(cfg)
    k = 0
    wall = cpu = worst = 0.0
    max_live = 0
    confirmed: set[str] = set()
    for sec in np.arange(math.floor(rep_t[0]) + batch_s, rep_t[-1] + 2 * batch_s, batch_s):
        hi = int(np.searchsorted(rep_t, sec, side="left"))
        batch = reports[k:hi]
        k = hi
        t0, c0 = time.perf_counter(), time.process_time()
        changed = fuser.ingest(batch, float(sec))
        wall += time.perf_counter() - t0
        used = time.process_time() - c0
        cpu += used
        worst = max(worst, used)
        confirmed.update(t.id for t in changed if t.status is TrackStatus.CONFIRMED)
        max_live = max(max_live, len(fuser.tracks()))
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "worst_batch_cpu_s": worst,
        "confirmed_tracks": len(confirmed),
        "max_live_tracks": max_live,
        "stats": dict(fuser.stats),
    }


def _impact_cost() -> dict[str, float]:
    """Milliseconds per track of ``propagate_to_impact_many`` for 50 tracks at once, from
    mid-flight states of each class, as the fuser predicts them: ``[r, v, ln beta]`` with the
    prior of ``ln beta``, every point flying with its drag."""
    imm = ImmParams()
    out: dict[str, float] = {}
    for key, cls in CLASS_KEYS.items():
        truth = sim.fly(sim.launch_of(cls))
        x = truth.state_at(0.5 * (truth.burnout_time + truth.impact_time))
        xs = np.repeat(np.append(x, imm.log_beta_prior)[None], 50, axis=0)
        p7 = np.diag([100.0**2] * 3 + [1.0] * 3 + [imm.log_beta_sigma**2])
        ps = np.repeat(p7[None], 50, axis=0)
        t0 = time.process_time()
        propagate_to_impact_many(xs, ps, np.zeros(50))
        out[key] = (time.process_time() - t0) / 50 * 1000.0
    return out


def _territory_cost(seed: int, n: int = 2_000) -> float:
    """Microseconds of CPU per ``territory_of`` look-up (nation and zone of a predicted impact
    point), at random points of the Western Pacific (land, territorial sea, EEZ, high seas),
    after the table is loaded."""
    load_territory()
    rng = np.random.default_rng(seed)
    pts = np.stack([rng.uniform(20.0, 50.0, n), rng.uniform(115.0, 150.0, n)], -1).tolist()
    t0 = time.process_time()
    for lat, lon in pts:
        territory_of(lat, lon)
    return (time.process_time() - t0) / n * 1e6


# ------------------------------------------------------------------------------ report


def _fmt(v: float, spec: str, width: int) -> str:
    return f"{v:{width}{spec}}" if v == v else f"{'-':>{width}}"


def _table(acc: dict[str, Any]) -> str:
    """Per class and evaluation time: RMS impact error of each filter, the fused filter's time
    error, ellipse coverage and track count, the vacuum floor, then the comparison with the best
    single sensor (its name, fused / best, bootstrap probability that fused is better, status)."""
    lines: list[str] = []
    for res in acc.values():
        lines.append(
            f"\n{res['class']}: range {res['range_km']:.0f} km, apogee {res['apogee_km']:.0f} km, "
            f"flight {res['flight_s']:.0f} s, burn-out {res['burnout_s']:.0f} s"
        )
        head = "  t_s " + "".join(f"{n + ' km':>10}" for n in FILTERS)
        head += f"{'fused dt_s':>11}{'in95':>6}{'trk':>4}{'floor km':>9}"
        head += f"  {'best':>4}{'ratio':>6}{'P(better)':>10}  comparison"
        lines.append(head)
        f = res["filters"]
        for i, t in enumerate(res["times_s"]):
            row = f"{t:5.0f} "
            for n in FILTERS:
                row += _fmt(f[n]["impact_err_km_rms"][i], ".2f", 10)
            row += _fmt(f["fused"]["impact_time_err_s_rms"][i], ".1f", 11)
            row += _fmt(f["fused"]["inside_95"][i], ".2f", 6)
            row += _fmt(f["fused"]["tracks_max"][i], ".0f", 4)
            row += _fmt(res["drag_floor_km"][i], ".3f", 9)
            c = res["comparison"][i]
            row += f"  {c.get('best', '-'):>4}"
            row += _fmt(c.get("ratio", math.nan), ".3f", 6)
            row += _fmt(c.get("p_better", math.nan), ".3f", 10)
            row += f"  {c['status']}"
            lines.append(row)
    return "\n".join(lines)


def _md(v: Any, spec: str) -> str:
    return "–" if v is None or v != v else f"{v:{spec}}"


def markdown(acc: dict[str, Any], verdicts: dict[str, Any]) -> str:
    """The docs' tables (``docs/tracks.md``, "Benchmark"): per class the count of compared times
    where fused beats the best single sensor, then every time in a collapsed table."""
    out: list[str] = [
        "| class | fused < best single | of which P(better) ≥ 0.95 | equal, single source | "
        "not better at (s) | median fused / best | truth in fused 95 % ellipse after burn-out |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, res in acc.items():
        v = verdicts[key]
        worse = ", ".join(f"{t:.0f}" for t in v["fused_worse_at_s"]) or "–"
        out.append(
            f"| {res['class']} | **{v['fused_better_than_best_single']}/{v['times_compared']}** | "
            f"{v['confident_better']} | {len(v['equal_single_source_at_s'])} | {worse} | "
            f"{v['median_ratio_fused_to_best_single']:.2f} | "
            f"{100 * v['ellipse_coverage_after_burnout']:.0f} % |"
        )
    out.append("")
    for key, res in acc.items():
        v = verdicts[key]
        cmp = res["comparison"]
        no_track = sum(c["status"] == "no track" for c in cmp)
        out.append(
            f"**{res['class']}** (burn-out {res['burnout_s']:.0f} s, impact at "
            f"{res['flight_s']:.0f} s): fused below the best single sensor at "
            f"**{v['fused_better_than_best_single']}/{v['times_compared']}** compared times "
            f"({v['confident_better']} of them with P(better) ≥ {CONFIDENCE:.2f}); equal, single "
            f"source: {len(v['equal_single_source_at_s'])}; no track yet: {no_track}.\n"
        )
        out.append("<details><summary>per time</summary>\n")
        out.append(
            "| s | USA km | JPN km | KOR km | **fused km** | fused time err s | in 95 % | "
            "vacuum floor km | drag-prior floor km | best single | fused / best | P(better) | "
            "comparison |"
        )
        out.append("|" + "---|" * 13)
        f = res["filters"]
        for i, t in enumerate(res["times_s"]):
            c = cmp[i]
            km = [_md(f[n]["impact_err_km_rms"][i], ".3f") for n in FILTERS]
            cover = f["fused"]["inside_95"][i]
            row = [
                f"{t:.0f}",
                *km[:3],
                f"**{km[3]}**",
                _md(abs(f["fused"]["impact_time_err_s_rms"][i]), ".1f"),
                "–" if cover != cover else f"{100 * cover:.0f}%",
                _md(res["drag_floor_km"][i], ".3f"),
                _md(res.get("prior_floor_km", [math.nan] * len(cmp))[i], ".3f"),
                c.get("best", "–"),
                _md(c.get("ratio"), ".3f"),
                _md(c.get("p_better"), ".2f"),
                c["status"],
            ]
            out.append("| " + " | ".join(row) + " |")
        out.append("\n</details>\n")
    return "\n".join(out)


def _plot(acc: dict[str, Any], out: Path, dpi: int = 110) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = list(acc)
    fig, axes = plt.subplots(2, len(keys), figsize=(4.2 * len(keys), 7), squeeze=False)
    styles = {"USA": "C0--", "JPN": "C1--", "KOR": "C2--", "fused": "k-"}
    for j, key in enumerate(keys):
        res = acc[key]
        t = np.array(res["times_s"])
        for n in FILTERS:
            e = np.array(res["filters"][n]["impact_err_km_rms"], dtype=float)
            dt = np.abs(np.array(res["filters"][n]["impact_time_err_s_rms"], dtype=float))
            lw = 2.0 if n == "fused" else 1.2
            axes[0, j].semilogy(t, e, styles[n], label=n, lw=lw)
            axes[1, j].semilogy(t, dt, styles[n], label=n, lw=lw)
        floor = np.array(res["drag_floor_km"], dtype=float)
        axes[0, j].semilogy(t, floor, color="grey", ls=":", lw=1.0, label="vacuum from truth")
        # The comparison per time, along the bottom: fused below the best single sensor (green),
        # not below it (red), the same filter as the only single sensor with a track (grey).
        marks = {"better": ("C2", "^"), "worse": ("C3", "v"), "equal, single source": ("0.5", "o")}
        counts = {k: 0 for k in marks}
        for c in res["comparison"]:
            if c["status"] in marks:
                color, marker = marks[c["status"]]
                counts[c["status"]] += 1
                axes[0, j].plot(
                    [c["t_s"]], [0.0], marker=marker, color=color, ms=5, ls="none",
                    transform=axes[0, j].get_xaxis_transform(), clip_on=False,
                )  # fmt: skip
        axes[0, j].set_title(
            f"{res['class']}: fused < best single at {counts['better']}/"
            f"{counts['better'] + counts['worse']} times",
            fontsize=10,
        )
        for ax in axes[:, j]:
            ax.axvline(res["burnout_s"], color="grey", lw=0.8, ls=":")
            ax.grid(True, which="both", alpha=0.3)
            ax.set_xlabel("seconds since launch")
        axes[0, j].set_ylabel("impact point error, RMS (km)")
        axes[1, j].set_ylabel("impact time error, RMS (s)")
    axes[0, 0].legend()
    fig.suptitle(
        "RMS over the runs. Along the bottom, per time: ▲ fused below the best single sensor, "
        "▼ not below it, ● equal (only one sensor has a track: the same filter)",
        fontsize=9,
    )
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    paths = [str(out / "tracks_accuracy.png"), str(out / "tracks_accuracy.svg")]
    for p in paths:
        fig.savefig(p, dpi=dpi)
    plt.close(fig)
    return paths


def _report_throughput(thr: dict[str, Any]) -> None:
    print(
        f"\nthroughput: {thr['reports']:,} reports of {thr['missiles']} missiles; "
        f"best of {thr['repeat']} runs (median)"
    )
    for label in ("fuse_1s_batches", "fuse_5s_batches", "fuse_and_impacts_1s_batches"):
        t = thr[label]
        print(
            f"  {label:28s} {t['reports_per_s_cpu']:8,.0f} reports/s of CPU "
            f"({t['reports_per_s_cpu_median']:,.0f}; {t['reports_per_s_wall']:,.0f} wall); "
            "in real time "
            f"{100 * t['core_fraction_in_real_time']:.1f} % of a core, the busiest batch "
            f"{1000 * t['worst_batch_cpu_s']:,.0f} ms of {1000 * t['batch_s']:,.0f}; "
            "confirmed tracks "
            f"{t['confirmed_tracks']}, max live {t['max_live_tracks']}, initiated "
            f"{t['stats']['tracks_initiated']}, merged {t['stats']['tracks_merged']}"
            + (
                f"; {t['stats']['impacts_predicted']:,} impact predictions in "
                f"{t['stats']['impact_batches']:,} batches"
                if t["stats"].get("impacts_predicted")
                else ""
            )
        )
    cost = ", ".join(f"{k} {v:.2f}" for k, v in thr["impact_ms_per_track"].items())
    print(f"  impact prediction, ms of CPU per track (50 at once): {cost}")
    print(
        "  territory of an impact point, µs of CPU per look-up: "
        f"{thr['territory_us_per_query']:.0f}"
    )


def run(args: Any) -> dict[str, Any]:
    """Run the benchmark; prints tables, writes JSON and plots to ``out``; returns the figures.

    ``args.part``: ``all`` (default), ``accuracy`` or ``throughput``.
    """
    single_threaded_blas()  # as the node runs the fuser (hotline.tracks.blas)
    opts = _options(args)
    get = args.get if isinstance(args, Mapping) else lambda k, d=None: getattr(args, k, d)
    part = str(get("part", None) or "all")
    t0 = time.perf_counter()
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "options": {
            "runs": opts.runs,
            "seed": opts.seed,
            "classes": list(opts.classes),
            "quick": opts.quick,
            "salvo": opts.salvo,
            "repeat": opts.repeat,
            "jobs": opts.jobs,
            "part": part,
        },
        "machine": {
            "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "cpus": os.cpu_count(),
            "load_avg_1m_at_start": os.getloadavg()[0],
            "blas_threads": 1,
        },
    }
    raw: dict[str, Any] = {}
    if part in ("all", "accuracy"):
        acc = _accuracy(opts)
        result["accuracy"] = acc
        result["verdicts"] = _verdicts(acc)
        print(_table(acc))
        print("\nverdicts:", json.dumps(result["verdicts"], indent=1))
        if opts.plot:
            result["plots"] = _plot(acc, out)
        (out / "tracks_tables.md").write_text(markdown(acc, result["verdicts"]))
        # The per-run errors (the paired comparison's raw data) go to the artifacts only.
        for key, res in acc.items():
            for name, f in res["filters"].items():
                raw[f"{key}/{name}"] = f.pop("impact_err_km_runs")
    if part in ("all", "throughput"):
        result["throughput"] = _throughput(opts)
        _report_throughput(result["throughput"])
    result["wall_s"] = time.perf_counter() - t0
    name = "tracks_bench.json" if part == "all" else f"tracks_bench_{part}.json"
    (out / name).write_text(json.dumps({**result, "impact_err_km_runs": raw}, default=float))
    print(f"wrote {out / name}" + (" and plots" if "plots" in result else ""))
    return result


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number of processes")
    return value


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=None, help="Monte Carlo runs per class")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--classes", default=",".join(DEFAULT_CLASSES))
    ap.add_argument("--salvo", type=int, default=None, help="missiles in the throughput raid")
    ap.add_argument(
        "--repeat", type=int, default=None, help="throughput runs per configuration (best kept)"
    )
    ap.add_argument("--part", choices=("all", "accuracy", "throughput"), default="all")
    ap.add_argument("--quick", action="store_true", help="fewer runs and evaluation times")
    ap.add_argument("--no-plot", dest="no_plot", action="store_true")
    ap.add_argument(
        "--jobs", type=_positive, default=None, help="worker processes for the accuracy runs [CPUs]"
    )
    run(ap.parse_args(argv))


if __name__ == "__main__":
    main()
