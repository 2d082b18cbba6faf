"""Bad input through real HTTP and WebSocket against three federated nodes: every refusal is
the specific API.md error (status, ``error.code``, a message naming the field or value) and
changes nothing (channel history, ``messages`` and message events, receipts, sessions)."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import websockets

from hotline.ports import FakeClock
from tests.support import Cluster, eventually, running_cluster

pytestmark = pytest.mark.anyio

TTL_S = 60
MAX_BODY = 2048
CHANNEL = "ops.usa-jpn-kor"
MESSAGES = f"/api/v1/channels/{CHANNEL}/messages"
GOOD = {"precedence": "routine", "body": "Link check"}
_JSON_TYPE = {"content-type": "application/json"}


@dataclass
class Env:
    cluster: Cluster
    clock: FakeClock
    seed_id: str


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


def _db(cluster: Cluster, nation: str) -> sqlite3.Connection:
    path = cluster[nation].node_dir / "hotline.db"
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def snapshot(cluster: Cluster) -> dict[str, Any]:
    """What a refused request must not change, on every node."""
    out: dict[str, Any] = {}
    for nation in cluster.nodes:
        with contextlib.closing(_db(cluster, nation)) as db:
            out[nation] = {
                "messages": db.execute("SELECT id, raw FROM messages ORDER BY seq").fetchall(),
                "message_events": db.execute(
                    "SELECT id FROM events WHERE type LIKE 'message%' ORDER BY seq"
                ).fetchall(),
                "receipts": db.execute(
                    "SELECT * FROM receipts ORDER BY message_id, nation"
                ).fetchall(),
                "sessions": db.execute(
                    "SELECT token_hash, revoked_at FROM sessions ORDER BY token_hash"
                ).fetchall(),
            }
    return out


@pytest.fixture(scope="module")
async def env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    """One cluster for the module (a FakeClock, a 2 KiB body limit, 60 s tokens) with one
    message already delivered everywhere, so that there is a history to keep unchanged."""
    clock = FakeClock()
    root: Path = tmp_path_factory.mktemp("bad-input")
    environ = {
        "HOTLINE_API_MAX_BODY_BYTES": str(MAX_BODY),
        "HOTLINE_API_TOKEN_TTL_S": str(TTL_S),
    }
    async with running_cluster(root, clock=clock, environ=environ) as cluster:
        usa = await cluster["USA"].login("usa.ops")
        resp = await usa.post(MESSAGES, json={"precedence": "routine", "body": "Seed"})
        assert resp.status_code == 201, resp.text
        seed_id = resp.json()["id"]

        async def settled() -> bool:
            for nation in cluster.nodes:
                with contextlib.closing(_db(cluster, nation)) as db:
                    row = db.execute(
                        "SELECT COUNT(*) FROM receipts WHERE message_id = ? "
                        "AND delivered_at IS NOT NULL",
                        (seed_id,),
                    ).fetchone()
                if row[0] != 3:
                    return False
            return True

        await eventually(settled, what="the seed message delivered on every node")
        yield Env(cluster, clock, seed_id)


@contextlib.asynccontextmanager
async def changes_nothing(env: Env) -> AsyncIterator[None]:
    viewer = await env.cluster["JPN"].login("jpn.ops.3")
    history = (await viewer.get(MESSAGES)).json()
    assert [m["id"] for m in history] == [env.seed_id]
    before = snapshot(env.cluster)
    yield
    assert snapshot(env.cluster) == before
    assert (await viewer.get(MESSAGES)).json() == history


def assert_error(resp: httpx.Response, status: int, code: str, *names: str) -> str:
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert err["code"] == code, err
    for name in names:
        assert name in err["message"], err
    return str(err["message"])


# ---- malformed and invalid bodies ---------------------------------------------------------


async def test_malformed_json(env: Env) -> None:
    usa = await env.cluster["USA"].login("usa.ops")
    async with changes_nothing(env):
        resp = await usa.post(
            MESSAGES, content=b'{"precedence": "flash", "body": ', headers=_JSON_TYPE
        )
        assert_error(resp, 400, "malformed_json", "JSON")


async def test_no_body_at_all(env: Env) -> None:
    usa = await env.cluster["USA"].login("usa.ops")
    async with changes_nothing(env):
        resp = await usa.post(MESSAGES, content=b"", headers=_JSON_TYPE)
        assert_error(resp, 400, "malformed_json", "empty")


async def test_unknown_field(env: Env) -> None:
    usa = await env.cluster["USA"].login("usa.ops")
    async with changes_nothing(env):
        resp = await usa.post(MESSAGES, json={**GOOD, "colour": "red"})
        assert_error(resp, 400, "unknown_field", "colour")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"precedence": 1, "body": "x"}, "precedence"),
        ({"precedence": "flash", "body": ["x"]}, "body"),
        ({**GOOD, "rel_to": "USA,JPN"}, "rel_to"),
        ({**GOOD, "rel_to": ["USA", 7]}, "rel_to"),
        ({**GOOD, "classification": True}, "classification"),
    ],
)
async def test_wrong_type(env: Env, payload: dict[str, Any], field: str) -> None:
    usa = await env.cluster["USA"].login("usa.ops")
    async with changes_nothing(env):
        resp = await usa.post(MESSAGES, json=payload)
        assert_error(resp, 400, "wrong_type", field)


async def test_body_that_is_not_an_object(env: Env) -> None:
    usa = await env.cluster["USA"].login("usa.ops")
    async with changes_nothing(env):
        resp = await usa.post(MESSAGES, json=[GOOD])
        assert_error(resp, 400, "wrong_type", "object")


@pytest.mark.parametrize("missing", ["precedence", "body"])
async def test_missing_field(env: Env, missing: str) -> None:
    usa = await env.cluster["USA"].login("usa.ops")
    payload = {k: v for k, v in GOOD.items() if k != missing}
    async with changes_nothing(env):
        resp = await usa.post(MESSAGES, json=payload)
        assert_error(resp, 400, "missing_field", missing)


async def test_oversize_body(env: Env) -> None:
    usa = await env.cluster["USA"].login("usa.ops")
    async with changes_nothing(env):
        resp = await usa.post(MESSAGES, json={"precedence": "flash", "body": "x" * (MAX_BODY + 1)})
        assert_error(resp, 413, "too_large", str(MAX_BODY))
    # just under the limit is accepted: the limit is the body's bytes, nothing smaller
    # (sent on another channel and acknowledged, so the later snapshots settle)
    ok = await usa.post(
        "/api/v1/channels/ops.usa-jpn/messages",
        json={"precedence": "routine", "body": "y" * (MAX_BODY - 100)},
    )
    assert ok.status_code == 201, ok.text
    await _settle(env, ok.json()["id"])


async def _settle(env: Env, message_id: str) -> None:
    """JPN acknowledges ``message_id`` (USA-JPN only) and USA's node has the ack."""
    jpn = await env.cluster["JPN"].login("jpn.ops")

    async def acked_at_usa() -> bool:
        await jpn.post(f"/api/v1/messages/{message_id}/ack")  # 404 until federated, then 409
        with contextlib.closing(_db(env.cluster, "USA")) as db:
            row = db.execute(
                "SELECT acked_at FROM receipts WHERE message_id = ? AND nation = 'JPN'",
                (message_id,),
            ).fetchone()
        return row is not None and row[0] is not None

    await eventually(acked_at_usa, what="JPN's acknowledgment at USA's node")


