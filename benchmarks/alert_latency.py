"""Launch-alert latency: from the sensor report that lets the coalition confirm a launch to the
FLASH on every nation's ops-centre screen.

USA, JPN and KOR run as real ``hotline node start`` processes (``hotline.demo.DemoCluster``,
mutual-TLS federation; the camp-david compact makes the USA the track authority). usa.ops,
jpn.ops and kor.ops are connected to their own nodes' live streams. Then ``--launches``
missiles, one after another: each is a notional MRBM of ``hotline.tracks.simulate`` from its
own launch point and azimuth (drawn with ``--seed`` near the notional launch area, every one
checked to be seen by the sensor), observed by ONE nation's radar (``--sensor-nation``,
default JPN: Sado's FPS-5; USA: the TPY-2 at Kyogamisaki; KOR: Green Pine), with its own CoT
uid, so each missile is a new track.

**Pacing: real time, one report per request.** Each report is posted as that nation's sensors
account to that nation's own node when its time stamp comes due, stamped at the wall clock
(the radar's own cadence: 2 s apart for Sado, 1 s for the others; nothing is compressed).
The quiet minutes of the flight before the radar first sees the missile are skipped: the
first report is posted at once. So the node fuses each report in its own cycle, as it would
live, and the fused picture is the one a live feed gives; compressing the feed would batch
several reports into one fusion cycle and make "the report that confirmed the track"
ambiguous. The launch's reports keep coming while the alert travels and for ``--tail-s``
after every ops centre has it (then the watch officers of JPN and KOR acknowledge the FLASH);
then ``--gap-s`` of quiet before the next launch. With the default JPN sensor the path is:
JPN's node stores the report (201), federates it to the USA (raw reports go to the authority
only), the USA fuses it and, on confirmation, commits the alert and its FLASH in one
transaction, shows them on usa.ops's stream and federates them to JPN and KOR, whose nodes
store them and show them to jpn.ops and kor.ops.

**What is timed.** The confirming report is the one whose time is the ``time`` of the first
``confirmed`` summary of the alert's track (the authority publishes a track only once it is
confirmed, in the same commit as the alert; the summary's ``time`` is that of the newest
report fused). From the moment that report's POST returned 201, until each ops centre's
stream shows (a) the ``{"type": "alert", "kind": "raised"}`` event and (b) the FLASH
``{"type": "message", "template": "missile-warning"}`` it names: per nation, and to all
three (the last of the three). Also: the confirming POST's own round trip, and the authority's
fusion-cycle start (the alert's ``at``) after that 201 (federation of the raw report and the
wait for the cycle). Every launch must raise exactly one alert, seen with its FLASH at all
three nations; anything else is listed in ``errors`` (and the script exits 1).
``--warmup`` launches (default 1) run first and are not in the figures (``--warmup 0`` times
the first launch after the nodes start too). ``usage``: the nodes' CPU over the
timed launches (``server_cpu_ms_per_msg`` is per report posted) and ``others_cores``.

Usage::

    python benchmarks/alert_latency.py [--launches 20] [--sensor-nation JPN] [--gap-s 3]
        [--tail-s 4] [--warmup 1] [--seed 1] [--base-port N] [--label NAME] [--json]
        [--out FILE.jsonl]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import websockets
from websockets.asyncio.client import ClientConnection

from hotline.bench import common as c
from hotline.demo import DemoCluster
from hotline.tracks import simulate as sim

NATIONS = ("USA", "JPN", "KOR")
AUTHORITY = "USA"
RADARS = {"USA": sim.US_RADAR, "JPN": sim.JPN_RADAR, "KOR": sim.KOR_RADAR}
CHANNEL = "ops.usa-jpn-kor"
#: The fuser confirms a track after its seed reports and two updates: at least 3 reports.
MIN_REPORTS = 4
#: Longest wait for the nodes, the federation links and each launch's alert, seconds.
START_TIMEOUT_S = 60.0
LINK_TIMEOUT_S = 60.0

_json = msgspec.json.Encoder()


# ---- arguments ---------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument(
        "--launches", type=c.count_arg(), default=20, help="missiles timed (default 20)"
    )
    ap.add_argument(
        "--warmup", type=c.count_arg(0, 10), default=1, help="launches first, not timed (default 1)"
    )
    ap.add_argument(
        "--sensor-nation",
        type=str.upper,
        choices=NATIONS,
        default="JPN",
        help="whose radar reports, to its own node (default JPN)",
    )
    ap.add_argument(
        "--gap-s", type=c.seconds_arg(600), default=3.0, help="quiet between launches (default 3 s)"
    )
    ap.add_argument(
        "--tail-s",
        type=c.seconds_arg(600),
        default=4.0,
        help="reports still sent after all three have the alert (default 4 s)",
    )
    ap.add_argument(
        "--timeout-s",
        type=c.seconds_arg(600, least=1.0),
        default=30.0,
        help="longest a launch waits for its alert after its first report (default 30 s)",
    )
    ap.add_argument("--seed", type=int, default=1, help="launch points and sensor noise")
    ap.add_argument("--base-port", type=c.base_port_arg, default=None, help="default: a free block")
    ap.add_argument("--label", default="", help="a label stored with the figures")
    ap.add_argument("--json", action="store_true", help="print the JSON figures only")
    ap.add_argument("--out", type=Path, default=None, help="append the JSON figures here")
    return ap.parse_args(argv)


# ---- the launches ------------------------------------------------------------------------------


@dataclass
class Launch:
    """One missile as the chosen radar reports it (times relative to its first report)."""

    index: int
    warmup: bool
    lat: float
    lon: float
    azimuth_deg: float
    uid: str
    reports: list[dict[str, Any]]
    #: Filled while it runs: per posted report (index, perf at send, perf at 201).
    posted: list[tuple[int, float, float]] = field(default_factory=list)
    start: float = 0.0
    end: float = 0.0
    shift: float = 0.0


def make_launches(n: int, sensor_nation: str, seed: int, window_s: float) -> list[Launch]:
    """``n`` MRBM shots from launch points drawn near the notional launch area, each seen by
    ``sensor_nation``'s radar with at least ``MIN_REPORTS`` reports in its first
    ``window_s``; the reports of that window, times from 0."""
    radar = RADARS[sensor_nation]
    rng = np.random.default_rng(seed)
    out: list[Launch] = []
    for _ in range(200 * n):
        if len(out) == n:
            break
        lat = round(float(rng.uniform(38.8, 40.0)), 3)
        lon = round(float(rng.uniform(124.9, 127.0)), 3)
        az = round(float(rng.uniform(84.0, 96.0)), 1)
        name = f"ab{c.RUN}-m{len(out)}"
        traj = sim.fly(sim.launch_of(sim.MRBM, lat=lat, lon=lon, azimuth_deg=az, name=name))
        reps = sim.observe(traj, radar, rng)
        if len(reps) < MIN_REPORTS:
            continue
        t0 = reps[0].time
        window = [r for r in reps if r.time - t0 <= window_s]
        reports = [
            {
                "uid": r.uid,
                "sensor": r.sensor,
                "time": round(r.time - t0, 3),
                "lat": round(r.lat, 6),
                "lon": round(r.lon, 6),
                "hae": round(r.hae, 1),
                "ce": r.ce,
                "le": r.le,
            }
            for r in window
        ]
        out.append(Launch(len(out), False, lat, lon, az, reps[0].uid, reports))
    if len(out) < n:
        raise SystemExit(f"could not draw {n} launches seen by {radar.name}")
    return out


# ---- the streams -------------------------------------------------------------------------------


@dataclass
class Seen:
    """What the ops centres' streams showed, with the perf_counter time of arrival."""

    #: (perf, nation, event) for alert events, missile-warning messages, confirmed tracks.
    events: list[tuple[float, str, dict[str, Any]]] = field(default_factory=list)
    link: dict[str, set[str]] = field(default_factory=dict)
    #: Alerts of earlier launches (a late one must not end the next launch).
    claimed: set[str] = field(default_factory=set)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def first(self, nation: str, kind: str, key: str) -> float | None:
        """When ``nation`` first showed the alert event ``kind`` with id ``key``, or the FLASH
        message ``key`` (kind ``flash``)."""
        for t, n, e in self.events:
            if n != nation:
                continue
            if kind == "flash" and e["type"] == "message" and e["id"] == key:
                return t
            if e["type"] == "alert" and e["kind"] == kind and e["alert_id"] == key:
                return t
        return None


