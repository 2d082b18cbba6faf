"""Consultation, obligations and cadence routes: bad input and illegal transitions get
specific errors and change nothing; obligations and cadence over HTTP."""

from __future__ import annotations

import sqlite3
from typing import Any

import httpx
import pytest

from hotline.store.consultations import PROJECTED_TAGS
from tests.e2e.consultation_support import INVOKE, logins, wait_known
from tests.support import Cluster, LiveNode, eventually

pytestmark = pytest.mark.anyio


def event_count(node: LiveNode) -> int:
    """Consultation and cadence events this node originated (peers' events and the hotline's
    delivery receipts keep landing meanwhile)."""
    marks = ",".join("?" * len(PROJECTED_TAGS))
    db = sqlite3.connect(node.node_dir / "hotline.db")
    try:
        row = db.execute(
            f"SELECT COUNT(*) FROM events WHERE origin = ? AND type IN ({marks})",
            (node.nation, *PROJECTED_TAGS),
        ).fetchone()
        return int(row[0])
    finally:
        db.close()


async def refused(
    node: LiveNode,
    client: httpx.AsyncClient,
    method: str,
    path: str,
    status: int,
    code: str,
    *,
    says: str = "",
    body: Any = None,
) -> None:
    """The request is refused with ``status``/``code`` and the node's log is unchanged."""
    before = event_count(node)
    resp = await client.request(method, path, json=body)
    assert resp.status_code == status, resp.text
    error = resp.json()["error"]
    assert error["code"] == code, error
    assert says in error["message"], error
    assert event_count(node) == before, f"{method} {path} changed the log"


async def test_errors_are_specific_and_change_nothing(cluster: Cluster) -> None:
    c = await logins(cluster)
    usa, jpn = cluster["USA"], cluster["JPN"]
    # 422: well-formed, invalid values.
    for bad, says in (
        ({**INVOKE, "severity": "apocalyptic"}, "'apocalyptic' is not a severity"),
        ({**INVOKE, "layer": "cabinet"}, "layer: 'cabinet' is not one of"),
        ({**INVOKE, "threatened": ["ZZZ"]}, "'ZZZ' is not a party"),
        ({**INVOKE, "threatened": []}, "name at least one"),
        ({**INVOKE, "subject": "  "}, "subject: must not be empty"),
        ({**INVOKE, "parties": ["JPN", "KOR"]}, "cannot invoke a consultation it is not party"),
    ):
        status, code = (403, "forbidden") if "not party" in says else (422, "invalid")
        await refused(usa, c["USA"], "POST", "/api/v1/consultations", status, code, says=says,
                      body=bad)  # fmt: skip
    # 400: malformed (unknown field), 401: no token.
    await refused(usa, c["USA"], "POST", "/api/v1/consultations", 400, "unknown_field",
                  body={**INVOKE, "urgency": "high"})  # fmt: skip
    anon = httpx.AsyncClient(base_url=usa.url)
    usa.clients.append(anon)
    await refused(usa, anon, "POST", "/api/v1/consultations", 401, "no_token", body=INVOKE)
    # 403: the ops centre acknowledges but does not invoke.
    ops = await jpn.login("jpn.ops")
    await refused(jpn, ops, "POST", "/api/v1/consultations", 403, "forbidden",
                  says="jpn.ops is at layer 'ops'", body=INVOKE)  # fmt: skip

    resp = await c["USA"].post("/api/v1/consultations", json=INVOKE)
    assert resp.status_code == 201, resp.text
    cid = resp.json()["id"]
    base = f"/api/v1/consultations/{cid}"
    await wait_known(c, cid)
    # 404: no such consultation or statement.
    await refused(jpn, c["JPN"], "GET", "/api/v1/consultations/c-nope", 404,
                  "unknown_consultation")  # fmt: skip
    await refused(jpn, c["JPN"], "POST", f"{base}/statements/s-nope/approve", 404, "not_found",
                  body={"version": 1, "text_hash": "sha256:00"})  # fmt: skip
    # 403: ops may acknowledge, not draft or convene.
    await refused(jpn, ops, "POST", f"{base}/statements", 403, "forbidden",
                  says="'draft' is allowed only for", body={"text": "x"})  # fmt: skip
    await refused(jpn, ops, "POST", f"{base}/convene", 403, "forbidden")
    # 409: already done; the invoking nation acknowledged by invoking.
    assert (await ops.post(f"{base}/ack")).status_code == 200
    await refused(jpn, c["JPN"], "POST", f"{base}/ack", 409, "illegal_transition",
                  says="JPN already acknowledged")  # fmt: skip
    await refused(usa, c["USA"], "POST", f"{base}/ack", 409, "illegal_transition",
                  says="USA already acknowledged")  # fmt: skip
    # 422: a phase that does not exist; 409: a phase that goes back.
    await refused(usa, c["USA"], "POST", f"{base}/phase", 422, "invalid",
                  says="phase: 'done' is not one of", body={"phase": "done"})  # fmt: skip
    await refused(usa, c["USA"], "POST", f"{base}/phase", 409, "illegal_transition",
                  says="phases only move forward", body={"phase": "share_information"})  # fmt: skip
    # Statements: wrong hash 422, stale version 409, empty text 422.
    s = (await c["USA"].post(f"{base}/statements", json={"text": "Draft."})).json()["statement"]
    approve = f"{base}/statements/{s['id']}/approve"
    await refused(usa, c["USA"], "POST", approve, 422, "invalid", says="text_hash",
                  body={"version": 1, "text_hash": "sha256:" + "0" * 64})  # fmt: skip
    await refused(usa, c["USA"], "POST", approve, 409, "conflict", says="is at version 1",
                  body={"version": 2, "text_hash": s["text_hash"]})  # fmt: skip
    await refused(usa, c["USA"], "POST", f"{base}/statements", 422, "invalid",
                  says="text: must not be empty", body={"text": ""})  # fmt: skip
    await refused(usa, c["USA"], "POST", f"{base}/statements", 409, "conflict",
                  says="written against version 3",
                  body={"statement_id": s["id"], "text": "B", "amends": 3})  # fmt: skip
    # After closing, everything is refused with the state named.
    assert (await c["USA"].post(f"{base}/phase", json={"phase": "closed"})).status_code == 200
    await refused(usa, c["USA"], "POST", f"{base}/position", 409, "illegal_transition",
                  says="is 'closed'", body={"text": "late"})  # fmt: skip


