"""``hotline bench hotline``: ONE node, in the shape of ``shared/bench/synapse_bench.py``.

usa.ops sends on ops.usa-jpn-kor; two other USA ops officials (usa.ops.2, usa.ops.3) are
already connected to the live stream; a message is timed from the API call until BOTH have it.
The body is "<seq> " + 100 bytes, the size the floor and NATS benches use.

Phases (each bounded in count and time):
  warm-up          FLASH one at a time, discarded.
  latency_idle     FLASH one at a time, nothing else running (the floor's shape).
  latency_loaded   FLASH one at a time while a paced ROUTINE load runs (the target).
  throughput       ROUTINE for --seconds from --senders connections (wrk if installed, else the
                   lean Python client); the 201 count gives durable msg/s (a 201 is returned only
                   after the fsync); the receivers count what reached both of them.

The node is a real ``hotline node start`` process; by default it is pinned to CPU 0 and this
process and wrk to CPU 1, as DEPENDENCIES.md advises (unpinned figures swing up to 3x).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from hotline.bench import common as c

CHANNEL = "ops.usa-jpn-kor"
PATH = f"/api/v1/channels/{CHANNEL}/messages"

FLASH_SEQ0 = 100_000
BG_SEQ0 = 2_000_000_000
TPUT_SEQ0 = 1_000_000_000
TPUT_WINDOW = (TPUT_SEQ0, BG_SEQ0)


@dataclass
class Options:
    seconds: float
    messages: int
    senders: int
    background_rate: float
    background_conns: int
    client: str
    server_cpus: set[int] | None
    client_cpus: set[int] | None
    label: str
    as_json: bool
    out: Path | None
    #: Quiet time after each timed FLASH of the loaded phase, seconds (0: the next at once).
    flash_gap_s: float = 0.0
    drain_s: float = 60.0


@dataclass
class Target:
    """Where the bench sends and who it waits for."""

    url: str
    sender: str
    #: name -> (node url, handle)
    receivers: dict[str, tuple[str, str]]
    #: node name -> pid (for RSS/CPU)
    pids: dict[str, int] = field(default_factory=dict)


async def scenario(target: Target, opt: Options, result: dict[str, Any]) -> None:
    """Run every phase against ``target``; fill ``result``."""
    if opt.client_cpus is not None:
        os.sched_setaffinity(0, opt.client_cpus)
    sender = await c.RawHttp.open(target.url)
    token = await sender.login(target.sender)
    hub = c.Hub(list(target.receivers))
    streams = []
    for name, (url, handle) in target.receivers.items():
        h = await c.RawHttp.open(url)
        tok = await h.login(handle)
        h.close()
        streams.append((name, await c.open_stream(url, tok)))
    tasks = [asyncio.create_task(c.receive_loop(ws, hub, name)) for name, ws in streams]
    try:
        await asyncio.sleep(0.2)
        result["server_start"] = {n: c.proc_stats(p) for n, p in target.pids.items()}
        c0 = c.self_cpu_s()
        warm = min(200, max(10, opt.messages // 10))
        await c.latency_phase(sender, PATH, hub, warm, 0, 60)

        n_idle = max(1, min(opt.messages, 1000))
        usage = c.Usage(target.pids).start()
        result["latency_idle"] = await c.latency_phase(
            sender, PATH, hub, n_idle, FLASH_SEQ0, max(30.0, opt.seconds * 6)
        )
        result["latency_idle"]["cpu"] = usage.stop(n_idle)

        bg_conns = []
        for _ in range(opt.background_conns if opt.background_rate > 0 else 0):
            conn = await c.RawHttp.open(target.url)
            conn.token = token
            bg_conns.append(conn)
        bg = c.Background(bg_conns, PATH, opt.background_rate, BG_SEQ0)
        bg.start(max_s=max(60.0, opt.seconds * 12))
        await asyncio.sleep(0.3)  # the load is running before the first FLASH
        usage = c.Usage(target.pids).start()
        loaded = await c.latency_phase(
            sender,
            PATH,
            hub,
            opt.messages,
            FLASH_SEQ0 + 10_000,
            max(30.0, opt.seconds * 6) + opt.messages * opt.flash_gap_s,
            gap_s=opt.flash_gap_s,
        )
        loaded["flash_gap_ms"] = opt.flash_gap_s * 1000.0
        loaded["background"] = await bg.stop()
        loaded["cpu"] = usage.stop(opt.messages + loaded["background"]["sent"])
        for conn in bg_conns:
            conn.close()
        result["latency_loaded"] = loaded

        hub.window = TPUT_WINDOW
        hub.all_count = 0
        usage = c.Usage(target.pids).start()
        t0 = time.perf_counter()
        kind = c.choose_client(opt.client)
        if kind == "wrk":
            tput = await c.wrk_load(
                target.url, token, PATH, opt.senders, opt.seconds, TPUT_SEQ0, opt.client_cpus
            )
        else:
            tput = await c.python_load(target.url, token, PATH, opt.senders, opt.seconds, TPUT_SEQ0)
        t_sent = time.perf_counter()
        cpu = usage.stop(tput["requests_2xx"])
        reached = await c.wait_count(hub, tput["requests_2xx"], opt.drain_s)
        delivered = hub.all_count
        span = (hub.last_all_at - t0) if delivered else float("nan")
        tput.update(
            {
                "delivered_all": delivered,
                "delivered_all_per_s": round(delivered / span, 1) if delivered else 0.0,
                "all_2xx_delivered": reached,
                "drain_after_send_s": round(max(0.0, hub.last_all_at - t_sent), 3)
                if delivered
                else None,
                "cpu": cpu,
            }
        )
        result["throughput"] = tput
        result["client_cpu_s"] = round(c.self_cpu_s() - c0, 2)
        result["server_end"] = {n: c.proc_stats(p) for n, p in target.pids.items()}
    finally:
        for t in tasks:
            t.cancel()
        for _, ws in streams:
            await ws.close()
        await asyncio.gather(*tasks, return_exceptions=True)
        sender.close()


def table(result: dict[str, Any], receivers: str) -> list[tuple[str, str]]:
    probe = result["disk_probe_before"]["sqlite_full_commit_ms"]
    rows = [
        ("SQLite FULL commit before run", c.lat_row(probe)),
        ("node(s) pinned to CPU", str(result["server_cpus"])),
        ("client pinned to CPU", str(result["client_cpus"])),
        ("receivers", receivers),
        ("FLASH idle, to all receivers", c.lat_row(result["latency_idle"]["e2e_all_ms"])),
        ("FLASH idle, POST -> 201", c.lat_row(result["latency_idle"]["post_201_ms"])),
    ]
    lo = result["latency_loaded"]
    bg = lo["background"]
    rows += [
        (
            f"FLASH under ROUTINE {bg['achieved_per_s']:.0f}/s"
            + (f", {lo['flash_gap_ms']:g} ms apart" if lo.get("flash_gap_ms") else "")
            + ", to all",
            c.lat_row(lo["e2e_all_ms"]),
        ),
        ("FLASH under load, POST -> 201", c.lat_row(lo["post_201_ms"])),
    ]
    t = result["throughput"]
    rows += [
        ("throughput client", t["client"]),
        (
            "durable msg/s (201s)",
            f"{t['durable_per_s']:.0f}  ({t['requests_2xx']} in {t['duration_s']} s, "
            f"{t['errors']} errors)",
        ),
        (
            "delivered to all receivers/s",
            f"{t['delivered_all_per_s']:.0f}  ({t['delivered_all']} messages)",
        ),
        ("POST -> 201 under full load", c.lat_row(t["post_201_ms"])),
        ("node CPU cores during load", str(t["cpu"]["server_cores"])),
        ("node CPU ms per message", str(t["cpu"]["server_cpu_ms_per_msg"])),
        (
            "client / other processes, cores",
            f"{t['cpu']['client_cores']} / {t['cpu']['others_cores']} (others: not this bench)",
        ),
        (
            "server RSS MiB (end)",
            str({n: s.get("rss_mib") for n, s in result["server_end"].items()}),
        ),
    ]
    return rows


#: What a latency target says of a run whose loaded FLASH were spaced (``--flash-gap-ms``).
NOT_THE_TARGETS_SHAPE = "not measured: the target's FLASH follow one another (--flash-gap-ms 0)"


def loaded_p99_within(result: dict[str, Any], limit_ms: float) -> bool | str:
    """Whether the FLASH p99 under load is within ``limit_ms``; a run with spaced FLASH
    (``--flash-gap-ms``) is not the target's measurement, and says so."""
    loaded = result["latency_loaded"]
    if loaded.get("flash_gap_ms"):
        return NOT_THE_TARGETS_SHAPE
    return bool(loaded["e2e_all_ms"].get("p99", 1e9) <= limit_ms)