async def receive(ws: ClientConnection, nation: str, seen: Seen, link_tag: str) -> None:
    perf = time.perf_counter
    decode = msgspec.json.decode
    with contextlib.suppress(websockets.ConnectionClosed, asyncio.CancelledError):
        async for frame in ws:
            now = perf()
            e: dict[str, Any] = decode(frame)
            kind = e.get("type")
            if kind == "alert":
                seen.events.append((now, nation, e))
            elif kind == "message":
                if e.get("template") == "missile-warning":
                    seen.events.append((now, nation, e))
                elif str(e.get("body", "")).startswith(link_tag):
                    seen.link.setdefault(nation, set()).add(str(e["nation"]))
            elif kind == "track" and e.get("status") == "confirmed":
                seen.events.append((now, nation, e))
            else:
                continue
            seen.changed.set()


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _ms_key(t: float) -> int:
    return round(t * 1000.0)


# ---- one run -----------------------------------------------------------------------------------


class Api:
    """A logged-in keep-alive connection (``c.RawHttp``) that opens a fresh one when the node
    may have closed it: the server closes a connection idle for 5 s (uvicorn's keep-alive)."""

    IDLE_S = 3.0

    def __init__(self, url: str, handle: str) -> None:
        self.url, self.handle = url, handle
        self.conn: c.RawHttp | None = None
        self.token: str | None = None
        self.used = 0.0

    async def open(self) -> str:
        self.close()
        self.conn = await c.RawHttp.open(self.url)
        if self.token is None:
            self.token = await self.conn.login(self.handle)
        self.conn.token = self.token
        self.used = time.monotonic()
        return self.token

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        conn = self.conn
        if conn is None or conn.proto.closed or time.monotonic() - self.used > self.IDLE_S:
            await self.open()
            conn = self.conn
            assert conn is not None
        try:
            return await conn.request(method, path, body)
        finally:
            self.used = time.monotonic()

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