async def test_list_and_metrics(cluster: Cluster) -> None:
    c = await logins(cluster)
    first = (await c["USA"].post("/api/v1/consultations", json=INVOKE)).json()["id"]
    second = (
        await c["KOR"].post(
            "/api/v1/consultations",
            json={**INVOKE, "threatened": ["KOR"], "parties": ["USA", "KOR"], "layer": "defense"},
        )
    ).json()
    assert second["channel"] == f"defense.usa-kor.{second['id']}"
    assert list(second["parties"]) == ["USA", "KOR"]
    await wait_known({"USA": c["USA"]}, second["id"])
    rows = (await c["USA"].get("/api/v1/consultations")).json()
    assert [r["id"] for r in rows] == [second["id"], first]
    # JPN is no party to the bilateral consultation: its node never holds it.
    await wait_known({"JPN": c["JPN"]}, first)
    assert [r["id"] for r in (await c["JPN"].get("/api/v1/consultations")).json()] == [first]
    assert (await c["USA"].post(f"/api/v1/consultations/{second['id']}/convene")).status_code == 200
    view = (await c["USA"].get(f"/api/v1/consultations/{second['id']}")).json()
    assert view["metrics"]["USA"]["convene_s"] >= 0 and view["metrics"]["KOR"]["ack_s"] == 0
    assert [t["what"] for t in view["timeline"]][-1] == "convened"
    assert (await c["USA"].get("/api/v1/consultations?phase=closed")).json() == []
    bad = await c["USA"].get("/api/v1/consultations?phase=finished")
    assert bad.status_code == 422


