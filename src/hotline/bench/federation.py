"""``hotline bench federation``: THREE nodes (real processes, mutual TLS federation).

usa.ops sends on ops.usa-jpn-kor at the USA node; the receivers are usa.ops.2 on the USA node,
jpn.ops on the JPN node and kor.ops on the KOR node, each already connected to its own node's
live stream. A FLASH is timed from the API call at USA until all three have it. A receiver sees
a message only after its own node committed it (``synchronous=FULL``), so "on all three
streams" means durable at all three nations. The phases are those of ``bench hotline``.

On a 2-core machine the three nodes, this client and wrk share both cores: nothing is pinned
by default (``--server-cpus``/``--client-cpus`` change that).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import click
import msgspec

from hotline.bench import common as c
from hotline.bench.hotline import (
    Target,
    base_result,
    common_options,
    loaded_p99_within,
    make_options,
    run_async,
    scenario,
    table,
)

RECEIVERS = {"usa": ("USA", "usa.ops.2"), "jpn": ("JPN", "jpn.ops"), "kor": ("KOR", "kor.ops")}


async def wait_linked(urls: dict[str, str], timeout_s: float = 30.0) -> dict[str, Any]:
    """Wait until every node reports every peer link connected (``GET /api/v1/peers``)."""
    tokens = {}
    for nation, url in urls.items():
        h = await c.RawHttp.open(url)
        await h.login(f"{nation.lower()}.ops")
        tokens[nation] = h
    t0 = time.monotonic()
    try:
        while True:
            ok = True
            for h in tokens.values():
                status, body = await h.request("GET", "/api/v1/peers")
                rows = msgspec.json.decode(body) if status == 200 else []
                if not rows or not all(r.get("connected") for r in rows):
                    ok = False
            if ok:
                return {"linked_after_s": round(time.monotonic() - t0, 2)}
            if time.monotonic() - t0 > timeout_s:
                raise click.ClickException(f"federation links not all up within {timeout_s}s")
            await asyncio.sleep(0.1)
    finally:
        for h in tokens.values():
            h.close()


async def backlog(urls: dict[str, str]) -> dict[str, int]:
    """Events each node still has to push to its peers (0 when the federation is drained)."""
    out = {}
    for nation, url in urls.items():
        h = await c.RawHttp.open(url)
        await h.login(f"{nation.lower()}.ops")
        _, body = await h.request("GET", "/api/v1/peers")
        out[nation] = sum(int(r.get("backlog", 0)) for r in msgspec.json.decode(body))
        h.close()
    return out


@click.command("federation")
@common_options(messages=1000, background_rate=300.0, server_cpus="all", client_cpus="all")
@click.option(
    "--floor-p99-ms",
    type=float,
    default=None,
    help="p99 of floor_bench.py ws --persist measured here: checks the within-3x target.",
)
def federation_cmd(floor_p99_ms: float | None, **kw: Any) -> None:
    """THREE nodes: FLASH from USA to officials at USA, JPN, KOR; msg/s delivered to all."""
    from hotline.demo import DemoCluster

    opt = make_options(**kw)
    result = base_result("federation", opt)
    cluster = DemoCluster(base_port=c.free_base_port())
    try:
        cluster.init()
        cluster.start_all()
        cluster.wait_ready()
        pids = {n: p.pid for n, p in cluster.procs.items()}
        for pid in pids.values():
            c.pin_process(pid, opt.server_cpus)
        urls = {n: cluster.url(n) for n in cluster.nations}

        async def go() -> None:
            result["federation"] = await wait_linked(urls)
            target = Target(
                url=urls["USA"],
                sender="usa.ops",
                receivers={name: (urls[n], h) for name, (n, h) in RECEIVERS.items()},
                pids=pids,
            )
            await scenario(target, opt, result)
            result["federation"]["backlog_end"] = await backlog(urls)

        run_async(go())
    finally:
        cluster.cleanup()
    floor_note = "run ../shared/bench/floor_bench.py ws --persist for the 3x-floor check"
    result["targets"] = {
        "flash_p99_under_load_ms<=5": loaded_p99_within(result, 5.0),
        "delivered_all_per_s>=3000": result["throughput"]["delivered_all_per_s"] >= 3000,
        "within_3x_floor": floor_note,
    }
    if floor_p99_ms is not None:
        result["targets"]["within_3x_floor"] = loaded_p99_within(result, 3 * floor_p99_ms)
    c.emit(
        result,
        table(result, "usa.ops.2 @USA, jpn.ops @JPN, kor.ops @KOR"),
        opt.as_json,
        opt.out,
    )
