"""Everything federates: receipts and escalations reach every nation that may see the message;
link tests measure each link and a missed one alerts both nations' operations centres."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from hotline.ports import FakeClock
from tests.integration.federation_support import (
    TcpProxy,
    db_rows,
    federated,
    start_node,
    stop_node,
    tune_federation,
)
from tests.support import Cluster, eventually, recv_until

pytestmark = pytest.mark.anyio

NATIONS = ("USA", "JPN", "KOR")
RECEIPT_FIELDS = ("delivered_at", "read_at", "acked_at", "acked_by")


async def _detail(client: httpx.AsyncClient, mid: str) -> dict[str, Any]:
    resp = await client.get(f"/api/v1/messages/{mid}")
    assert resp.status_code == 200, resp.text
    result: dict[str, Any] = resp.json()
    return result


async def _each(ws: Any, preds: list[Any], timeout_s: float = 10.0) -> None:
    """Read the live stream until every predicate has matched some event (any order)."""
    waiting = list(preds)
    async with asyncio.timeout(timeout_s):
        while waiting:
            event = msgspec.json.decode(await ws.recv())
            waiting = [p for p in waiting if not p(event)]


async def test_receipts_and_escalations_reach_every_nation(tmp_path: Path) -> None:
    clock = FakeClock()
    async with federated(tmp_path, clock=clock) as cluster:
        ops = {n: await cluster[n].login(f"{n.lower()}.ops") for n in NATIONS}
        async with cluster["USA"].stream(ops["USA"]) as usa_ws:
            sent = await ops["USA"].post(
                "/api/v1/channels/ops.usa-jpn-kor/messages",
                json={"precedence": "flash", "body": "Launch detected"},
            )
            assert sent.status_code == 201, sent.text
            mid = sent.json()["id"]

            def receipt(nation: str, kind: str) -> Any:
                return lambda e: (
                    e.get("type") == "receipt"
                    and e["message_id"] == mid
                    and (e["nation"], e["kind"]) == (nation, kind)
                )

            # Delivered at JPN and KOR: USA is told on its officials' live stream.
            await _each(usa_ws, [receipt(n, "delivered") for n in ("JPN", "KOR")])

            # Nobody acknowledges within 10 minutes: each recipient nation's own node escalates
            # its receipt to its alternates, and every other nation learns of it.
            clock.advance(601.0)

            async def escalated_everywhere() -> bool:
                for viewer in ("USA", "KOR"):  # KOR's view of JPN, USA's of both
                    esc = (await _detail(ops[viewer], mid))["escalation"]
                    if not all(esc[n]["level"] >= 1 for n in ("JPN", "KOR")):
                        return False
                return True

            await eventually(escalated_everywhere, what="escalations federated")
            await _each(
                usa_ws,
                [
                    lambda e, n=n: (
                        e.get("type") == "escalation"
                        and e["message_id"] == mid
                        and e["nation"] == n
                    )
                    for n in ("JPN", "KOR")
                ],
            )
            # Read (opening the message) and acknowledged, by both.
            for n in ("JPN", "KOR"):
                await _detail(ops[n], mid)
                assert (await ops[n].post(f"/api/v1/messages/{mid}/ack")).status_code == 200
            await _each(
                usa_ws,
                [receipt(n, k) for n in ("JPN", "KOR") for k in ("read", "acknowledged")],
            )

            async def agreed() -> bool:
                views = [await _detail(ops[n], mid) for n in NATIONS]
                return all(v["acknowledged"] for v in views)

            await eventually(agreed, what="every node sees both acknowledgments")
            views = {n: await _detail(ops[n], mid) for n in NATIONS}
            for n in ("JPN", "KOR"):
                own = views[n]["receipts"][n]  # the nation's own node holds the truth
                assert all(own[f] for f in RECEIPT_FIELDS), own
                assert own["acked_by"] == f"{n.lower()}.ops"
                for viewer in NATIONS:
                    theirs = views[viewer]["receipts"][n]
                    assert {f: theirs[f] for f in RECEIPT_FIELDS} == {
                        f: own[f] for f in RECEIPT_FIELDS
                    }, f"{viewer}'s view of {n}'s receipt differs"
                    esc = views[viewer]["escalation"][n]
                    assert (esc["state"], esc["level"]) == ("acknowledged", 1)
                    assert esc["notified"] == views[n]["escalation"][n]["notified"]


def _tune_links(proxy: TcpProxy) -> Any:
    """Link tests every second; quick reconnection; USA reaches KOR through ``proxy``."""

    def tune(nation: str, node_dir: Path) -> None:
        tune_federation(node_dir, link_test_interval_s=1.0, backoff_max_s=0.2)
        if nation == "KOR":
            from hotline.settings import load_settings

            proxy.upstream_port = load_settings(node_dir, {}).federation.port
        if nation == "USA":
            tune_federation(node_dir, peers={"KOR": f"127.0.0.1:{proxy.port}"})

    return tune


async def _peers(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    resp = await client.get("/api/v1/peers")
    assert resp.status_code == 200, resp.text
    return {p["nation"]: p for p in resp.json()}


def _alert(tester: str, peer: str) -> Any:
    return lambda e: (
        e.get("type") == "alert"
        and e.get("kind") == "link_test_missed"
        and (e["nation"], e["peer"]) == (tester, peer)
    )


async def test_link_tests_measure_every_link_and_missed_ones_alert_both_sides(
    tmp_path: Path,
) -> None:
    proxy = TcpProxy(0)
    await proxy.start()
    try:
        async with federated(tmp_path, ("KOR", "JPN", "USA"), tune=_tune_links(proxy)) as cluster:
            await _link_tests(cluster, proxy)
    finally:
        await proxy.close()


async def _link_tests(cluster: Cluster, proxy: TcpProxy) -> None:
    ops = {n: await cluster[n].login(f"{n.lower()}.ops") for n in NATIONS}

    async def every_link_measured() -> bool:
        for n in NATIONS:
            for peer, row in (await _peers(ops[n])).items():
                if row["last_link_test_rtt_ms"] is None or not row["connected"]:
                    return False
                assert 0 <= row["last_link_test_rtt_ms"] < 10_000, (n, peer, row)
        return True

    await eventually(every_link_measured, timeout_s=10, what="an RTT for every link")

    async with cluster["USA"].stream(ops["USA"]) as usa_ws:
        await stop_node(cluster["KOR"])
        alert = await recv_until(usa_ws, _alert("USA", "KOR"), timeout_s=10)
        assert "USA→KOR" in alert["message"] and alert["test_id"]
    usa = await cluster["USA"].login("usa.ops")
    kor_status = (await _peers(usa))["KOR"]
    assert kor_status["missed_link_tests"] >= 1
    usa_db = cluster["USA"].node_dir / "hotline.db"
    missed = db_rows(
        usa_db, "SELECT COUNT(*) FROM events WHERE type = 'link_test_missed' AND origin = 'USA'"
    )
    assert missed[0][0] >= 1

    # KOR comes back, but USA's link to it stays cut until KOR's ops centre is watching.
    proxy.cut()
    await start_node(cluster["KOR"])
    kor = await cluster["KOR"].login("kor.ops")
    async with cluster["KOR"].stream(kor) as kor_ws:
        await asyncio.sleep(0.3)
        assert not (await _peers(usa))["KOR"]["connected"]
        proxy.heal()
        # USA's LinkTestMissed events reach KOR with the backlog: KOR's ops centre is told.
        alert = await recv_until(kor_ws, _alert("USA", "KOR"), timeout_s=10)
        assert "USA→KOR" in alert["message"]

    async def healed() -> bool:
        row = (await _peers(usa))["KOR"]
        return bool(row["connected"] and row["backlog"] == 0)

    await eventually(healed, what="USA's link to KOR healed and drained")
    kor_db = cluster["KOR"].node_dir / "hotline.db"
    got = db_rows(
        kor_db, "SELECT COUNT(*) FROM events WHERE type = 'link_test_missed' AND origin = 'USA'"
    )
    assert got[0][0] >= 1