@dataclass
class Conns:
    sensor: Api
    ops: dict[str, Api]
    ws: dict[str, ClientConnection]


async def _check_links(conns: Conns, seen: Seen, tag: str) -> None:
    """A ROUTINE from each ops centre on the trilateral channel, until every stream shows all
    three: every federation link is up before the first launch."""
    path = f"/api/v1/channels/{CHANNEL}/messages"
    for n in NATIONS:
        body = _json.encode({"precedence": "routine", "body": f"{tag} {n}"})
        status, raw = await conns.ops[n].request("POST", path, body)
        if status != 201:
            raise RuntimeError(f"link check from {n}: HTTP {status} {raw[:200]!r}")
    deadline = time.monotonic() + LINK_TIMEOUT_S
    while any(seen.link.get(n, set()) != set(NATIONS) for n in NATIONS):
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"federation links not all up within {LINK_TIMEOUT_S} s: {seen.link}"
            )
        await asyncio.sleep(0.05)


def _alerts_seen_everywhere(seen: Seen, since: float) -> str | None:
    """The message id of the first alert raised since ``since`` once every nation shows its
    raised event and FLASH, else None."""
    raised = [e for t, n, e in seen.events if t >= since and e["type"] == "alert"]
    raised = [e for e in raised if e["kind"] == "raised" and e["alert_id"] not in seen.claimed]
    if not raised:
        return None
    first = raised[0]
    alert_id, message_id = first["alert_id"], first["message_id"]
    for n in NATIONS:
        if seen.first(n, "raised", alert_id) is None or seen.first(n, "flash", message_id) is None:
            return None
    return str(message_id)


