"""Escalation of an unacknowledged FLASH across three federated nodes on one FakeClock: each
recipient nation's own node calls its own people, pushes the call on their streams, federates
the state to the other nodes, and stops once its nation acknowledges."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hotline.ports import FakeClock
from hotline.service.views import iso
from tests.support import Cluster, LiveNode, eventually, recv_until, running_cluster

pytestmark = pytest.mark.anyio

FLASH_S = 600.0
TRI = "ops.usa-jpn-kor"
JPN_ALTERNATES = ["jpn.ops.2", "jpn.ops.3"]
JPN_OPS_CENTRE = ["jpn.ops", "jpn.ops.2", "jpn.ops.3"]
KOR_OPS_CENTRE = ["kor.ops", "kor.ops.2", "kor.ops.3"]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def fake_time_cluster(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Cluster]:
    async with running_cluster(tmp_path, clock=clock) as c:
        yield c


async def detail(client: httpx.AsyncClient, mid: str) -> dict[str, Any]:
    resp = await client.get(f"/api/v1/messages/{mid}")
    assert resp.status_code == 200, resp.text
    out: dict[str, Any] = resp.json()
    return out


async def wait_level(
    client: httpx.AsyncClient, mid: str, nation: str, level: int, where: str
) -> dict[str, Any]:
    async def reached() -> bool:
        return bool((await detail(client, mid))["escalation"][nation]["level"] >= level)

    await eventually(reached, what=f"{nation} at level {level} seen at {where}")
    return dict((await detail(client, mid))["escalation"][nation])


def escalations_in_db(node: LiveNode, nation: str) -> list[int]:
    """Levels of the stored escalation events of ``nation`` (any message), in append order."""
    path = node.node_dir / "hotline.db"
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        rows = db.execute(
            "SELECT json_extract(raw, '$.body.level') FROM events "
            "WHERE type = 'message_escalated' AND json_extract(raw, '$.body.nation') = ? "
            "ORDER BY seq",
            (nation,),
        ).fetchall()
    return [int(r[0]) for r in rows]


async def test_unacknowledged_flash_escalates_per_nation_until_acknowledged(
    fake_time_cluster: Cluster, clock: FakeClock
) -> None:
    cluster = fake_time_cluster
    t0 = clock.now()
    usa = await cluster["USA"].login("usa.ops")
    jpn_alt = await cluster["JPN"].login("jpn.ops.2")
    jpn = await cluster["JPN"].login("jpn.ops")
    kor = await cluster["KOR"].login("kor.ops")
    async with cluster["JPN"].stream(jpn_alt) as jws:
        resp = await usa.post(
            f"/api/v1/channels/{TRI}/messages", json={"precedence": "flash", "body": "Launch"}
        )
        assert resp.status_code == 201, resp.text
        mid = resp.json()["id"]
        assert resp.json()["ack_deadline"] == iso(t0 + FLASH_S)
        await recv_until(jws, lambda e: e.get("type") == "message" and e["id"] == mid)

        async def delivered_everywhere() -> bool:
            d = await detail(usa, mid)
            return all(d["receipts"][n]["delivered_at"] for n in ("JPN", "KOR"))

        await eventually(delivered_everywhere, what="delivery at JPN and KOR")
        before = await detail(usa, mid)
        assert before["escalation"]["JPN"] == {
            "state": "pending",
            "level": 0,
            "notified": [],
            "escalated_at": None,
            "next_at": iso(t0 + FLASH_S),
        }
        assert escalations_in_db(cluster["JPN"], "JPN") == []

        # ---- level 1: the alternates of the channel's layer ------------------------------
        clock.advance(FLASH_S + 1)
        pushed = await recv_until(
            jws, lambda e: e.get("type") == "escalation" and e["nation"] == "JPN"
        )
        assert pushed == {
            "type": "escalation",
            "message_id": mid,
            "channel": TRI,
            "precedence": "flash",
            "nation": "JPN",
            "level": 1,
            "notified": JPN_ALTERNATES,
            "at": iso(t0 + FLASH_S + 1),
            "next_at": iso(t0 + 2 * FLASH_S),
        }
        at_jpn = (await detail(jpn, mid))["escalation"]["JPN"]
        expected_1 = {
            "state": "escalated",
            "level": 1,
            "notified": JPN_ALTERNATES,
            "escalated_at": iso(t0 + FLASH_S + 1),
            "next_at": iso(t0 + 2 * FLASH_S),
        }
        assert at_jpn == expected_1
        assert await wait_level(usa, mid, "JPN", 1, "USA") == expected_1  # federated
        # KOR escalates on its own node, independently
        kor_1 = await wait_level(kor, mid, "KOR", 1, "KOR")
        assert kor_1["notified"] == ["kor.ops.2", "kor.ops.3"]

        # ---- level 2: the nation's ops centre --------------------------------------------
        clock.advance(FLASH_S)
        pushed = await recv_until(
            jws, lambda e: e.get("type") == "escalation" and e["nation"] == "JPN"
        )
        assert (pushed["level"], pushed["notified"]) == (2, JPN_OPS_CENTRE)
        assert pushed["next_at"] == iso(t0 + 3 * FLASH_S)
        at_usa = await wait_level(usa, mid, "JPN", 2, "USA")
        assert (at_usa["state"], at_usa["notified"]) == ("escalated", JPN_OPS_CENTRE)
        await wait_level(usa, mid, "KOR", 2, "USA")

        # ---- JPN acknowledges: no further escalation for JPN, KOR goes on ----------------
        resp = await jpn.post(f"/api/v1/messages/{mid}/ack")
        assert resp.status_code == 200, resp.text
        assert resp.json()["escalation"]["JPN"]["state"] == "acknowledged"
        assert resp.json()["escalation"]["JPN"]["next_at"] is None
        # a second FLASH, due one step later than the first: when JPN's node escalates it,
        # its scheduler has run past the first message's next deadline too
        resp = await usa.post(
            f"/api/v1/channels/{TRI}/messages", json={"precedence": "flash", "body": "Second"}
        )
        assert resp.status_code == 201, resp.text
        barrier = resp.json()["id"]
        await recv_until(jws, lambda e: e.get("type") == "message" and e["id"] == barrier)
        clock.advance(FLASH_S)
        pushed = await recv_until(
            jws, lambda e: e.get("type") == "escalation" and e["nation"] == "JPN"
        )
        assert (pushed["message_id"], pushed["level"]) == (barrier, 1)
        assert escalations_in_db(cluster["JPN"], "JPN") == [1, 2, 1]
        after = (await detail(jpn, mid))["escalation"]["JPN"]
        assert (after["state"], after["level"], after["next_at"]) == ("acknowledged", 2, None)
        kor_3 = await wait_level(usa, mid, "KOR", 3, "USA")
        assert kor_3["state"] == "escalated"
        assert kor_3["notified"] == KOR_OPS_CENTRE

    async def usa_sees_jpn_ack() -> bool:
        return bool((await detail(usa, mid))["escalation"]["JPN"]["state"] == "acknowledged")

    await eventually(usa_sees_jpn_ack, what="JPN's acknowledgment at USA")
    final = await detail(usa, mid)
    assert final["escalation"]["JPN"]["level"] == 2
    assert final["escalation"]["USA"]["state"] == "sender"
    assert final["acknowledged"] is False  # KOR has not acknowledged


async def test_ops_centre_is_called_for_a_layer_it_cannot_read(
    fake_time_cluster: Cluster, clock: FakeClock
) -> None:
    """Level 2 calls JPN's ops centre about a defense message: the call reaches its stream,
    but without the message's text (it is not a member of the defense layer)."""
    cluster = fake_time_cluster
    usa = await cluster["USA"].login("usa.defense")
    jdef = await cluster["JPN"].login("jpn.defense")
    jops = await cluster["JPN"].login("jpn.ops")
    body = "defense-only text 41c9"
    async with cluster["JPN"].stream(jops) as ows:
        resp = await usa.post(
            "/api/v1/channels/defense.usa-jpn/messages",
            json={"precedence": "flash", "body": body},
        )
        assert resp.status_code == 201, resp.text
        mid = resp.json()["id"]

        async def at_jpn() -> bool:
            return (await jdef.get(f"/api/v1/messages/{mid}")).status_code == 200

        await eventually(at_jpn, what="the message at JPN's node")
        clock.advance(2 * FLASH_S)  # a long outage: straight to level 2, called once
        pushed = await recv_until(ows, lambda e: e.get("type") in ("escalation", "message"))
        assert pushed["type"] == "escalation"
        assert (pushed["message_id"], pushed["level"]) == (mid, 2)
        assert pushed["notified"] == JPN_OPS_CENTRE
        assert body not in str(pushed)
        assert escalations_in_db(cluster["JPN"], "JPN") == [2]
    # the ops centre still cannot read the message itself
    assert (await jops.get(f"/api/v1/messages/{mid}")).status_code == 404
    state = (await jdef.get(f"/api/v1/messages/{mid}")).json()["escalation"]["JPN"]
    assert (state["state"], state["level"]) == ("escalated", 2)
