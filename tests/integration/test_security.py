"""Who may see what, through the public API of real federated nodes: layers and membership,
releasability (``rel_to``) across federation, password storage, accounts of a production
(non-demo) node, and tokens bound to the official's own nation's node."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import msgspec
import pytest

from hotline.node import PASSWORDS_FILE, init_node, serve
from tests.support import Cluster, eventually, free_base_port, recv_until

pytestmark = pytest.mark.anyio

TRI = "ops.usa-jpn-kor"


async def test_official_lists_only_its_layers_channels_of_its_nation(cluster: Cluster) -> None:
    jpn = await cluster["JPN"].login("jpn.defense")
    resp = await jpn.get("/api/v1/channels")
    assert resp.status_code == 200, resp.text
    assert sorted(c["id"] for c in resp.json()) == sorted(
        ["defense.usa-jpn-kor", "defense.usa-jpn", "defense.jpn-kor"]
    )
    assert {c["layer"] for c in resp.json()} == {"defense"}
    kor = await cluster["KOR"].login("kor.leaders.2")
    ids = sorted(c["id"] for c in (await kor.get("/api/v1/channels")).json())
    assert ids == sorted(["leaders.usa-jpn-kor", "leaders.usa-kor", "leaders.jpn-kor"])


async def test_another_layers_channel_is_forbidden(cluster: Cluster) -> None:
    usa = await cluster["USA"].login("usa.ops")
    sent = await usa.post(f"/api/v1/channels/{TRI}/messages", json=_msg("ops only"))
    assert sent.status_code == 201, sent.text
    jpn = await cluster["JPN"].login("jpn.defense")
    resp = await jpn.get(f"/api/v1/channels/{TRI}/messages")
    assert resp.status_code == 403, resp.text
    assert resp.json()["error"] == {
        "code": "not_a_member",
        "message": f"jpn.defense is not a member of {TRI}",
    }
    # nor can another layer of the sender's own nation read the message by id
    usa_def = await cluster["USA"].login("usa.defense")
    resp = await usa_def.get(f"/api/v1/messages/{sent.json()['id']}")
    assert resp.status_code == 404, resp.text


def _msg(body: str, **extra: object) -> dict[str, object]:
    return {"precedence": "priority", "body": body, **extra}


def _events_raw(cluster: Cluster, nation: str) -> list[bytes]:
    path = cluster[nation].node_dir / "hotline.db"
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return [bytes(r[0]) for r in db.execute("SELECT raw FROM events")]


async def test_rel_to_keeps_a_message_away_from_a_member_nation(cluster: Cluster) -> None:
    usa = await cluster["USA"].login("usa.ops")
    jpn = await cluster["JPN"].login("jpn.ops")
    kor = await cluster["KOR"].login("kor.ops")
    secret_body = "for Tokyo only: 7d3f0c"
    async with cluster["KOR"].stream(kor) as kws, cluster["JPN"].stream(jpn) as jws:
        resp = await usa.post(
            f"/api/v1/channels/{TRI}/messages",
            json=_msg(secret_body, rel_to=["USA", "JPN"], classification="secret"),
        )
        assert resp.status_code == 201, resp.text
        hidden = resp.json()
        assert hidden["rel_to"] == ["USA", "JPN"]
        assert hidden["marking"] == "SECRET//REL TO USA, JPN"
        got = await recv_until(jws, lambda e: e.get("type") == "message")
        assert got["id"] == hidden["id"]
        # JPN reads and acknowledges it: those receipts must not travel to KOR either
        assert (await jpn.post(f"/api/v1/messages/{hidden['id']}/ack")).status_code == 200
        # a later message to everyone: federation streams are ordered, so once KOR holds it,
        # KOR would already hold the restricted one and its receipts had they been sent
        resp = await usa.post(f"/api/v1/channels/{TRI}/messages", json=_msg("for everyone"))
        assert resp.status_code == 201, resp.text
        public_id = resp.json()["id"]
        first = await recv_until(kws, lambda e: e.get("type") == "message")
        assert first["id"] == public_id  # the first message KOR's stream ever shows

    async def jpn_ack_at_usa() -> bool:
        detail = (await usa.get(f"/api/v1/messages/{hidden['id']}")).json()
        return bool(detail["receipts"]["JPN"]["acked_by"] == "jpn.ops")

    await eventually(jpn_ack_at_usa, what="JPN's acknowledgment reaching USA")
    jpn_ack_seen = _events_raw(cluster, "USA")

    async def kor_has_everything() -> bool:
        # KOR has JPN's delivery of the public message; JPN's stream to KOR carried any
        # receipt of the restricted message before it
        detail = (await kor.get(f"/api/v1/messages/{public_id}")).json()
        return detail["receipts"]["JPN"]["delivered_at"] is not None

    await eventually(kor_has_everything, what="KOR holding the later public message")
    history = (await kor.get(f"/api/v1/channels/{TRI}/messages")).json()
    assert [m["id"] for m in history] == [public_id]
    resp = await kor.get(f"/api/v1/messages/{hidden['id']}")
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "unknown_message"
    for raw in _events_raw(cluster, "KOR"):
        assert hidden["id"].encode() not in raw
        assert secret_body.encode() not in raw
    assert any(hidden["id"].encode() in raw for raw in jpn_ack_seen)
    # JPN sees it, in history and by id
    jpn_history = (await jpn.get(f"/api/v1/channels/{TRI}/messages")).json()
    assert [m["id"] for m in jpn_history] == [hidden["id"], public_id]
    detail = (await jpn.get(f"/api/v1/messages/{hidden['id']}")).json()
    assert detail["body"] == secret_body
    assert set(detail["receipts"]) == {"USA", "JPN"}


async def test_passwords_are_stored_as_argon2id(cluster: Cluster) -> None:
    path = cluster["USA"].node_dir / "hotline.db"
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        rows = db.execute("SELECT handle, hash FROM accounts").fetchall()
    compact = cluster["USA"].node.compact  # type: ignore[union-attr]
    officials = {o.handle for o in compact.officials if o.nation == "USA"}
    assert officials <= {handle for handle, _ in rows}  # every official of USA ...
    for handle, digest in rows:
        assert handle.startswith("usa.")  # ... and no account of another nation
        assert digest.startswith("$argon2id$"), handle
        assert handle not in digest


@contextlib.asynccontextmanager
async def serving(node_dir: Path) -> AsyncIterator[None]:
    ready = asyncio.Event()
    task = asyncio.create_task(serve(node_dir, {}, ready, scheduler_poll_s=0.05))
    waiter = asyncio.create_task(ready.wait())
    done, _ = await asyncio.wait({waiter, task}, timeout=20, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        waiter.cancel()
        task.result()
    assert waiter in done, "node did not start"
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_production_node_has_random_passwords_in_a_private_file(tmp_path: Path) -> None:
    node_dir = tmp_path / "usa"
    made = init_node(node_dir, "USA", demo=False, base_port=free_base_port())
    pw_file = node_dir / PASSWORDS_FILE
    assert made["passwords_file"] == str(pw_file)
    assert stat.S_IMODE(os.stat(pw_file).st_mode) == 0o600
    passwords = dict(line.split(" ", 1) for line in pw_file.read_text().splitlines())
    assert {"usa.leaders", "usa.ops", "usa.ops.3", "usa.defense.2"} <= set(passwords)
    assert all(pw != handle and len(pw) >= 12 for handle, pw in passwords.items())
    async with serving(node_dir), httpx.AsyncClient(base_url=made["api"], timeout=10) as http:
        resp = await http.post("/api/v1/login", json={"handle": "usa.ops", "password": "usa.ops"})
        assert resp.status_code == 401, resp.text
        assert resp.json()["error"]["code"] == "bad_credentials"
        resp = await http.post(
            "/api/v1/login", json={"handle": "usa.ops", "password": passwords["usa.ops"]}
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["official"] == "usa.ops" and resp.json()["nation"] == "USA"
        # one official's password is not another's
        resp = await http.post(
            "/api/v1/login", json={"handle": "usa.ops.2", "password": passwords["usa.ops"]}
        )
        assert resp.status_code == 401


async def test_an_official_logs_in_to_its_own_nations_node_only(cluster: Cluster) -> None:
    async with httpx.AsyncClient(base_url=cluster["USA"].url, timeout=10) as http:
        resp = await http.post("/api/v1/login", json={"handle": "jpn.ops", "password": "jpn.ops"})
    assert resp.status_code == 401, resp.text
    err = resp.json()["error"]
    assert err["code"] == "wrong_node"
    assert "JPN" in err["message"]


async def test_a_token_is_valid_only_at_the_node_that_issued_it(cluster: Cluster) -> None:
    usa = await cluster["USA"].login("usa.ops")
    token = usa.token  # type: ignore[attr-defined]
    assert (await usa.get("/api/v1/channels")).status_code == 200
    for nation in ("JPN", "KOR"):
        async with httpx.AsyncClient(
            base_url=cluster[nation].url,
            timeout=10,
            headers={"authorization": f"Bearer {token}"},
        ) as http:
            resp = await http.get("/api/v1/channels")
            assert resp.status_code == 401, resp.text
            assert resp.json()["error"]["code"] == "bad_token"
            resp = await http.post(f"/api/v1/channels/{TRI}/messages", json=_msg("forged"))
            assert resp.status_code == 401


async def test_stream_shows_only_what_the_official_may_read(cluster: Cluster) -> None:
    usa = await cluster["USA"].login("usa.ops")
    usa_def = await cluster["USA"].login("usa.defense")
    async with cluster["USA"].stream(usa_def) as ws:
        ops = await usa.post(f"/api/v1/channels/{TRI}/messages", json=_msg("ops traffic"))
        assert ops.status_code == 201
        resp = await usa_def.post(
            "/api/v1/channels/defense.usa-kor/messages", json=_msg("defense traffic")
        )
        assert resp.status_code == 201
        first = await recv_until(ws, lambda e: e.get("type") == "message")
        assert first["id"] == resp.json()["id"]  # the ops message was never pushed here
        assert msgspec.json.encode(first).find(b"ops traffic") == -1