async def _fly(launch: Launch, conns: Conns, seen: Seen, args: argparse.Namespace) -> None:
    """Post ``launch``'s reports in real time until every ops centre has its alert and
    ``tail_s`` more (or ``timeout_s``); the watch officers acknowledge; then ``gap_s`` quiet."""
    lead = 0.05
    launch.shift = time.time() + lead  # report k is due (and stamped) at shift + its time
    launch.start = time.perf_counter()
    deadline = launch.start + args.timeout_s
    done_at: float | None = None
    acked = False
    for i, rep in enumerate(launch.reports):
        due = launch.shift + rep["time"]
        while True:  # sleep until due, waking on stream events (to stop the tail in time)
            now_wall = time.time()
            if now_wall >= due:
                break
            seen.changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(due - now_wall):
                    await seen.changed.wait()
            if done_at is None and _alerts_seen_everywhere(seen, launch.start):
                done_at = time.perf_counter()
        now = time.perf_counter()
        flash = _alerts_seen_everywhere(seen, launch.start)
        if done_at is None and flash is not None:
            done_at = now
        if flash is not None and not acked:
            for n in ("JPN", "KOR"):
                status, raw = await conns.ops[n].request("POST", f"/api/v1/messages/{flash}/ack")
                if status != 200:
                    raise RuntimeError(f"{n} ack of {flash}: HTTP {status} {raw[:200]!r}")
            acked = True
        if (done_at is not None and now > done_at + args.tail_s) or now > deadline:
            break
        body = _json.encode(rep | {"time": round(due, 3)})
        t_send = time.perf_counter()
        status, raw = await conns.sensor.request("POST", "/api/v1/reports", body)
        t_201 = time.perf_counter()
        if status != 201:
            raise RuntimeError(f"launch {launch.index} report {i}: HTTP {status} {raw[:200]!r}")
        launch.posted.append((i, t_send, t_201))
    # The alert may still be on its way (the reports ran out): wait for it, bounded.
    while _alerts_seen_everywhere(seen, launch.start) is None and time.perf_counter() < deadline:
        seen.changed.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.01, deadline - time.perf_counter())):
                await seen.changed.wait()
    await asyncio.sleep(args.gap_s)
    launch.end = time.perf_counter()
    seen.claimed |= {e["alert_id"] for _, _, e in seen.events if e["type"] == "alert"}


def analyse(
    launches: list[Launch], seen: Seen, wall_minus_perf: float
) -> tuple[list[dict[str, Any]], list[str]]:
    """Per launch: its alerts and, for its one alert, the latencies (see the docstring)."""
    by_time: dict[int, tuple[Launch, int]] = {}
    for la in launches:
        for i, _, _ in la.posted:
            by_time[_ms_key(la.shift + la.reports[i]["time"])] = (la, i)
    confirmed: dict[str, dict[str, Any]] = {}
    raised: dict[str, tuple[float, dict[str, Any]]] = {}
    for t, _, e in seen.events:
        if e["type"] == "track":
            confirmed.setdefault(e["id"], e)
        elif e["type"] == "alert" and e["kind"] == "raised":
            raised.setdefault(e["alert_id"], (t, e))
    alerts_of: dict[int, list[tuple[dict[str, Any], int | None]]] = {
        la.index: [] for la in launches
    }
    errors: list[str] = []
    for alert_id, (t, e) in raised.items():
        track = confirmed.get(e["track_id"])
        hit = by_time.get(_ms_key(_epoch(track["time"]))) if track is not None else None
        if hit is not None:
            alerts_of[hit[0].index].append((e, hit[1]))
            continue
        # No confirmed summary matched a posted report: attribute by time window.
        owner = next((la for la in launches if la.start <= t <= la.end), None)
        if owner is None:
            errors.append(f"alert {alert_id} raised outside every launch")
        else:
            alerts_of[owner.index].append((e, None))
    runs: list[dict[str, Any]] = []
    for la in launches:
        mine = alerts_of[la.index]
        name = f"{'warm-up ' if la.warmup else ''}launch {la.index}"
        run: dict[str, Any] = {
            "launch": la.index,
            "warmup": la.warmup,
            "site": {"lat": la.lat, "lon": la.lon, "azimuth_deg": la.azimuth_deg},
            "uid": la.uid,
            "reports_posted": len(la.posted),
            "alerts": len(mine),
            "ok": False,
        }
        runs.append(run)
        if len(mine) != 1:
            errors.append(f"{name}: {len(mine)} alerts raised, not 1")
            continue
        alert, idx = mine[0]
        if idx is None:
            errors.append(f"{name}: its alert's track matches none of its reports")
            continue
        _, t_send, t_201 = next(p for p in la.posted if p[0] == idx)
        track = confirmed[alert["track_id"]]
        at = _epoch(alert["at"]) - wall_minus_perf
        run |= {
            "alert_id": alert["alert_id"],
            "track_id": alert["track_id"],
            "phase": alert["phase"],
            "confirm_index": idx,
            "confirm_after_first_report_s": la.reports[idx]["time"],
            "confirm_n_reports": track["n_reports"],
            "confirm_post_ms": round((t_201 - t_send) * 1000, 3),
            "authority_cycle_start_ms": round((at - t_201) * 1000, 3),
            "raised_ms": {},
            "flash_ms": {},
            # perf_counter seconds from the confirming report's POST (for ordering checks)
            "t": {"post_sent": 0.0, "post_201": round(t_201 - t_send, 6)},
        }
        run["t"]["alert_at"] = round(at - t_send, 6)
        for n in NATIONS:
            for kind, key, col in (
                ("raised", alert["alert_id"], "raised_ms"),
                ("flash", alert["message_id"], "flash_ms"),
            ):
                shown = seen.first(n, kind, key)
                run[col][n] = None if shown is None else round((shown - t_201) * 1000, 3)
                run["t"][f"{n}_{kind}"] = None if shown is None else round(shown - t_send, 6)
                if shown is None:
                    errors.append(f"{name}: {n} never showed the {kind} {key}")
        for col in ("raised_ms", "flash_ms"):
            vals = list(run[col].values())
            run[col]["all"] = None if None in vals else max(vals)
        run["ok"] = run["raised_ms"]["all"] is not None and run["flash_ms"]["all"] is not None
        if run["ok"]:
            # Where the time went: the authority's cycle (fuse, predict, commit, show), then
            # the federation of the alert to the other two and their commits.
            first = min(run["raised_ms"][AUTHORITY], run["flash_ms"][AUTHORITY])
            last = max(run["raised_ms"]["all"], run["flash_ms"]["all"])
            run["authority_cycle_to_screen_ms"] = round(first - run["authority_cycle_start_ms"], 3)
            run["authority_screen_to_last_screen_ms"] = round(last - first, 3)
    return runs, errors


