"""FLASH to every ally: NATO's 32 nations, one node each, on 127.0.0.1.

The first party's ops centre sends FLASH messages one at a time on the all-party ops channel;
each is timed from the API call until the ops centres of the 31 other nations have it on their
live streams (each only after its own node committed it: durable at every nation). Real node
processes and mutual-TLS federation, as ``hotline demo --compact nato-32`` starts them; bounded
in count and time. On a 2-core machine the 32 nodes share both cores (2.7 GB of memory).

Each message is followed by 31 × 31 receipts (every ally tells every ally it has it), so the
cluster's CPU per message is the main figure here. ``--gap-s`` waits between messages, so that
each FLASH finds the federation quiet (its latency, not the previous message's receipts);
``--gap-s 0`` sends them back to back.

    .venv/bin/python benchmarks/nato_flash.py [--messages 50] [--gap-s 1.0] [--json] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from hotline.bench import common as c
from hotline.bench.federation import wait_linked
from hotline.bench.hotline import FLASH_SEQ0, run_async
from hotline.compacts import load_compact
from hotline.demo import DemoCluster
from hotline.domain.ids import Layer

COMPACT = "nato-32"


async def _timed(
    sender: c.RawHttp, path: str, hub: c.Hub, n: int, seq0: int, gap_s: float
) -> dict[str, Any]:
    """``c.latency_phase`` one message at a time, with ``gap_s`` of quiet before each."""
    phase: dict[str, Any] = {"lost": 0, "errors": 0}
    parts = []
    for i in range(n):
        await asyncio.sleep(gap_s)
        parts.append(await c.latency_phase(sender, path, hub, 1, seq0 + i, 60.0, "flash", 30.0))
    for key in ("lost", "errors"):
        phase[key] = sum(p[key] for p in parts)
    for key in ["post_201_ms", "e2e_all_ms", *(f"e2e_{name}_ms" for name in hub.names)]:
        values = [p[key]["p50"] / 1000 for p in parts if p[key].get("n")]
        phase[key] = c.summarize_ms(values)
    return phase


async def _measure(cluster: DemoCluster, messages: int, gap_s: float) -> dict[str, Any]:
    compact = load_compact(COMPACT)
    nations = cluster.nations
    sender_nation, allies = nations[0], nations[1:]
    channel = next(
        ch.id
        for ch in compact.channels
        if ch.layer == Layer.OPS and len(ch.members) == len(nations)
    )
    urls = {n: cluster.url(n) for n in nations}
    linked = await wait_linked(urls, timeout_s=300.0)
    sender = await c.RawHttp.open(urls[sender_nation])
    await sender.login(f"{sender_nation.lower()}.ops")
    hub = c.Hub(list(allies))
    streams = []
    for n in allies:
        h = await c.RawHttp.open(urls[n])
        token = await h.login(f"{n.lower()}.ops")
        h.close()
        streams.append((n, await c.open_stream(urls[n], token)))
    tasks = [asyncio.create_task(c.receive_loop(ws, hub, n)) for n, ws in streams]
    path = f"/api/v1/channels/{channel}/messages"
    pids = {n: p.pid for n, p in cluster.procs.items()}
    try:
        await c.latency_phase(sender, path, hub, 10, FLASH_SEQ0, 120.0)  # warm-up
        usage = c.Usage(pids).start()
        phase = await _timed(sender, path, hub, messages, FLASH_SEQ0 + 1000, gap_s)
        cpu = usage.stop(messages)
    finally:
        for t in tasks:
            t.cancel()
        for _, ws in streams:
            await ws.close()
        sender.close()
    per_nation = {n: phase[f"e2e_{n}_ms"] for n in allies}
    slowest = max(allies, key=lambda n: per_nation[n].get("p50", 0.0))
    return {
        "bench": "nato_flash",
        "compact": COMPACT,
        "sender": sender_nation,
        "channel": channel,
        "receivers": len(allies),
        "gap_s": gap_s,
        "linked_after_s": linked["linked_after_s"],
        "post_201_ms": phase["post_201_ms"],
        "e2e_all_ms": phase["e2e_all_ms"],
        "slowest_nation": {"nation": slowest, **per_nation[slowest]},
        "lost": phase["lost"],
        "errors": phase["errors"],
        "cpu_ms_per_msg_all_nodes": round(sum(cpu["server_cpu_ms_per_msg"].values()), 3),
        "cpu_ms_per_msg_sender": cpu["server_cpu_ms_per_msg"][sender_nation],
        "others_cores": cpu.get("others_cores"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--messages", type=c.count_arg(), default=50, help="FLASH timed (default 50)"
    )
    parser.add_argument(
        "--gap-s", type=c.seconds_arg(), default=1.0, help="quiet before each FLASH (default 1.0 s)"
    )
    parser.add_argument("--label", default="", help="a label stored with the figures")
    parser.add_argument("--json", action="store_true", help="print the JSON figures only")
    parser.add_argument("--out", type=Path, help="append the JSON figures as one line here")
    args = parser.parse_args(argv)
    nations = load_compact(COMPACT).nations
    cluster = DemoCluster(base_port=c.free_base_port(len(nations)), compact=COMPACT)
    try:
        cluster.init()
        cluster.start_all()
        cluster.wait_ready(timeout_s=300.0)
        result: dict[str, Any] = {
            "label": args.label,
            "machine": c.machine_facts(),
            **run_async(_measure(cluster, args.messages, args.gap_s)),
        }
    finally:
        cluster.cleanup()
    line = json.dumps(result)
    if args.out:
        with args.out.open("a") as f:
            f.write(line + "\n")
    if args.json:
        print(line)
        return 0
    e2e, post = result["e2e_all_ms"], result["post_201_ms"]
    print(
        f"{COMPACT}: FLASH from {result['sender']} to the ops centres of "
        f"{result['receivers']} allies, one at a time, {result['gap_s']} s apart "
        f"({e2e.get('n', 0)} timed, {result['lost']} lost)"
    )
    print(f"  to all allies   p50 {e2e['p50']} / p90 {e2e['p90']} / p99 {e2e['p99']} ms")
    print(f"  201 at sender   p50 {post['p50']} / p99 {post['p99']} ms")
    slow = result["slowest_nation"]
    print(f"  slowest ally    {slow['nation']}: p50 {slow['p50']} ms")
    print(
        f"  CPU per message {result['cpu_ms_per_msg_all_nodes']} ms in all 32 nodes "
        f"({result['cpu_ms_per_msg_sender']} at the sender)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
