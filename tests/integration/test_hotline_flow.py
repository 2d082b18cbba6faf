"""The hotline across three federated nodes, through the public API."""

from __future__ import annotations

import pytest

from tests.support import Cluster, recv_until

pytestmark = pytest.mark.anyio


async def test_flash_round_trip_with_receipts(cluster: Cluster) -> None:
    usa = await cluster["USA"].login("usa.ops")
    jpn = await cluster["JPN"].login("jpn.ops")
    kor = await cluster["KOR"].login("kor.ops")
    async with cluster["JPN"].stream(jpn) as jws, cluster["KOR"].stream(kor) as kws:
        resp = await usa.post(
            "/api/v1/channels/ops.usa-jpn-kor/messages",
            json={"precedence": "flash", "body": "Launch detected", "classification": "secret"},
        )
        assert resp.status_code == 201, resp.text
        mid = resp.json()["id"]
        for ws in (jws, kws):
            ev = await recv_until(ws, lambda e: e.get("type") == "message")
            assert ev["id"] == mid and ev["precedence"] == "flash"
            assert ev["marking"] == "SECRET//REL TO USA, JPN, KOR"
        assert (await jpn.post(f"/api/v1/messages/{mid}/ack")).status_code == 200
        again = await jpn.post(f"/api/v1/messages/{mid}/ack")
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "already_acknowledged"
        assert (await kor.post(f"/api/v1/messages/{mid}/ack")).status_code == 200

    async def both_acked() -> bool:
        detail = (await usa.get(f"/api/v1/messages/{mid}")).json()
        return all(detail["receipts"][n]["acked_by"] for n in ("JPN", "KOR"))

    from tests.support import eventually

    await eventually(both_acked, what="USA sees both acknowledgments")
    detail = (await usa.get(f"/api/v1/messages/{mid}")).json()
    assert detail["receipts"]["JPN"]["acked_by"] == "jpn.ops"
    assert detail["receipts"]["KOR"]["delivered_at"] is not None
    assert detail["escalation"]["JPN"]["state"] == "acknowledged"
    assert detail["acknowledged"] is True