def common_options(
    messages: int, background_rate: float, server_cpus: str, client_cpus: str
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        opts = [
            click.option(
                "--seconds",
                type=float,
                default=10.0,
                show_default=True,
                help="Duration of the sustained-throughput phase.",
            ),
            click.option(
                "--messages",
                type=int,
                default=messages,
                show_default=True,
                help="FLASH messages timed one at a time (per latency phase).",
            ),
            click.option(
                "--senders",
                type=int,
                default=32,
                show_default=True,
                help="Concurrent connections of the throughput phase.",
            ),
            click.option(
                "--background-rate",
                type=float,
                default=background_rate,
                show_default=True,
                help="ROUTINE msg/s running during latency_loaded.",
            ),
            click.option(
                "--flash-gap-ms",
                type=click.FloatRange(0.0, 1000.0),
                default=0.0,
                show_default=True,
                help="Quiet time after each timed FLASH under load (0: the next at once, so the "
                "FLASH traffic weighs as much as the background; 10: the background is the load).",
            ),
            click.option(
                "--client",
                type=click.Choice(["auto", "wrk", "python"]),
                default="auto",
                show_default=True,
                help="Throughput load generator (auto: wrk if installed).",
            ),
            click.option(
                "--server-cpus",
                default=server_cpus,
                show_default=True,
                help="Pin the node process(es): 0, 0-1, all, auto (first CPU).",
            ),
            click.option(
                "--client-cpus",
                default=client_cpus,
                show_default=True,
                help="Pin this process and wrk: 1, all, auto (second CPU).",
            ),
            click.option("--label", default="", help="A label stored with the figures."),
            click.option("--json", "as_json", is_flag=True, help="Print the JSON figures only."),
            click.option(
                "--out",
                type=click.Path(path_type=Path),
                default=None,
                help="Append the JSON figures as one line to this file.",
            ),
        ]
        for o in reversed(opts):
            fn = o(fn)
        return fn

    return deco


def make_options(**kw: Any) -> Options:
    if kw["messages"] < 1 or kw["senders"] < 1 or kw["seconds"] <= 0:
        raise click.BadParameter("--messages and --senders must be >= 1, --seconds > 0")
    return Options(
        seconds=kw["seconds"],
        messages=kw["messages"],
        senders=kw["senders"],
        background_rate=kw["background_rate"],
        background_conns=4,
        client=kw["client"],
        server_cpus=c.parse_cpus(kw["server_cpus"], "server"),
        client_cpus=c.parse_cpus(kw["client_cpus"], "client"),
        label=kw["label"],
        as_json=kw["as_json"],
        out=kw["out"],
        flash_gap_s=kw["flash_gap_ms"] / 1000.0,
    )


def base_result(bench: str, opt: Options) -> dict[str, Any]:
    return {
        "bench": bench,
        "label": opt.label,
        "run": c.RUN,
        "machine": c.machine_facts(),
        "disk_probe_before": c.fsync_probe(),
        "versions": c.versions(),
        "message_body_bytes": len(f"{FLASH_SEQ0} {c.PAD}"),
        "server_cpus": c.cpu_note(opt.server_cpus),
        "client_cpus": c.cpu_note(opt.client_cpus),
        "options": {
            "seconds": opt.seconds,
            "messages": opt.messages,
            "senders": opt.senders,
            "background_rate": opt.background_rate,
            "client": opt.client,
        },
    }


def run_async(coro: Any) -> Any:
    try:
        import uvloop

        return uvloop.run(coro)
    except ImportError:  # pragma: no cover
        return asyncio.run(coro)


@click.command("hotline")
@common_options(messages=2000, background_rate=1000.0, server_cpus="auto", client_cpus="auto")
def hotline_cmd(**kw: Any) -> None:
    """ONE node: FLASH latency to two connected receivers, and durable msg/s."""
    from hotline.demo import DemoCluster

    opt = make_options(**kw)
    result = base_result("hotline", opt)
    cluster = DemoCluster(base_port=c.free_base_port(), nations=["USA"])
    try:
        cluster.init()
        cluster.start_all()
        cluster.wait_ready()
        pid = cluster.procs["USA"].pid
        c.pin_process(pid, opt.server_cpus)
        url = cluster.url("USA")
        target = Target(
            url=url,
            sender="usa.ops",
            receivers={"usa_ops_2": (url, "usa.ops.2"), "usa_ops_3": (url, "usa.ops.3")},
            pids={"USA": pid},
        )
        run_async(scenario(target, opt, result))
    finally:
        cluster.cleanup()
    result["targets"] = {
        "flash_p99_under_load_ms<=5": loaded_p99_within(result, 5.0),
        "durable_per_s>=5000": result["throughput"]["durable_per_s"] >= 5000,
    }
    c.emit(result, table(result, "usa.ops.2, usa.ops.3 (same node)"), opt.as_json, opt.out)