async def test_unknown_channel(env: Env) -> None:
    usa = await env.cluster["USA"].login("usa.ops")
    async with changes_nothing(env):
        resp = await usa.post("/api/v1/channels/ops.usa-fra/messages", json=GOOD)
        assert_error(resp, 404, "unknown_channel", "ops.usa-fra")
        resp = await usa.get("/api/v1/channels/ops.usa-fra/messages")
        assert_error(resp, 404, "unknown_channel", "ops.usa-fra")


@pytest.mark.parametrize(
    ("nation", "handle", "channel"),
    [
        ("KOR", "kor.ops", "ops.usa-jpn"),  # the nation is not a member
        ("JPN", "jpn.defense", CHANNEL),  # a member nation, another layer
    ],
)
async def test_non_member(env: Env, nation: str, handle: str, channel: str) -> None:
    client = await env.cluster[nation].login(handle)
    async with changes_nothing(env):
        resp = await client.post(f"/api/v1/channels/{channel}/messages", json=GOOD)
        msg = assert_error(resp, 403, "not_a_member")
        assert msg == f"{handle} is not a member of {channel}"


async def test_bad_precedence(env: Env) -> None:
    usa = await env.cluster["USA"].login("usa.ops")
    async with changes_nothing(env):
        resp = await usa.post(MESSAGES, json={"precedence": "urgent", "body": "x"})
        assert_error(resp, 422, "bad_precedence", "'urgent'", "flash")


