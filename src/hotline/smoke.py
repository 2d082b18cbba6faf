"""``hotline demo --smoke``: a scripted FLASH round trip across every node, a new user's first
check. The first party's ops centre sends a FLASH on the all-party ops channel; every other
party's ops centre must see it live on its stream and acknowledge it; the sender's node must
then show every acknowledgment. Prints each step; returns False with what failed."""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

import click
import msgspec

from hotline.client import ApiError, Client
from hotline.compacts import load_compact
from hotline.domain.ids import Layer

if TYPE_CHECKING:
    from hotline.demo import DemoCluster

TIMEOUT_S = 15.0


async def _smoke(cluster: DemoCluster, say: Any) -> None:
    c = load_compact(cluster.compact)
    nations = cluster.nations
    sender, receivers = nations[0], nations[1:]
    channel = next(
        ch.id for ch in c.channels if ch.layer == Layer.OPS and len(ch.members) == len(nations)
    )
    async with AsyncExitStack() as stack:
        clients: dict[str, Client] = {}
        for n in nations:
            client = await stack.enter_async_context(Client(cluster.url(n)))
            handle = f"{n.lower()}.ops"
            await client.login(handle, handle)
            clients[n] = client
        say(f"logged in as the ops centres of {', '.join(nations)}")
        streams = {n: await stack.enter_async_context(clients[n].stream()) for n in receivers}
        t0 = time.perf_counter()
        msg = await clients[sender].send(
            channel, "flash", "SMOKE TEST: launch detected", classification="secret"
        )
        say(f"{sender} sent FLASH {msg['id']} on {channel} ({msg['marking']})")

        async def receive(n: str) -> float:
            async with asyncio.timeout(TIMEOUT_S):
                while True:
                    ev = msgspec.json.decode(await streams[n].recv())
                    if ev.get("type") == "message" and ev.get("id") == msg["id"]:
                        return (time.perf_counter() - t0) * 1000

        try:
            got = await asyncio.gather(*(receive(n) for n in receivers))
        except TimeoutError:
            raise ApiError(
                0, "not_delivered", f"the FLASH did not reach every stream within {TIMEOUT_S:.0f}s"
            ) from None
        for n, ms in zip(receivers, got, strict=True):
            say(f"{n} ops saw it live after {ms:.1f} ms")
        for n in receivers:
            await clients[n].ack(msg["id"])
            say(f"{n} acknowledged")
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            detail = await clients[sender].message(msg["id"])
            missing = [n for n in receivers if not detail["receipts"][n]["acked_at"]]
            if not missing:
                break
            if time.monotonic() > deadline:
                raise ApiError(
                    0,
                    "not_acknowledged",
                    f"{sender} never saw the acknowledgment of {', '.join(missing)}",
                )
            await asyncio.sleep(0.05)
        for n in receivers:
            r = detail["receipts"][n]
            say(f"{sender} sees {n}: delivered {r['delivered_at']}, acked by {r['acked_by']}")


def run_smoke(cluster: DemoCluster, as_json: bool = False) -> bool:
    steps: list[str] = []

    def say(line: str) -> None:
        steps.append(line)
        if not as_json:
            click.echo(f"  ✓ {line}")

    try:
        asyncio.run(_smoke(cluster, say))
    except (ApiError, OSError) as exc:
        if as_json:
            click.echo(json.dumps({"ok": False, "steps": steps, "failed": str(exc)}))
        else:
            click.echo(f"  ✗ smoke test FAILED: {exc}", err=True)
        return False
    if as_json:
        click.echo(json.dumps({"ok": True, "steps": steps}))
    else:
        click.echo("smoke test passed")
    return True
