"""Recorded sensor reports: JSON Lines files, and replaying them to a node at real or faster pace.

A recording holds one report per line, as ``POST /api/v1/reports`` takes it, plus the
reporting ``nation``: ``{"nation": "JPN", "uid": "fps5-sado.m1", "sensor": "fps5-sado",
"time": 1767225660.3, "lat": ..., "lon": ..., "hae": ..., "ce": ..., "le": ...}``.

Replaying as ``<nation>.sensors`` sends that nation's reports (others are skipped: each nation's
sensors post to their own node). The recording keeps its own time differences, so the fused
kinematics are those recorded; its times are shifted so that each report is stamped at or
before the moment it is sent. The schedule is that of the whole recording (every nation's
reports), so replays of the same file to several nodes, started at the same ``start_at``,
stamp one consistent scenario. At ``--speed N`` the reports are sent N times faster, so early
ones are stamped in the past, at most ``duration * (1 - 1/N)`` seconds: that must stay within
the node's stale limit (``domain.reports.MAX_AGE_S``), and ``plan`` says so if it does not.
The node fuses on the reports' own clock (``service.warning``), so such a replay is fused as
it was flown.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hotline.domain.reports import MAX_AGE_S, parse_time
from hotline.errors import HotlineError, Invalid

#: Slack kept below the node's stale limit when planning a fast replay (s).
STALE_MARGIN_S = 30.0
_FIELDS = ("uid", "sensor", "time", "lat", "lon", "hae", "ce", "le")


@dataclass(frozen=True, slots=True)
class Plan:
    """What a replay sends: ``reports`` (shifted, in time order), each with its send offset."""

    reports: list[dict[str, Any]]
    send_at_s: list[float]
    skipped: int
    shift_s: float
    duration_s: float
    speed: float


def load_recording(path: Path) -> list[dict[str, Any]]:
    """The reports of a JSON Lines file; InputError naming ``file:line`` on a bad line."""
    out: list[dict[str, Any]] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise Invalid(f"cannot read recording {path}: {exc}", code="bad_recording") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise Invalid(f"{path}:{n}: not JSON: {exc.msg}", code="bad_recording") from None
        if not isinstance(item, dict):
            raise Invalid(f"{path}:{n}: expected a JSON object per line", code="bad_recording")
        missing = [f for f in _FIELDS if f not in item]
        if missing:
            raise Invalid(f"{path}:{n}: missing field {missing[0]!r}", code="bad_recording")
        try:
            item["time"] = parse_time(item["time"], f"{path}:{n}: time")
        except (TypeError, ValueError):
            raise Invalid(f"{path}:{n}: time is not a time", code="bad_recording") from None
        out.append(item)
    if not out:
        raise Invalid(f"{path}: no reports", code="bad_recording")
    return out


def plan(
    reports: Sequence[dict[str, Any]],
    nation: str,
    speed: float,
    start: float,
    max_age_s: float = MAX_AGE_S,
) -> Plan:
    """Select ``nation``'s reports, shift their times and schedule them from ``start`` (epoch
    s; see the module docstring). ``send_at_s`` are offsets from ``start``."""
    if not speed > 0:
        raise Invalid(f"--speed {speed} must be positive", code="bad_speed")
    mine = sorted(
        (dict(r) for r in reports if r.get("nation", nation) == nation), key=lambda r: r["time"]
    )
    skipped = len(reports) - len(mine)
    if not mine:
        raise Invalid(f"the recording has no reports of {nation}", code="no_reports")
    t0 = min(float(r["time"]) for r in reports)
    t_end = max(float(r["time"]) for r in reports)
    duration = t_end - t0
    lag = duration * (1.0 - 1.0 / speed) if speed > 1.0 else 0.0
    if lag > max_age_s - STALE_MARGIN_S:
        fastest = duration / max(duration - (max_age_s - STALE_MARGIN_S), 1e-9)
        raise Invalid(
            f"the recording spans {duration:.0f} s; at --speed {speed:g} its first reports would "
            f"be {lag:.0f} s old when sent, and the node refuses reports older than "
            f"{max_age_s:.0f} s: use --speed {fastest:.1f} or less",
            code="bad_speed",
        )
    shift = start + duration / speed - t_end
    for r in mine:
        r["time"] = round(float(r["time"]) + shift, 6)
        r.pop("nation", None)
    send = [(float(r["time"]) - shift - t0) / speed for r in mine]
    return Plan(mine, send, skipped, shift, duration, speed)


async def replay(
    node: str,
    handle: str,
    password: str,
    path: Path,
    *,
    speed: float = 1.0,
    batch_s: float = 0.5,
    start_at: float | None = None,
    on_batch: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Send the recording at ``path`` to ``node`` as ``handle`` (a ``<nation>.sensors``),
    its first report (of any nation) at ``start_at`` (default: now)."""
    from hotline.client import Client

    reports = load_recording(path)
    async with Client(node, timeout_s=30.0) as c:
        info = await c.login(handle, password)
        start = time.time() if start_at is None else start_at
        p = plan(reports, str(info["nation"]), speed, start)
        sent = batches = 0
        i = 0
        while i < len(p.reports):
            window = int(p.send_at_s[i] / batch_s)
            j = i
            while j < len(p.reports) and int(p.send_at_s[j] / batch_s) == window:
                j += 1
            due = start + p.send_at_s[j - 1]
            delay = due - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                await c.call("POST", "/api/v1/reports", json=p.reports[i:j])
            except HotlineError as exc:
                raise Invalid(f"batch {batches + 1} (reports {i + 1}..{j}): {exc}") from None
            sent += j - i
            batches += 1
            if on_batch is not None:
                on_batch(sent, len(p.reports))
            i = j
    return {
        "node": node,
        "as": handle,
        "nation": info["nation"],
        "sent": sent,
        "skipped": p.skipped,
        "batches": batches,
        "speed": speed,
        "recording_s": round(p.duration_s, 1),
        "wall_s": round(time.time() - start, 1),
    }


def simulated_recording(
    classes: Sequence[str] = ("mrbm",),
    *,
    seed: int = 7,
    t0: float = 1_767_225_600.0,
    name: str = "m1",
) -> list[dict[str, Any]]:
    """A recording made with ``hotline.tracks.simulate``: each class launched from the notional
    launch area 60 s apart, observed by the USA, JPN and KOR radars; in time order."""
    import numpy as np

    from hotline.tracks import simulate as sim

    by_name = {"srbm": sim.SRBM, "mrbm": sim.MRBM, "irbm": sim.IRBM_LOFTED, "icbm": sim.ICBM_LOFTED}
    trajs = [
        sim.fly(sim.launch_of(by_name[c], t0=t0 + 60.0 * k, name=f"{name}-{c}" if k else name))
        for k, c in enumerate(classes)
    ]
    reps = sim.observe_all(trajs, sim.SENSORS, np.random.default_rng(seed))
    return [
        {
            "nation": r.nation,
            "uid": r.uid,
            "sensor": r.sensor,
            "time": round(r.time, 3),
            "lat": round(r.lat, 6),
            "lon": round(r.lon, 6),
            "hae": round(r.hae, 1),
            "ce": r.ce,
            "le": r.le,
        }
        for r in reps
    ]


def write_recording(path: Path, reports: Sequence[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for r in reports:
            f.write(json.dumps(r, separators=(",", ":")) + "\n")