async def test_bad_classification(env: Env) -> None:
    usa = await env.cluster["USA"].login("usa.ops")
    async with changes_nothing(env):
        resp = await usa.post(MESSAGES, json={**GOOD, "classification": "cosmic"})
        assert_error(resp, 422, "bad_classification", "'cosmic'", "top_secret")


async def test_rel_to_wider_than_the_channel(env: Env) -> None:
    usa = await env.cluster["USA"].login("usa.ops")
    async with changes_nothing(env):
        resp = await usa.post(
            "/api/v1/channels/ops.usa-jpn/messages", json={**GOOD, "rel_to": ["USA", "JPN", "KOR"]}
        )
        assert_error(resp, 422, "not_releasable", "KOR", "ops.usa-jpn")
        resp = await usa.post(MESSAGES, json={**GOOD, "rel_to": ["JPN", "KOR"]})
        assert_error(resp, 422, "not_releasable", "USA")


async def test_empty_body(env: Env) -> None:
    usa = await env.cluster["USA"].login("usa.ops")
    async with changes_nothing(env):
        resp = await usa.post(MESSAGES, json={"precedence": "flash", "body": "  \n "})
        assert_error(resp, 422, "empty_body", "body")


# ---- tokens -------------------------------------------------------------------------------


async def test_no_token_and_bad_token(env: Env) -> None:
    async with (
        changes_nothing(env),
        httpx.AsyncClient(base_url=env.cluster["USA"].url, timeout=10) as anon,
    ):
        resp = await anon.post(MESSAGES, json=GOOD)
        assert_error(resp, 401, "no_token", "Bearer")
        resp = await anon.get("/api/v1/channels")
        assert_error(resp, 401, "no_token")
        resp = await anon.post(MESSAGES, json=GOOD, headers={"authorization": "Bearer nonsense"})
        assert_error(resp, 401, "bad_token")
        resp = await anon.get("/api/v1/channels", headers={"authorization": "Basic dXNhOnVzYQ=="})
        assert_error(resp, 401, "no_token")


async def test_expired_token(env: Env) -> None:
    jpn = await env.cluster["JPN"].login("jpn.ops")
    assert (await jpn.get("/api/v1/channels")).status_code == 200
    env.clock.advance(TTL_S + 1)  # far below any escalation deadline (routine: 6 h)
    async with changes_nothing(env):
        resp = await jpn.post(MESSAGES, json=GOOD)
        assert_error(resp, 401, "token_expired", "log in")
        resp = await jpn.get(MESSAGES)
        assert_error(resp, 401, "token_expired")
    fresh = await env.cluster["JPN"].login("jpn.ops")
    assert (await fresh.get("/api/v1/channels")).status_code == 200


async def test_revoked_token(env: Env) -> None:
    usa = await env.cluster["USA"].login("usa.ops")
    other = await env.cluster["USA"].login("usa.ops")
    resp = await usa.post("/api/v1/logout")
    assert resp.status_code == 204, resp.text
    async with changes_nothing(env):
        assert_error(await usa.post(MESSAGES, json=GOOD), 401, "bad_token", "revoked")
        assert_error(await usa.get("/api/v1/channels"), 401, "bad_token")
        assert_error(await usa.post("/api/v1/logout"), 401, "bad_token")
    # revocation is per token: the same official's other session still works
    assert (await other.get("/api/v1/channels")).status_code == 200


