"""The commitment to consult across three federated nodes, through the public HTTP contract."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from hotline.ports import FakeClock
from tests.e2e.consultation_support import INVOKE, get, logins, statement, wait_for, wait_known
from tests.support import Cluster, eventually, recv_until, running_cluster

pytestmark = pytest.mark.anyio

JOINT = "We condemn the launch and will coordinate our response."


async def test_invoke_ack_draft_approve_adopted_at_every_node(cluster: Cluster) -> None:
    c = await logins(cluster)
    async with cluster["JPN"].stream(c["JPN"]) as jws, cluster["KOR"].stream(c["KOR"]) as kws:
        resp = await c["USA"].post("/api/v1/consultations", json=INVOKE)
        assert resp.status_code == 201, resp.text
        invoked = resp.json()
        cid = invoked["id"]
        assert invoked["channel"] == f"nsa.usa-jpn-kor.{cid}"  # its own channel
        assert invoked["phase"] == "share_information"
        assert {n: o["kind"] for n, o in invoked["obligations"].items()} == {
            "USA": "defend",
            "JPN": "threatened",
            "KOR": "consult",
        }
        assert invoked["obligations"]["USA"]["sources"][0]["treaty"] == "us-japan-1960"
        assert invoked["obligations"]["KOR"]["sources"][0]["legal"] is False
        assert invoked["parties"]["USA"]["state"] == "invoker"
        assert invoked["parties"]["JPN"]["state"] == "notified"
        assert invoked["parties"]["JPN"]["owes"]["step"] == "ack"
        notice = invoked["notice"]
        assert notice["precedence"] == "flash" and notice["channel"] == invoked["channel"]

        # The FLASH notice reaches each party's NSA-layer officials; so does the consultation.
        for ws in (jws, kws):
            seen: dict[str, dict[str, Any]] = {}

            def wanted(e: dict[str, Any], seen: dict[str, dict[str, Any]] = seen) -> bool:
                if e.get("type") == "message" and e.get("id") == notice["message_id"]:
                    seen["message"] = e
                if e.get("type") == "consultation" and e.get("consultation_id") == cid:
                    seen["consultation"] = e
                return len(seen) == 2

            await recv_until(ws, wanted)
            assert seen["message"]["precedence"] == "flash"
            assert cid in seen["message"]["body"]
            assert seen["consultation"]["event"] == "consultation_invoked"
            assert seen["consultation"]["obligations"]["USA"]["kind"] == "defend"

    await wait_known(c, cid)
    # The message follows the hotline's rules at the receivers: deadline and receipts.
    msg = (await c["KOR"].get(f"/api/v1/messages/{notice['message_id']}")).json()
    assert msg["precedence"] == "flash" and msg["escalation"]["KOR"]["state"] == "pending"

    for n in ("JPN", "KOR"):
        resp = await c[n].post(f"/api/v1/consultations/{cid}/ack")
        assert resp.status_code == 200, resp.text
        assert resp.json()["parties"][n]["state"] == "acknowledged"

    async def notice_acked() -> bool:
        detail = (await c["USA"].get(f"/api/v1/messages/{notice['message_id']}")).json()
        return all(detail["receipts"][n]["acked_by"] == f"{n.lower()}.nsa" for n in ("JPN", "KOR"))

    # Acknowledging the consultation acknowledged its FLASH notice: its escalation stops.
    await eventually(notice_acked, what="the notice acknowledged by JPN and KOR")

    resp = await c["USA"].post(f"/api/v1/consultations/{cid}/statements", json={"text": JOINT})
    assert resp.status_code == 201, resp.text
    drafted = resp.json()["statement"]
    sid, version, digest = drafted["id"], drafted["version"], drafted["text_hash"]
    assert version == 1 and digest.startswith("sha256:") and drafted["adopted"] is False
    await wait_for(c, cid, "the draft", lambda v: statement(v, sid) is not None)

    for n in ("USA", "JPN", "KOR"):
        resp = await c[n].post(
            f"/api/v1/consultations/{cid}/statements/{sid}/approve",
            json={"version": version, "text_hash": digest},
        )
        assert resp.status_code == 200, resp.text
        assert n in resp.json()["statement"]["approved_by"]

    views = await wait_for(
        c, cid, "adoption", lambda v: (s := statement(v, sid)) is not None and s["adopted"]
    )
    for nation, view in views.items():
        s = statement(view, sid)
        assert s is not None
        assert s["adopted_version"] == 1 and s["text"] == JOINT, nation
        assert sorted(s["approved_by"]) == ["JPN", "KOR", "USA"], nation
        # Every approval is signed by its nation's node and verifies at every node.
        assert all(a["verified"] for a in s["approvals"]), (nation, s["approvals"])
        assert {a["nation"] for a in s["approvals"]} == {"USA", "JPN", "KOR"}
        assert any("adopted by USA, JPN, KOR" in t["what"] for t in view["timeline"])
        assert view["metrics"]["JPN"]["ack_s"] is not None
    # The same signed approvals everywhere.
    sigs = {n: sorted(a["sig"] for a in _s(v, sid)["approvals"]) for n, v in views.items()}
    assert sigs["USA"] == sigs["JPN"] == sigs["KOR"]


async def test_amendment_voids_approvals_and_phases_move_forward(cluster: Cluster) -> None:
    c = await logins(cluster)
    cid = (await c["USA"].post("/api/v1/consultations", json=INVOKE)).json()["id"]
    await wait_known(c, cid)
    drafted = (
        await c["JPN"].post(f"/api/v1/consultations/{cid}/statements", json={"text": JOINT})
    ).json()["statement"]
    sid = drafted["id"]
    await wait_for(c, cid, "the draft", lambda v: statement(v, sid) is not None)
    approve = {"version": 1, "text_hash": drafted["text_hash"]}
    url = f"/api/v1/consultations/{cid}/statements/{sid}/approve"
    assert (await c["USA"].post(url, json=approve)).status_code == 200
    assert (await c["JPN"].post(url, json=approve)).status_code == 200
    await wait_for(
        {"JPN": c["JPN"]}, cid, "USA's approval", lambda v: len(_s(v, sid)["approved_by"]) == 2
    )
    amended = await c["JPN"].post(
        f"/api/v1/consultations/{cid}/statements",
        json={"statement_id": sid, "text": JOINT + " We call for restraint.", "amends": 1},
    )
    assert amended.status_code == 201, amended.text
    v2 = amended.json()["statement"]
    assert v2["version"] == 2 and v2["approved_by"] == [] and v2["adopted"] is False
    assert all(a["void"] for a in v2["approvals"])
    # Approving the old version now is a conflict; KOR's approval of v1 cannot adopt it.
    views = await wait_for(c, cid, "the amendment", lambda v: _s(v, sid)["version"] == 2)
    stale = await c["KOR"].post(url, json=approve)
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "conflict"
    assert _s(views["KOR"], sid)["adopted"] is False

    for phase in ("align_messaging", "coordinate_response"):
        resp = await c["KOR"].post(f"/api/v1/consultations/{cid}/phase", json={"phase": phase})
        assert resp.status_code == 200, resp.text
    back = await c["USA"].post(
        f"/api/v1/consultations/{cid}/phase", json={"phase": "share_information"}
    )
    # USA may not have seen KOR's move yet: either way going back is refused or a no-op move.
    assert back.status_code in (200, 409)
    await wait_for(c, cid, "coordinate_response", lambda v: v["phase"] == "coordinate_response")
    closed = await c["USA"].post(f"/api/v1/consultations/{cid}/phase", json={"phase": "closed"})
    assert closed.status_code == 200, closed.text
    await wait_for(c, cid, "closed", lambda v: v["phase"] == "closed")
    late = await c["KOR"].post(f"/api/v1/consultations/{cid}/position", json={"text": "x"})
    assert late.status_code == 409
    assert "'closed'" in late.json()["error"]["message"]


async def test_concurrent_last_approvals_adopt_everywhere(cluster: Cluster) -> None:
    """JPN and KOR give the last two approvals at the same moment, each at its own node:
    neither node sees all three when it decides, yet every node ends adopted."""
    c = await logins(cluster, "foreign")
    cid = (await c["USA"].post("/api/v1/consultations", json=INVOKE)).json()["id"]
    await wait_known(c, cid)
    s = (
        await c["USA"].post(f"/api/v1/consultations/{cid}/statements", json={"text": JOINT})
    ).json()["statement"]
    sid = s["id"]
    await wait_for(c, cid, "the draft", lambda v: statement(v, sid) is not None)
    body = {"version": 1, "text_hash": s["text_hash"]}
    url = f"/api/v1/consultations/{cid}/statements/{sid}/approve"
    assert (await c["USA"].post(url, json=body)).status_code == 200
    jpn, kor = await asyncio.gather(c["JPN"].post(url, json=body), c["KOR"].post(url, json=body))
    assert jpn.status_code == kor.status_code == 200, (jpn.text, kor.text)
    views = await wait_for(c, cid, "adoption", lambda v: _s(v, sid)["adopted"])
    adopted_at = {_s(v, sid)["adopted_at"] for v in views.values()}
    assert len(adopted_at) == 1  # the same derived adoption at every node

    # Two officials of one nation approving a fresh statement at once, at the same node: the
    # writer serialises them, one wins, the other gets a 409 naming the state.
    s2 = (
        await c["USA"].post(f"/api/v1/consultations/{cid}/statements", json={"text": "Second."})
    ).json()["statement"]
    url2 = f"/api/v1/consultations/{cid}/statements/{s2['id']}/approve"
    body2 = {"version": 1, "text_hash": s2["text_hash"]}
    other = await cluster["USA"].login("usa.defense")
    both = await asyncio.gather(c["USA"].post(url2, json=body2), other.post(url2, json=body2))
    assert sorted(r.status_code for r in both) == [200, 409]
    refused = next(r for r in both if r.status_code == 409).json()["error"]
    assert refused["code"] == "illegal_transition" and "USA already approved" in refused["message"]


async def test_late_party_escalates_only_on_its_own_node(tmp_path: Path) -> None:
    clock = FakeClock()
    async with running_cluster(tmp_path, clock=clock) as cluster:
        c = await logins(cluster)
        cid = (await c["USA"].post("/api/v1/consultations", json=INVOKE)).json()["id"]
        await wait_known(c, cid)
        assert (await c["JPN"].post(f"/api/v1/consultations/{cid}/convene")).status_code == 200
        async with cluster["KOR"].stream(await cluster["KOR"].login("kor.leaders")) as ws:
            clock.advance(15 * 60 + 1)  # critical: acknowledge within 15 minutes
            ev = await recv_until(
                ws,
                lambda e: (
                    e.get("type") == "consultation" and e.get("event") == "consultation_escalated"
                ),
            )
            assert ev["nation"] == "KOR" and ev["to_layer"] == "leaders"
        views = await wait_for(c, cid, "KOR escalated", lambda v: v["escalations"])
        for view in views.values():
            [esc] = view["escalations"]
            assert (esc["nation"], esc["from_layer"], esc["to_layer"], esc["missed"]) == (
                "KOR",
                "nsa",
                "leaders",
                "ack",
            )
            assert view["parties"]["KOR"]["layer"] == "leaders"
            assert view["parties"]["JPN"]["escalations"] == 0
        # Origin-authoritative: every node holds KOR's escalation as KOR's event, and no
        # other node emitted one for KOR.
        for live in cluster.nodes.values():
            db = sqlite3.connect(live.node_dir / "hotline.db")
            try:
                origins = db.execute(
                    "SELECT origin FROM events WHERE type = 'consultation_escalated'"
                ).fetchall()
            finally:
                db.close()
            assert origins == [("KOR",)], (live.nation, origins)
        # KOR's leaders answer: nothing more is due for KOR.
        kor_leader = await cluster["KOR"].login("kor.leaders")
        resp = await kor_leader.post(f"/api/v1/consultations/{cid}/convene")
        assert resp.status_code == 200, resp.text
        assert resp.json()["metrics"]["KOR"]["escalations"] == 1
        clock.advance(3600)
        await asyncio.sleep(0.3)
        assert len((await get(c["USA"], cid))["escalations"]) == 1


def _s(view: dict[str, Any], sid: str) -> dict[str, Any]:
    found = statement(view, sid)
    assert found is not None, f"no statement {sid}"
    return found