async def test_obligations_over_http(cluster: Cluster) -> None:
    client = await cluster["KOR"].login("kor.ops")

    async def owed(query: str) -> dict[str, Any]:
        resp = await client.get(f"/api/v1/obligations?{query}")
        assert resp.status_code == 200, resp.text
        body: dict[str, Any] = resp.json()
        return body

    japan = await owed("threatened=JPN")
    assert {n: o["kind"] for n, o in japan["obligations"].items()} == {
        "USA": "defend",
        "JPN": "threatened",
        "KOR": "consult",
    }
    [art5] = japan["obligations"]["USA"]["sources"]
    assert (art5["treaty"], art5["article"], art5["legal"]) == ("us-japan-1960", "Art. V", True)
    usa = await owed("threatened=usa")
    assert usa["obligations"]["JPN"]["kind"] == "consult"  # Art. V covers only Japan
    assert usa["obligations"]["KOR"]["sources"][0]["treaty"] == "us-rok-1953"
    both = await owed("threatened=JPN,KOR")
    assert both == await owed("threatened=JPN&threatened=KOR")
    assert both["threatened"] == ["JPN", "KOR"]
    assert [s["treaty"] for s in both["obligations"]["USA"]["sources"]] == [
        "us-japan-1960",
        "us-rok-1953",
    ]
    assert both["obligations"]["JPN"] == {
        "kind": "consult",
        "threatened": True,
        "sources": [
            {
                "treaty": "camp-david-2023",
                "article": "Commitment to Consult",
                "title": both["obligations"]["JPN"]["sources"][0]["title"],
                "legal": False,
                "kind": "consult",
                "toward": ["KOR"],
            }
        ],
    }
    for query, says in (("", "name at least one"), ("threatened=ZZZ", "'ZZZ' is not a party")):
        resp = await client.get(f"/api/v1/obligations?{query}")
        assert resp.status_code == 422 and says in resp.json()["error"]["message"]
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path in (
        "/api/v1/consultations",
        "/api/v1/consultations/{consultation_id}/statements/{statement_id}/approve",
        "/api/v1/obligations",
        "/api/v1/cadence/held",
    ):
        assert path in paths, sorted(paths)


async def test_cadence_over_http(cluster: Cluster) -> None:
    c = await logins(cluster, "leaders")
    status = (await c["JPN"].get("/api/v1/cadence")).json()
    ids = [i["meeting_id"] for i in status["items"]]
    assert ids == [
        "leaders-summit",
        "foreign-ministers",
        "defense-ministers",
        "national-security-advisers",
        "freedom-edge",
    ]
    assert status["since"] == "2023-08-18T00:00:00.000Z"
    assert all(i["overdue"] for i in status["items"])  # nothing recorded since 2023
    assert len(status["warnings"]) == 5 and "Freedom Edge" in " ".join(status["warnings"])

    resp = await c["USA"].post(
        "/api/v1/cadence/held", json={"meeting_id": "leaders-summit", "at": "2099-01-01T00:00:00Z"}
    )
    assert resp.status_code == 422 and "in the future" in resp.json()["error"]["message"]
    resp = await c["USA"].post("/api/v1/cadence/held", json={"meeting_id": "leaders-summit"})
    assert resp.status_code == 201, resp.text
    held = resp.json()
    assert held["overdue"] is False and held["recorded"]["by"] == "usa.leaders"

    async def seen_everywhere() -> bool:
        for client in c.values():
            items = (await client.get("/api/v1/cadence")).json()["items"]
            summit = next(i for i in items if i["meeting_id"] == "leaders-summit")
            if summit["last_held"] != held["last_held"] or summit["overdue"]:
                return False
        return True

    await eventually(seen_everywhere, what="the summit recorded at every node")
    kor = (await c["KOR"].get("/api/v1/cadence")).json()
    assert kor["overdue"] == [
        "foreign-ministers",
        "defense-ministers",
        "national-security-advisers",
        "freedom-edge",
    ]
    ops = await cluster["KOR"].login("kor.ops")
    for client, body, status_code, says in (
        (ops, {"meeting_id": "freedom-edge"}, 403, "layer 'ops'"),
        (c["KOR"], {"meeting_id": "g7"}, 422, "'g7' is not a meeting"),
        (c["KOR"], {"meeting_id": "freedom-edge", "at": "last tuesday"}, 422, "ISO 8601"),
    ):
        resp = await client.post("/api/v1/cadence/held", json=body)
        assert resp.status_code == status_code, resp.text
        assert says in resp.json()["error"]["message"]
    resp = await c["KOR"].post(
        "/api/v1/cadence/held", json={"meeting_id": "freedom-edge", "at": "2024-06-27"}
    )
    assert resp.status_code == 201 and resp.json()["last_held"] == "2024-06-27T00:00:00.000Z"
