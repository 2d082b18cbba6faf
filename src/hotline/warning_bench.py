"""Throughput of ONE node's warning shell: reports ingested durably and fused per second.

What ``benchmarks/tracks_bench.py`` (the fuser alone) does not measure: the node's path around
the fuser. The node is the track authority (USA, camp-david) with its real SQLite store (group
commit, ``synchronous=FULL``), signer, hotline and warning services; no HTTP. A salvo of
simulated missiles (``hotline.tracks.simulate``) is fed in ``batch_s`` windows of report time,
as a live feed would be, with the node clock (a ``FakeClock``) at the window's end:

* USA's reports through ``WarningService.submit`` (check, sign, ONE durable job per batch);
* JPN's and KOR's as their nodes would federate them (signed ``ReportsReceived`` appended by
  the projector: the inbound path minus the network);
* then one fusion cycle (read back, fuse, track events, alerts, FLASH messages, commit).

``run(missiles=..., seed=..., batch_s=...) -> dict`` returns the figures (``hotline bench
tracks`` can call it beside the fuser benchmark); ``python -m hotline.warning_bench`` prints
them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

from hotline.bus.memory import MemoryBus
from hotline.compacts import load_compact
from hotline.domain.events import Envelope
from hotline.domain.ids import EventId, NationCode
from hotline.domain.reports import ReportIn
from hotline.domain.sharing import raw_rel_to
from hotline.domain.warning_events import ReportRecord, ReportsReceived
from hotline.ports import FakeClock, new_id
from hotline.service.hotline import HotlineService
from hotline.service.warning import WarningService
from hotline.signing import Signer, generate_signing_key
from hotline.store.sqlite import SqliteStore
from hotline.tracks.blas import single_threaded_blas
from hotline.tracks.fusion import Report


def salvo(missiles: int, seed: int) -> list[Report]:
    """``missiles`` mixed-class launches over 5 minutes from four notional launch areas."""
    import numpy as np

    from hotline.tracks import simulate as sim

    rng = np.random.default_rng(seed)
    sites = [(39.20, 125.67), (40.00, 124.60), (38.70, 125.30), (39.70, 127.40)]
    mix = [sim.SRBM, sim.MRBM, sim.MRBM, sim.IRBM_LOFTED]
    base = []
    for i in range(min(missiles, 8)):
        lat, lon = sites[i % len(sites)]
        az = 90.0 + float(rng.uniform(-15, 15))
        base.append(sim.fly(sim.launch_of(mix[i % len(mix)], lat=lat, lon=lon, azimuth_deg=az)))
    trajs = []
    for i in range(missiles):
        b = base[i % len(base)]
        dt = float(rng.uniform(0.0, 300.0))
        shifted = getattr(b, "shifted", None)
        trajs.append(shifted(dt, f"m{i:03d}") if shifted else b)
    return sim.observe_all(trajs, sim.SENSORS, rng)


async def measure(reports: Sequence[Report], root: Path, batch_s: float = 1.0) -> dict[str, Any]:
    reports = sorted(reports, key=lambda r: r.key)
    compact = load_compact("camp-david")
    usa = NationCode("USA")
    clock = FakeClock(start=reports[0].time)
    store = SqliteStore(root / "bench.db")
    store.start()
    try:
        bus = MemoryBus()
        hotline = HotlineService(
            compact, usa, store, bus, Signer("USA", generate_signing_key()), clock
        )
        svc = WarningService(compact, usa, store, bus, hotline, clock)
        svc.start()
        peers = {n: Signer(n, generate_signing_key()) for n in ("JPN", "KOR")}
        rel_to = {n: raw_rel_to(compact.sharing, NationCode(n), compact.nations) for n in peers}
        ingest_s = fuse_s = 0.0
        k = 0
        t = reports[0].time
        while k < len(reports):
            t += batch_s
            j = k
            while j < len(reports) and reports[j].time < t:
                j += 1
            batch, k = reports[k:j], j
            clock.t = t
            started = time.perf_counter()
            own = [_report_in(r) for r in batch if r.nation == "USA"]
            if own:
                await svc.submit(own)
            envs: list[Envelope] = []
            for nation, signer in peers.items():
                records = [_record(r) for r in batch if r.nation == nation]
                for lo in range(0, len(records), svc.reports_per_event):
                    chunk = records[lo : lo + svc.reports_per_event]
                    envs.append(
                        _peer_envelope(signer, NationCode(nation), chunk, t, rel_to[nation])
                    )
            if envs:
                await store.run(partial(hotline.projector.append, envs=envs))
            ingest_s += time.perf_counter() - started
            started = time.perf_counter()
            await svc.cycle_once()
            fuse_s += time.perf_counter() - started
        n = len(reports)
        return {
            "reports": n,
            "batches": int((reports[-1].time - reports[0].time) / batch_s) + 1,
            "ingest_s": round(ingest_s, 3),
            "fuse_s": round(fuse_s, 3),
            "fuser_only_s": round(svc.stats.fuse_seconds, 3),
            "ingest_reports_per_s": round(n / ingest_s),
            "fuse_reports_per_s": round(n / fuse_s),
            "end_to_end_reports_per_s": round(n / (ingest_s + fuse_s)),
            "track_events": svc.stats.track_events,
            "alert_events": svc.stats.alert_events,
            "flash_sent": svc.stats.flash_sent,
            "commits": store.stats.commits,
            "fuser": dict(svc.fuser.stats),
        }
    finally:
        store.close()


def _report_in(r: Report) -> ReportIn:
    return ReportIn(
        uid=r.uid, sensor=r.sensor, time=r.time, lat=r.lat, lon=r.lon, hae=r.hae, ce=r.ce, le=r.le
    )


def _record(r: Report) -> ReportRecord:
    return ReportRecord(r.uid, r.sensor, r.time, r.lat, r.lon, r.hae, r.ce, r.le)


def _peer_envelope(
    signer: Signer,
    nation: NationCode,
    records: list[ReportRecord],
    at: float,
    rel_to: tuple[NationCode, ...],
) -> Envelope:
    body = ReportsReceived(
        batch_id=new_id(f"rep-{nation.lower()}"), nation=nation, reports=tuple(records), at=at
    )
    env = Envelope(
        id=EventId(new_id(f"e-{nation.lower()}")),
        origin=nation,
        at=at,
        rel_to=rel_to,
        body=body,
    )
    return signer.sign_envelope(env)


def run(missiles: int = 20, seed: int = 1, batch_s: float = 1.0) -> dict[str, Any]:
    single_threaded_blas()  # as the node runs the fuser (hotline.tracks.blas)
    reports = salvo(missiles, seed)
    with tempfile.TemporaryDirectory(prefix="hotline-warning-bench-") as tmp:
        result = asyncio.run(measure(reports, Path(tmp), batch_s))
    result["missiles"] = missiles
    return result


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Warning shell throughput of one node.")
    ap.add_argument("--missiles", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--batch-s", type=float, default=1.0)
    args = ap.parse_args(argv)
    print(json.dumps(run(args.missiles, args.seed, args.batch_s), indent=1))


if __name__ == "__main__":
    main()
