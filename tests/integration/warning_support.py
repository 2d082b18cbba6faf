"""Helpers of the warning-data tests: a simulated launch as each nation's sensors report it,
posted to each nation's node in time order, and looks into a node's SQLite files."""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from hotline.replay import simulated_recording
from tests.support import Cluster

NATIONS = ("USA", "JPN", "KOR")
#: The simulated object's name: every sensor's CoT uid of it is ``<sensor>.<OBJECT>``.
OBJECT = "xq7-launch"


@functools.cache
def _recording() -> tuple[dict[str, Any], ...]:
    return tuple(simulated_recording(("mrbm",), seed=7, t0=0.0, name=OBJECT))


def scenario(now: float, end_ago_s: float = 30.0) -> list[dict[str, Any]]:
    """The MRBM of ``hotline.tracks.simulate`` seen by the USA, JPN and KOR radars, its reports
    shifted so that the last one is ``end_ago_s`` before ``now`` (all within the stale limit)."""
    recs = _recording()
    shift = now - end_ago_s - recs[-1]["time"]
    return [r | {"time": round(r["time"] + shift, 3)} for r in recs]


async def post_in_time_order(
    sensors: dict[str, httpx.AsyncClient],
    reports: Sequence[dict[str, Any]],
    chunk_s: float = 20.0,
    pause_s: float = 0.05,
) -> int:
    """Post each nation's reports to its own node, ``chunk_s`` of report time at a time, as the
    feeds would; returns how many were accepted."""
    chunks: dict[int, list[dict[str, Any]]] = {}
    t0 = reports[0]["time"]
    for r in reports:
        chunks.setdefault(int((r["time"] - t0) // chunk_s), []).append(r)
    accepted = 0
    for k in sorted(chunks):
        for nation, client in sensors.items():
            batch = [r for r in chunks[k] if r["nation"] == nation]
            if batch:
                resp = await client.post("/api/v1/reports", json=batch)
                assert resp.status_code == 201, resp.text
                accepted += resp.json()["accepted"]
        await asyncio.sleep(pause_s)
    return accepted


def db_bytes(node_dir: Path) -> bytes:
    """Every byte of a node's database files (the main file and the write-ahead log)."""
    out = b""
    for suffix in ("", "-wal"):
        path = node_dir / f"hotline.db{suffix}"
        if path.exists():
            out += path.read_bytes()
    return out


def rows(node_dir: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"file:{node_dir / 'hotline.db'}?mode=ro", uri=True, timeout=30.0)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


async def sensors_of(cluster: Cluster) -> dict[str, httpx.AsyncClient]:
    return {n: await cluster[n].login(f"{n.lower()}.sensors") for n in NATIONS}
