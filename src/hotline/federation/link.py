"""Federation of this node with its peers: the inbound server and the outbound links, wired."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from litestar import Request, get

from hotline.bootstrap import Node
from hotline.federation.inbound import Inbound
from hotline.federation.outbound import Outbound
from hotline.federation.trust import Trust, load_trust


class Federation:
    def __init__(self, node: Node) -> None:
        s = node.settings.federation
        self.trust: Trust = load_trust(node.node_dir, node.compact, node.nation, s.peers)
        cadence = node.compact.cadence
        interval = s.link_test_interval_s or cadence.link_test_interval_s
        timeout = min(cadence.link_test_timeout_s, interval / 2)
        self.outbound = Outbound(node.hotline, self.trust, s, interval, timeout)
        self.inbound = Inbound(
            node.hotline,
            self.trust,
            s.host,
            s.port,
            on_link_answer=self.outbound.on_link_answer,
            receipt_delay_s=s.receipt_delay_s,
        )
        node.hotline.on_commit = self.outbound.wake

    async def run(self, ready: Callable[[], None] | None = None) -> None:
        server = await self.inbound.serve()
        try:
            if ready is not None:
                ready()
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self.inbound.run_receipts())
                tg.create_task(self.outbound.run())
        finally:
            server.close()
            await asyncio.wait_for(server.wait_closed(), 5)

    def status(self) -> list[dict[str, Any]]:
        out = self.outbound.status()
        for row in out:
            row["inbound_connected"] = row["nation"] in self.inbound.connected
            row["applied_ahead"] = self.inbound.applied_ahead.get(row["nation"], 0)
        refused = dict(
            self.outbound.svc.store.reader.execute(
                "SELECT peer, COUNT(*) FROM refused GROUP BY peer"
            ).fetchall()
        )
        for row in out:
            row["refused"] = int(refused.get(row["nation"], 0))
        for nation, why in self.trust.unconfigured.items():
            out.append(
                {"nation": nation, "connected": False, "configured": False, "last_error": why}
            )
        return out

    def route(self, authenticate: Callable[[str | None], Any]) -> Any:
        status = self.status

        @get("/api/v1/peers", tags=["federation"])
        async def peers(request: Request[Any, Any, Any]) -> list[dict[str, Any]]:
            """Per peer: connected, since, backlog, last acknowledged seq, link-test RTT."""
            header = request.headers.get("authorization", "")
            authenticate(header[7:].strip() if header[:7].lower() == "bearer " else None)
            return status()

        return peers