async def run_bench(
    cluster: DemoCluster, launches: list[Launch], args: argparse.Namespace
) -> dict[str, Any]:
    sensor_nation = args.sensor_nation
    seen = Seen()
    tag = f"alert-latency link check {c.RUN}"
    sensor = Api(cluster.url(sensor_nation), f"{sensor_nation.lower()}.sensors")
    ops = {n: Api(cluster.url(n), f"{n.lower()}.ops") for n in NATIONS}
    ws: dict[str, ClientConnection] = {}
    tasks: list[asyncio.Task[None]] = []
    try:
        await sensor.open()
        for n in NATIONS:
            token = await ops[n].open()
            ws[n] = await c.open_stream(cluster.url(n), token)
            tasks.append(asyncio.create_task(receive(ws[n], n, seen, tag)))
        conns = Conns(sensor, ops, ws)
        await _check_links(conns, seen, tag)
        for la in launches:
            if la.warmup:
                await _fly(la, conns, seen, args)
        meter = c.Usage({n: p.pid for n, p in cluster.procs.items()}).start()
        for la in launches:
            if not la.warmup:
                await _fly(la, conns, seen, args)
        usage = meter.stop(sum(len(la.posted) for la in launches if not la.warmup))
        # Every node's own list of alerts (open and closed): one per launch, warm-up included.
        at_nodes: dict[str, int] = {}
        for n in NATIONS:
            status, raw = await ops[n].request("GET", "/api/v1/alerts?closed=true")
            if status != 200:
                raise RuntimeError(f"alerts at {n}: HTTP {status} {raw[:200]!r}")
            at_nodes[n] = len(msgspec.json.decode(raw))
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for w in ws.values():
            await w.close()
        for conn in (sensor, *ops.values()):
            conn.close()
    wall_minus_perf = time.time() - time.perf_counter()
    runs, errors = analyse(launches, seen, wall_minus_perf)
    for n, count in at_nodes.items():
        if count != len(launches):
            errors.append(f"{n}'s node lists {count} alerts for {len(launches)} launches")
    timed = [r for r in runs if not r["warmup"]]
    good = [r for r in timed if r["ok"]]
    figures: dict[str, Any] = {}
    for col in ("raised_ms", "flash_ms"):
        figures[col] = {
            who: c.summarize_ms(r[col][who] / 1000 for r in good) for who in (*NATIONS, "all")
        }
    figures["confirm_post_ms"] = c.summarize_ms(r["confirm_post_ms"] / 1000 for r in good)
    for col in (
        "authority_cycle_start_ms",
        "authority_cycle_to_screen_ms",
        "authority_screen_to_last_screen_ms",
    ):
        figures[col] = c.summarize_ms(r[col] / 1000 for r in good)
    kinds: dict[str, int] = {}
    for _, n, e in seen.events:
        if e["type"] == "alert" and n == AUTHORITY:
            kinds[e["kind"]] = kinds.get(e["kind"], 0) + 1
    return {
        "launches": len(timed),
        "exactly_one_alert": sum(r["alerts"] == 1 for r in timed),
        "ok_launches": len(good),
        "errors": errors,
        **figures,
        "confirm_index": sorted({r["confirm_index"] for r in good}),
        "alert_events_at_authority": kinds,
        "alerts_at_nodes": at_nodes,
        "usage": usage,
        "runs": runs,
    }


