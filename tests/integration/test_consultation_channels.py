"""Each consultation's own channel across three federated nodes, through the public HTTP API:
listed for the parties' officials at its layer, the FLASH notice on it, then used like any
channel (send, history, receipts, inbox); everyone else gets the errors of any channel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from hotline.settings import load_settings
from tests.e2e.consultation_support import INVOKE, logins, wait_known
from tests.integration.federation_support import TcpProxy, db_rows, federated, tune_federation
from tests.support import Cluster, eventually, recv_until

pytestmark = pytest.mark.anyio


async def listed(client: httpx.AsyncClient, channel: str) -> dict[str, Any] | None:
    resp = await client.get("/api/v1/channels")
    assert resp.status_code == 200, resp.text
    return next((c for c in resp.json() if c["id"] == channel), None)


async def history(client: httpx.AsyncClient, channel: str) -> list[dict[str, Any]]:
    resp = await client.get(f"/api/v1/channels/{channel}/messages")
    assert resp.status_code == 200, resp.text
    rows: list[dict[str, Any]] = resp.json()
    return rows


def assert_error(resp: httpx.Response, status: int, code: str) -> None:
    assert resp.status_code == status, resp.text
    assert resp.json()["error"]["code"] == code, resp.text


async def test_a_consultation_gets_its_own_channel_among_the_parties(cluster: Cluster) -> None:
    c = await logins(cluster)
    async with cluster["KOR"].stream(c["KOR"]) as kws:
        resp = await c["USA"].post("/api/v1/consultations", json=INVOKE)
        assert resp.status_code == 201, resp.text
        invoked = resp.json()
        cid, channel, notice = invoked["id"], invoked["channel"], invoked["notice"]
        assert channel == f"nsa.usa-jpn-kor.{cid}"
        assert notice["channel"] == channel and notice["precedence"] == "flash"
        # The FLASH notice reaches KOR's NSA on the live stream, on the new channel.
        ev = await recv_until(
            kws, lambda e: e.get("type") == "message" and e.get("id") == notice["message_id"]
        )
        assert ev["channel"] == channel and ev["precedence"] == "flash"
    await wait_known(c, cid)

    # Listed for the layer's officials at every party's node, marked as a consultation's.
    for nation, client in c.items():

        async def on_list(client: httpx.AsyncClient = client) -> bool:
            return await listed(client, channel) is not None

        await eventually(on_list, what=f"{channel} listed at {nation}")
        entry = await listed(client, channel)
        assert entry == {
            "id": channel,
            "layer": "nsa",
            "members": ["USA", "JPN", "KOR"],
            "kind": "trilateral",
            "max_classification": "top_secret",
            "consultation": {"id": cid, "subject": INVOKE["subject"], "closed": False},
        }, nation
        compact = await listed(client, "nsa.usa-jpn-kor")
        assert compact is not None and compact["consultation"] is None
        # The notice is the channel's first message, with the hotline's deadline and receipts.
        [first] = await history(client, channel)
        assert first["id"] == notice["message_id"]
        assert first["template"] == f"consultation:{cid}" and first["sender"] == "usa.nsa"
    kor_inbox = (await c["KOR"].get("/api/v1/inbox")).json()
    assert notice["message_id"] in [m["id"] for m in kor_inbox]
    detail = (await c["KOR"].get(f"/api/v1/messages/{notice['message_id']}")).json()
    assert detail["escalation"]["KOR"]["state"] == "pending"

    # JPN posts on it; USA and KOR see it and KOR acknowledges it, as on any channel.
    async with cluster["USA"].stream(c["USA"]) as uws:
        resp = await c["JPN"].post(
            f"/api/v1/channels/{channel}/messages",
            json={
                "precedence": "immediate",
                "body": "JPN convenes now.",
                "classification": "secret",
            },
        )
        assert resp.status_code == 201, resp.text
        posted = resp.json()
        assert posted["channel"] == channel and posted["marking"] == "SECRET//REL TO USA, JPN, KOR"
        ev = await recv_until(uws, lambda e: e.get("id") == posted["id"])
        assert ev["type"] == "message" and ev["sender"] == "jpn.nsa"
    for nation in ("USA", "KOR"):

        async def seen(nation: str = nation) -> bool:
            return posted["id"] in [m["id"] for m in await history(c[nation], channel)]

        await eventually(seen, what=f"JPN's message in {channel} at {nation}")
    assert (await c["KOR"].post(f"/api/v1/messages/{posted['id']}/ack")).status_code == 200

    async def kor_acked() -> bool:
        detail = (await c["JPN"].get(f"/api/v1/messages/{posted['id']}")).json()
        return bool(detail["receipts"]["KOR"]["acked_by"] == "kor.nsa")

    await eventually(kor_acked, what="KOR's acknowledgment at JPN")

    # rel_to narrows it like any channel's: KOR never holds a USA-JPN-only message.
    resp = await c["USA"].post(
        f"/api/v1/channels/{channel}/messages",
        json={"precedence": "routine", "body": "For Tokyo only.", "rel_to": ["USA", "JPN"]},
    )
    assert resp.status_code == 201, resp.text
    narrow = resp.json()["id"]

    async def at_jpn() -> bool:
        return narrow in [m["id"] for m in await history(c["JPN"], channel)]

    await eventually(at_jpn, what="the narrowed message at JPN")
    assert narrow not in [m["id"] for m in await history(c["KOR"], channel)]
    resp = await c["USA"].post(
        f"/api/v1/channels/{channel}/messages",
        json={"precedence": "routine", "body": "x", "rel_to": ["USA", "GBR"]},
    )
    assert_error(resp, 422, "not_releasable")

    # Another layer of a party: not a member (and not listed); the compact's errors, unchanged.
    jpn_defense = await cluster["JPN"].login("jpn.defense")
    assert await listed(jpn_defense, channel) is None
    for resp in (
        await jpn_defense.get(f"/api/v1/channels/{channel}/messages"),
        await jpn_defense.post(
            f"/api/v1/channels/{channel}/messages", json={"precedence": "flash", "body": "x"}
        ),
    ):
        assert_error(resp, 403, "not_a_member")
    assert_error(await jpn_defense.get(f"/api/v1/messages/{posted['id']}"), 404, "unknown_message")


async def test_a_bilateral_consultation_gets_a_channel_of_two(cluster: Cluster) -> None:
    kor = await cluster["KOR"].login("kor.defense")
    usa = await cluster["USA"].login("usa.defense")
    jpn = await cluster["JPN"].login("jpn.defense")
    resp = await kor.post(
        "/api/v1/consultations",
        json={**INVOKE, "layer": "defense", "threatened": ["KOR"], "parties": ["KOR", "USA"]},
    )
    assert resp.status_code == 201, resp.text
    cid, channel = resp.json()["id"], resp.json()["channel"]
    assert channel == f"defense.usa-kor.{cid}"
    await wait_known({"USA": usa}, cid)

    async def at_usa() -> bool:
        return await listed(usa, channel) is not None

    await eventually(at_usa, what=f"{channel} listed at USA")
    entry = await listed(usa, channel)
    assert entry is not None
    assert (entry["members"], entry["kind"]) == (["USA", "KOR"], "bilateral")
    # USA answers on it (the send fast path), KOR gets it.
    resp = await usa.post(
        f"/api/v1/channels/{channel}/messages",
        json={"precedence": "flash", "body": "Acknowledged."},
    )
    assert resp.status_code == 201, resp.text
    mid = resp.json()["id"]
    assert resp.json()["rel_to"] == ["USA", "KOR"]

    async def at_kor() -> bool:
        return mid in [m["id"] for m in await history(kor, channel)]

    await eventually(at_kor, what="USA's answer at KOR")
    # JPN is no party: its node never learns of the channel.
    assert await listed(jpn, channel) is None
    assert_error(await jpn.get(f"/api/v1/channels/{channel}/messages"), 404, "unknown_channel")
    assert_error(
        await jpn.post(
            f"/api/v1/channels/{channel}/messages", json={"precedence": "flash", "body": "x"}
        ),
        404,
        "unknown_channel",
    )


async def test_a_closed_consultation_keeps_its_channel_history_but_takes_no_new_message(
    cluster: Cluster,
) -> None:
    c = await logins(cluster)
    resp = await c["USA"].post("/api/v1/consultations", json=INVOKE)
    assert resp.status_code == 201, resp.text
    cid, channel = resp.json()["id"], resp.json()["channel"]
    await wait_known(c, cid)
    resp = await c["JPN"].post(
        f"/api/v1/channels/{channel}/messages",
        json={"precedence": "immediate", "body": "JPN's position follows."},
    )
    assert resp.status_code == 201, resp.text
    before = resp.json()["id"]

    async def at_kor() -> bool:
        return before in [m["id"] for m in await history(c["KOR"], channel)]

    await eventually(at_kor, what="JPN's message at KOR")
    resp = await c["USA"].post(f"/api/v1/consultations/{cid}/phase", json={"phase": "closed"})
    assert resp.status_code == 200, resp.text

    for nation, client in c.items():

        async def closed(client: httpx.AsyncClient = client) -> bool:
            entry = await listed(client, channel)
            return entry is not None and entry["consultation"]["closed"] is True

        await eventually(closed, what=f"{channel} listed as closed at {nation}")
        count = len(await history(client, channel))
        resp = await client.post(
            f"/api/v1/channels/{channel}/messages",
            json={"precedence": "flash", "body": "One more thing."},
        )
        assert_error(resp, 409, "consultation_closed")
        says = resp.json()["error"]["message"]
        assert f"consultation {cid} is closed" in says and "send on nsa.usa-jpn-kor" in says
        # Nothing changed; the history stays readable and its messages can still be acknowledged.
        assert len(await history(client, channel)) == count
    assert (await c["KOR"].post(f"/api/v1/messages/{before}/ack")).status_code == 200
    resp = await c["USA"].post(
        "/api/v1/channels/nsa.usa-jpn-kor/messages",
        json={"precedence": "routine", "body": "Follow-up on the compact's channel."},
    )
    assert resp.status_code == 201, resp.text


async def test_a_message_on_it_may_reach_a_party_before_the_invocation(tmp_path: Path) -> None:
    """Streams of different origins are independent: with USA's link to KOR cut, JPN's message
    on USA's consultation channel reaches KOR first. KOR's ingress takes it (it checks origin,
    signature, order and releasability, not the channel), and the channel opens at KOR, with
    both messages, when USA's invocation lands."""
    proxy = TcpProxy(0)
    await proxy.start()

    def tune(nation: str, node_dir: Path) -> None:
        tune_federation(node_dir, backoff_max_s=0.2)
        if nation == "KOR":
            proxy.upstream_port = load_settings(node_dir, {}).federation.port
        if nation == "USA":
            tune_federation(node_dir, peers={"KOR": f"127.0.0.1:{proxy.port}"})

    try:
        async with federated(tmp_path, ("KOR", "JPN", "USA"), tune=tune) as cluster:
            proxy.cut()
            c = await logins(cluster)
            resp = await c["USA"].post("/api/v1/consultations", json=INVOKE)
            assert resp.status_code == 201, resp.text
            cid, channel = resp.json()["id"], resp.json()["channel"]
            notice = resp.json()["notice"]["message_id"]
            await wait_known({"JPN": c["JPN"]}, cid)
            resp = await c["JPN"].post(
                f"/api/v1/channels/{channel}/messages",
                json={"precedence": "flash", "body": "JPN is on the line."},
            )
            assert resp.status_code == 201, resp.text
            mid = resp.json()["id"]

            async def delivered_at_kor() -> bool:
                detail = (await c["JPN"].get(f"/api/v1/messages/{mid}")).json()
                return detail["receipts"]["KOR"]["delivered_at"] is not None

            await eventually(delivered_at_kor, what="JPN's message delivered at KOR")
            kor_db = cluster["KOR"].node_dir / "hotline.db"
            assert db_rows(kor_db, "SELECT code FROM refused") == []
            unknown = await c["KOR"].get(f"/api/v1/channels/{channel}/messages")
            assert_error(unknown, 404, "unknown_channel")  # the invocation has not landed

            proxy.heal()

            async def opened_at_kor() -> bool:
                if await listed(c["KOR"], channel) is None:
                    return False
                return {notice, mid} <= {m["id"] for m in await history(c["KOR"], channel)}

            await eventually(opened_at_kor, what=f"{channel} with both messages at KOR")
            assert db_rows(kor_db, "SELECT code FROM refused") == []
    finally:
        await proxy.close()
