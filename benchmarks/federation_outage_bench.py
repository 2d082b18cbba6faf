"""FLASH after an outage: how soon a FLASH queued behind a backlog reaches a peer that comes back.

JPN's node is down while USA's ops centre sends ``--backlog`` ROUTINE messages to JPN and then
one FLASH (every one durable at USA: a 201). Then JPN's node starts. Read from JPN's SQLite file
every 2 ms (read-only, WAL), in seconds after JPN's process started: when JPN stored USA's first
event (the link is up), when it stored the FLASH, and when it had applied USA's whole stream
(the backlog drained); the last two are also given after the first. Also: where the FLASH is in
the order JPN stored USA's messages (0 = first).

With the urgent lane (the default) the FLASH is sent ahead of the backlog as soon as the link is
up; without it (``urgent_lane = false`` at USA) it waits for the backlog to flow. Both are run
in each round, alternately, on fresh nodes (real ``hotline node start`` processes, mutual TLS).

Usage::

    python benchmarks/federation_outage_bench.py [--backlog 5000] [--rounds 2]
        [--out benchmarks/results/federation_outage.jsonl] [--label NAME]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

from hotline.bench import common as c
from hotline.demo import DemoCluster
from hotline.settings import load_settings, write_settings

SENDERS = 16
#: Longest wait for JPN to store everything, seconds.
DRAIN_TIMEOUT_S = 300.0


async def _send(url: str, backlog: int) -> str:
    """``backlog`` ROUTINE messages to JPN from ``SENDERS`` connections, then one FLASH; the
    FLASH's id."""
    conns = [await c.RawHttp.open(url) for _ in range(SENDERS)]
    for conn in conns:
        await conn.login("usa.ops")
    tickets = iter(range(backlog))
    path = "/api/v1/channels/ops.usa-jpn/messages"

    async def worker(conn: c.RawHttp) -> None:
        for n in tickets:
            status, body = await conn.request("POST", path, c.message_body(n, "routine"))
            if status != 201:
                raise RuntimeError(f"HTTP {status}: {body[:200]!r}")

    try:
        await asyncio.gather(*(worker(conn) for conn in conns))
        status, body = await conns[0].request("POST", path, c.message_body(backlog, "flash"))
        if status != 201:
            raise RuntimeError(f"FLASH: HTTP {status}: {body[:200]!r}")
        return str(msgspec.json.decode(body)["id"])
    finally:
        for conn in conns:
            conn.close()


def _stream_end(usa_db: Path) -> int:
    conn = sqlite3.connect(f"file:{usa_db}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT MAX(seq) FROM outbox WHERE peer = 'JPN'").fetchone()
        return int(row[0])
    finally:
        conn.close()


def _order(jpn_db: Path, flash: str) -> tuple[int, int]:
    """Where JPN stored the FLASH among USA's messages, and how many it holds."""
    conn = sqlite3.connect(f"file:{jpn_db}?mode=ro", uri=True)
    try:
        ids = [
            str(msgspec.json.decode(raw)["body"]["message_id"])
            for (raw,) in conn.execute(
                "SELECT raw FROM events WHERE origin = 'USA' AND type = 'message_sent' ORDER BY seq"
            )
        ]
    finally:
        conn.close()
    return ids.index(flash), len(ids)


def one_run(backlog: int, lane: bool) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="hotline-outage-"))
    cluster = DemoCluster(base_port=c.free_base_port(), root=root, nations=["USA", "JPN"])
    try:
        cluster.init()
        usa_dir = cluster.dirs["USA"]
        settings = load_settings(usa_dir, {})
        fed = msgspec.structs.replace(settings.federation, urgent_lane=lane)
        write_settings(usa_dir, msgspec.structs.replace(settings, federation=fed))
        cluster.start("USA")
        cluster.wait_ready(30.0, ["USA"])
        flash = asyncio.run(_send(cluster.url("USA"), backlog))
        end = _stream_end(usa_dir / "hotline.db")
        jpn_db = cluster.dirs["JPN"] / "hotline.db"
        t0 = time.monotonic()
        cluster.start("JPN")
        link_s = flash_s = drain_s = None
        conn: sqlite3.Connection | None = None
        while drain_s is None:
            now = time.monotonic() - t0
            if now > DRAIN_TIMEOUT_S:
                raise RuntimeError(f"JPN did not drain USA's stream in {DRAIN_TIMEOUT_S} s")
            try:
                conn = conn or sqlite3.connect(f"file:{jpn_db}?mode=ro", uri=True, timeout=1.0)
                if (
                    link_s is None
                    and conn.execute("SELECT 1 FROM events WHERE origin = 'USA' LIMIT 1").fetchone()
                ):
                    link_s = now
                if (
                    flash_s is None
                    and conn.execute("SELECT 1 FROM messages WHERE id = ?", (flash,)).fetchone()
                ):
                    flash_s = now
                row = conn.execute("SELECT last_seq FROM peer_in WHERE peer = 'USA'").fetchone()
                if row is not None and int(row[0]) >= end and flash_s is not None:
                    drain_s = now
            except sqlite3.Error:
                pass  # JPN is still migrating its database
            time.sleep(0.002)
        if conn is not None:
            conn.close()
        position, held = _order(jpn_db, flash)
        return {
            "urgent_lane": lane,
            "backlog": backlog,
            "first_event_s": round(link_s or 0.0, 4),
            "flash_s": round(flash_s or 0.0, 4),
            "drain_s": round(drain_s, 4),
            "flash_after_first_s": round((flash_s or 0.0) - (link_s or 0.0), 4),
            "drain_after_first_s": round(drain_s - (link_s or 0.0), 4),
            "flash_position": position,
            "messages_at_jpn": held,
        }
    finally:
        cluster.cleanup()
        shutil.rmtree(root, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backlog", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", default=None, help="append the figures to this JSONL file")
    ap.add_argument("--label", default="")
    args = ap.parse_args(argv)
    if not 1 <= args.backlog <= 100_000 or not 1 <= args.rounds <= 10:
        ap.error("--backlog must be 1..100000 and --rounds 1..10")
    runs = []
    for r in range(args.rounds):
        for lane in (True, False) if r % 2 == 0 else (False, True):
            run = one_run(args.backlog, lane)
            runs.append(run)
            print(
                f"round {r + 1}, urgent lane {'on ' if lane else 'off'}: JPN stored USA's first "
                f"event {run['first_event_s']:.3f} s after it started, the FLASH "
                f"{run['flash_after_first_s']:.3f} s after that (position "
                f"{run['flash_position']} of {run['messages_at_jpn']}), the whole backlog "
                f"{run['drain_after_first_s']:.3f} s after that",
                flush=True,
            )
    summary = {}
    for lane in (True, False):
        mine = [r for r in runs if r["urgent_lane"] is lane]
        summary["on" if lane else "off"] = {
            "flash_after_first_s_median": statistics.median(r["flash_after_first_s"] for r in mine),
            "drain_after_first_s_median": statistics.median(r["drain_after_first_s"] for r in mine),
        }
    result = {
        "bench": "federation_outage",
        "label": args.label,
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": c.machine_facts(),
        "runs": runs,
        "summary": summary,
    }
    print(json.dumps(summary))
    if args.out:
        with open(args.out, "a") as f:
            f.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
