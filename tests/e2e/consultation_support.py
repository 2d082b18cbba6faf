"""Helpers for the consultation tests across three live nodes (public HTTP contract only)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support import Cluster, eventually

INVOKE = {
    "subject": "Ballistic missile launch toward Japan",
    "layer": "nsa",
    "severity": "critical",
    "threatened": ["JPN"],
    "information": "Launch from the west coast of the peninsula at 06:12 local.",
}


async def logins(cluster: Cluster, layer: str = "nsa") -> dict[str, httpx.AsyncClient]:
    """One logged-in client per nation, each at its own node."""
    return {n: await cluster[n].login(f"{n.lower()}.{layer}") for n in ("USA", "JPN", "KOR")}


async def get(client: httpx.AsyncClient, cid: str) -> dict[str, Any]:
    resp = await client.get(f"/api/v1/consultations/{cid}")
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def wait_known(clients: dict[str, httpx.AsyncClient], cid: str) -> None:
    """Until every node holds the consultation (its invocation has federated)."""
    for nation, client in clients.items():

        async def known(client: httpx.AsyncClient = client) -> bool:
            return (await client.get(f"/api/v1/consultations/{cid}")).status_code == 200

        await eventually(known, what=f"{nation} holds {cid}")


async def wait_for(
    clients: dict[str, httpx.AsyncClient], cid: str, what: str, pred: Any, timeout_s: float = 15
) -> dict[str, dict[str, Any]]:
    """Until ``pred(view)`` holds at every node; returns each node's view."""
    views: dict[str, dict[str, Any]] = {}
    for nation, client in clients.items():

        async def check(nation: str = nation, client: httpx.AsyncClient = client) -> bool:
            resp = await client.get(f"/api/v1/consultations/{cid}")
            if resp.status_code != 200:
                return False
            views[nation] = resp.json()
            return bool(pred(views[nation]))

        await eventually(check, timeout_s=timeout_s, what=f"{what} at {nation}")
    return views


def statement(view: dict[str, Any], sid: str) -> dict[str, Any] | None:
    return next((s for s in view["statements"] if s["id"] == sid), None)