def _rows(result: dict[str, Any]) -> list[tuple[str, str]]:
    rows = [
        ("launches (exactly one alert / ok)", f"{result['launches']} "
         f"({result['exactly_one_alert']} / {result['ok_launches']})"),
    ]  # fmt: skip
    for col, what in (("raised_ms", "alert 'raised'"), ("flash_ms", "FLASH message")):
        for who in (*NATIONS, "all"):
            label = f"{what} at {who if who != 'all' else 'all three'}"
            rows.append((label, c.lat_row(result[col][who])))
    rows.append(("confirming POST round trip", c.lat_row(result["confirm_post_ms"])))
    rows.append(("201 -> authority cycle start", c.lat_row(result["authority_cycle_start_ms"])))
    rows.append(
        ("authority cycle -> its own screen", c.lat_row(result["authority_cycle_to_screen_ms"]))
    )
    rows.append(
        ("authority screen -> last screen", c.lat_row(result["authority_screen_to_last_screen_ms"]))
    )
    rows.append(("others_cores (noise)", str(result["usage"].get("others_cores"))))
    for e in result["errors"]:
        rows.append(("ERROR", e))
    return rows


def main(argv: Sequence[str] | None = None) -> dict[str, Any] | None:
    args = parse_args(argv)
    # Room for the tail and a few reports beyond the timeout.
    window = args.timeout_s + args.tail_s + 5.0
    launches = make_launches(args.warmup + args.launches, args.sensor_nation, args.seed, window)
    for la in launches[: args.warmup]:
        la.warmup = True
    for k, la in enumerate(launches):
        la.index = k - args.warmup  # warm-up launches -1, -2, ...; timed ones 0, 1, ...
    base = args.base_port if args.base_port is not None else c.free_base_port()
    root = Path(tempfile.mkdtemp(prefix="hotline-alert-latency-"))
    cluster = DemoCluster(base_port=base, root=root, nations=list(NATIONS))
    budget = START_TIMEOUT_S + LINK_TIMEOUT_S + 30.0
    budget += len(launches) * (args.timeout_s + args.tail_s + args.gap_s + 5.0)
    try:
        cluster.init()
        cluster.start_all()
        cluster.wait_ready(START_TIMEOUT_S)

        async def bounded() -> dict[str, Any]:
            async with asyncio.timeout(budget):
                return await run_bench(cluster, launches, args)

        figures = asyncio.run(bounded())
    finally:
        cluster.cleanup()
        shutil.rmtree(root, ignore_errors=True)
    result: dict[str, Any] = {
        "bench": "alert_latency",
        "label": args.label,
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": c.machine_facts(),
        "config": {
            "sensor_nation": args.sensor_nation,
            "sensor": RADARS[args.sensor_nation].name,
            "authority": AUTHORITY,
            "launches": args.launches,
            "warmup": args.warmup,
            "gap_s": args.gap_s,
            "tail_s": args.tail_s,
            "timeout_s": args.timeout_s,
            "seed": args.seed,
            "pacing": "real time, one report per request, stamped when sent",
            "base_port": base,
        },
        **figures,
    }
    c.emit(result, _rows(result), args.json, args.out)
    return result


if __name__ == "__main__":
    sys.exit(0 if (r := main()) is not None and not r["errors"] else 1)