async def test_wrong_password_opens_no_session(env: Env) -> None:
    async with (
        changes_nothing(env),
        httpx.AsyncClient(base_url=env.cluster["USA"].url, timeout=10) as anon,
    ):
        resp = await anon.post("/api/v1/login", json={"handle": "usa.ops", "password": "nope"})
        assert_error(resp, 401, "bad_credentials")
        resp = await anon.post("/api/v1/login", json={"handle": "usa.nobody", "password": "x"})
        assert_error(resp, 401, "bad_credentials")
        resp = await anon.post("/api/v1/login", json={"handle": "usa.ops"})
        assert_error(resp, 400, "missing_field", "password")


# ---- unknown ids, query parameters --------------------------------------------------------


async def test_unknown_message_id(env: Env) -> None:
    jpn = await env.cluster["JPN"].login("jpn.ops")
    async with changes_nothing(env):
        assert_error(
            await jpn.get("/api/v1/messages/usa-0-nope"), 404, "unknown_message", "usa-0-nope"
        )
        resp = await jpn.post("/api/v1/messages/usa-0-nope/ack")
        assert_error(resp, 404, "unknown_message", "usa-0-nope")
        resp = await jpn.get(f"{MESSAGES}?after=usa-0-nope")
        assert_error(resp, 404, "unknown_message", "usa-0-nope")


async def test_acknowledging_ones_own_message_is_forbidden(env: Env) -> None:
    usa = await env.cluster["USA"].login("usa.ops.2")
    async with changes_nothing(env):
        resp = await usa.post(f"/api/v1/messages/{env.seed_id}/ack")
        assert_error(resp, 403, "own_message", env.seed_id)


@pytest.mark.parametrize("limit", ["0", "-1", "1001"])
async def test_limit_out_of_range(env: Env, limit: str) -> None:
    jpn = await env.cluster["JPN"].login("jpn.ops")
    async with changes_nothing(env):
        resp = await jpn.get(MESSAGES, params={"limit": limit})
        assert_error(resp, 422, "bad_limit", f"limit {limit}", "1..1000")


async def test_limit_of_wrong_type(env: Env) -> None:
    jpn = await env.cluster["JPN"].login("jpn.ops")
    async with changes_nothing(env):
        resp = await jpn.get(MESSAGES, params={"limit": "ten"})
        assert_error(resp, 400, "wrong_type", "limit")
    ok = await jpn.get(MESSAGES, params={"limit": "1"})
    assert [m["id"] for m in ok.json()] == [env.seed_id]


# ---- the stream ---------------------------------------------------------------------------


def _ws_url(env: Env, nation: str, token: str | None) -> str:
    base = env.cluster[nation].url.replace("http", "ws", 1) + "/api/v1/stream"
    return base if token is None else f"{base}?token={token}"


@pytest.mark.parametrize(("token", "code"), [("nonsense", "bad_token"), (None, "no_token")])
async def test_stream_refuses_a_bad_token(env: Env, token: str | None, code: str) -> None:
    async with websockets.connect(_ws_url(env, "USA", token)) as ws:
        frame = msgspec.json.decode(await ws.recv())
        assert frame["type"] == "error"
        assert frame["error"]["code"] == code
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4401
    assert closed.value.rcvd.reason == code


async def test_stream_refuses_an_expired_token(env: Env) -> None:
    kor = await env.cluster["KOR"].login("kor.ops")
    env.clock.advance(TTL_S + 1)
    token: str = kor.token  # type: ignore[attr-defined]
    async with websockets.connect(_ws_url(env, "KOR", token)) as ws:
        frame = msgspec.json.decode(await ws.recv())
        assert frame["error"]["code"] == "token_expired"
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


async def test_stream_survives_bad_frames(env: Env) -> None:
    jpn = await env.cluster["JPN"].login("jpn.ops")
    async with changes_nothing(env), env.cluster["JPN"].stream(jpn) as ws:
        await ws.send("this is not json {")
        frame = msgspec.json.decode(await ws.recv())
        assert frame["type"] == "error"
        assert frame["error"]["code"] == "malformed_json"
        await ws.send('{"type": "subscribe"}')
        frame = msgspec.json.decode(await ws.recv())
        assert (frame["type"], frame["error"]["code"]) == ("error", "unknown_frame")
        await ws.send('{"type": "ping"}')
        assert msgspec.json.decode(await ws.recv()) == {"type": "pong"}
