"""Releasability across real nodes: what is not released to KOR never reaches KOR's node.

USA sends one message on the bilateral ``ops.usa-jpn`` and one on the trilateral
``ops.usa-jpn-kor`` narrowed to ``rel_to: ["USA", "JPN"]``; JPN reads them, lets them escalate
and acknowledges them. Not one byte of those messages, nor of their receipts and escalations,
may be in KOR's database files, and no stream to KOR may carry them; a third message released
to all three shows that the scan would have found them.
"""

from __future__ import annotations

import secrets
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from hotline.ports import FakeClock
from tests.integration.federation_support import db_rows, federated, stop_node
from tests.support import Cluster, eventually

pytestmark = pytest.mark.anyio

FLASH_ACK_S = 600.0  # camp-david: a FLASH must be acknowledged within 10 minutes


def _files(node_dir: Path) -> bytes:
    """Every byte of a node's SQLite files (database, write-ahead log, shared memory)."""
    return b"".join(
        path.read_bytes()
        for path in (node_dir / name for name in ("hotline.db", "hotline.db-wal", "hotline.db-shm"))
        if path.exists()
    )


def _stream_rows(node_dir: Path, peer: str, needle: str) -> list[tuple[Any, ...]]:
    """Rows of this node's stream to ``peer`` whose event mentions ``needle``."""
    return db_rows(
        node_dir / "hotline.db",
        "SELECT o.seq, e.type FROM outbox o JOIN events e ON e.seq = o.event_seq "
        "WHERE o.peer = ? AND instr(e.raw, ?) > 0",
        (peer, needle.encode()),
    )


async def _send(client: httpx.AsyncClient, channel: str, body: str, **extra: Any) -> str:
    resp = await client.post(
        f"/api/v1/channels/{channel}/messages",
        json={"precedence": "flash", "body": body, "classification": "secret", **extra},
    )
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


async def test_what_is_not_released_to_kor_never_reaches_kor(tmp_path: Path) -> None:
    clock = FakeClock()
    async with federated(tmp_path, clock=clock) as cluster:
        usa = await cluster["USA"].login("usa.ops")
        jpn = await cluster["JPN"].login("jpn.ops")
        kor = await cluster["KOR"].login("kor.ops")
        markers = {k: f"MARKER-{k}-{secrets.token_hex(8)}" for k in ("bi", "narrow", "all")}
        ids = {
            "bi": await _send(usa, "ops.usa-jpn", markers["bi"]),
            "narrow": await _send(usa, "ops.usa-jpn-kor", markers["narrow"], rel_to=["USA", "JPN"]),
            "all": await _send(usa, "ops.usa-jpn-kor", markers["all"]),
        }
        hidden = ("bi", "narrow")
        # KOR's officials cannot see the narrowed message, even on a channel KOR belongs to.
        assert (await kor.get(f"/api/v1/messages/{ids['narrow']}")).status_code in (403, 404)

        async def seen(client: httpx.AsyncClient, mid: str) -> bool:
            return (await client.get(f"/api/v1/messages/{mid}")).status_code == 200

        for key in ids:  # JPN holds all three and reads them (read receipts travel)
            await eventually(partial(seen, jpn, ids[key]), what=f"JPN holds {key}")
        await eventually(partial(seen, kor, ids["all"]), what="KOR holds the message for all")

        # Nobody acknowledges: JPN's node escalates to its alternates (level 1), then JPN acks.
        clock.advance(FLASH_ACK_S + 1)

        async def escalated(key: str) -> bool:
            detail = (await usa.get(f"/api/v1/messages/{ids[key]}")).json()
            return bool(detail["escalation"]["JPN"]["level"] >= 1)

        for key in ids:
            await eventually(partial(escalated, key), what=f"USA sees JPN escalate {key}")
        for key in ids:
            assert (await jpn.post(f"/api/v1/messages/{ids[key]}/ack")).status_code == 200
        assert (await kor.post(f"/api/v1/messages/{ids['all']}/ack")).status_code == 200

        async def settled() -> bool:
            for key in ids:
                detail = (await usa.get(f"/api/v1/messages/{ids[key]}")).json()
                if not detail["receipts"]["JPN"]["acked_at"]:
                    return False
            detail = (await jpn.get(f"/api/v1/messages/{ids['all']}")).json()
            return bool(detail["receipts"]["KOR"]["acked_at"])

        await eventually(settled, what="every acknowledgment federated")
        usa_dir, jpn_dir, kor_dir = (cluster[n].node_dir for n in ("USA", "JPN", "KOR"))
        _assert_released(cluster, markers, ids, hidden)
        # The streams: USA's and JPN's events about the hidden messages went to no KOR stream,
        # though they went to each other (sent, delivered, read, escalated, acknowledged).
        for key in hidden:
            for origin_dir, other in ((usa_dir, "JPN"), (jpn_dir, "USA")):
                assert _stream_rows(origin_dir, "KOR", ids[key]) == []
                assert _stream_rows(origin_dir, other, ids[key])
            jpn_types = {t for _, t in _stream_rows(jpn_dir, "USA", ids[key])}
            assert {"messages_delivered", "message_read", "message_escalated"} <= jpn_types
            assert "message_acknowledged" in jpn_types
        assert _stream_rows(usa_dir, "KOR", ids["all"])
        assert _stream_rows(jpn_dir, "KOR", ids["all"])  # JPN's receipts of it do go to KOR
        assert db_rows(kor_dir / "hotline.db", "SELECT COUNT(*) FROM refused") == [(0,)]

        for live in cluster.nodes.values():  # and once every node has closed its files
            await stop_node(live)
        _assert_released(cluster, markers, ids, hidden)


def _assert_released(
    cluster: Cluster, markers: dict[str, str], ids: dict[str, str], hidden: tuple[str, ...]
) -> None:
    kor, jpn = _files(cluster["KOR"].node_dir), _files(cluster["JPN"].node_dir)
    for key in markers:
        if key in hidden:
            assert markers[key].encode() not in kor, f"KOR's files hold the {key} message"
            assert ids[key].encode() not in kor, f"KOR's files hold an event about {key}"
        else:
            assert markers[key].encode() in kor
        assert markers[key].encode() in jpn
