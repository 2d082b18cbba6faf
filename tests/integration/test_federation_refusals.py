"""What a node refuses on its federation port, with a fake peer speaking the wire protocol.

USA and JPN run in this event loop; KOR is initialised and pinned but not running, and the test
connects to USA's federation port with KOR's real certificate and key, crafting stream items
signed with KOR's real signing key (or forged). Every refusal must be recorded in USA's
``refused`` table and never applied: no event stored, the stream cursor unchanged.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from hotline.domain.events import (
    Envelope,
    EventBody,
    MessageAcknowledged,
    MessagesDelivered,
    MessageSent,
    encode_envelope,
)
from hotline.domain.ids import (
    ChannelId,
    Classification,
    EventId,
    Handle,
    MessageId,
    NationCode,
    Precedence,
)
from hotline.federation import wire
from hotline.federation.trust import trust_peer
from hotline.ledger.chain import link_hash
from hotline.pki import (
    build_node_certificate,
    client_context,
    create_ca,
    issue_node_cert,
    load_certificate,
)
from hotline.ports import new_id
from hotline.signing import Signer, generate_signing_key, load_signing_key, public_key_b64
from tests.integration.federation_support import (
    db_rows,
    federated,
    federation_port,
    start_node,
    stop_node,
    tune_federation,
)
from tests.support import Cluster, eventually, recv_until

pytestmark = pytest.mark.anyio

LINK_FAILURES = (OSError, InvalidHandshake, ConnectionClosed)


def _pki(cluster: Cluster, nation: str) -> Path:
    return cluster[nation].node_dir / "pki"


def _cas(cluster: Cluster) -> list[Path]:
    return [_pki(cluster, n) / "ca.crt" for n in ("USA", "JPN", "KOR")]


@dataclass
class FakePeer:
    """KOR, as far as USA's federation port can tell: KOR's certificate and signing key."""

    cluster: Cluster
    ctx: ssl.SSLContext
    signer: Signer
    db: Path
    port: int
    nation: str = "KOR"
    me: str = "USA"

    @asynccontextmanager
    async def link(self) -> AsyncIterator[tuple[ClientConnection, wire.Hello]]:
        async with connect(
            f"wss://127.0.0.1:{self.port}/federation/v1/stream",
            ssl=self.ctx,
            server_hostname="127.0.0.1",
            open_timeout=5,
        ) as ws:
            hello = wire.to_sender.decode(await ws.recv(decode=False))
            assert isinstance(hello, wire.Hello), hello
            assert hello.nation == self.me
            yield ws, hello

    async def push(self, frame: bytes | wire.Batch) -> list[wire.Ack | wire.Refused]:
        """Send one frame on a fresh link; every reply until the receiver closes or acks all."""
        data = frame if isinstance(frame, bytes) else wire.encoder.encode(frame)
        replies: list[wire.Ack | wire.Refused] = []
        last = frame.items[-1].seq if isinstance(frame, wire.Batch) and frame.items else None
        async with self.link() as (ws, _):
            await ws.send(data)
            try:
                while True:
                    reply = wire.to_sender.decode(await ws.recv(decode=False))
                    assert isinstance(reply, wire.Ack | wire.Refused), reply
                    replies.append(reply)
                    if isinstance(reply, wire.Ack) and reply.cursor == last:
                        break
            except ConnectionClosed:
                pass
        return replies

    def cursor(self) -> tuple[int, bytes]:
        rows = db_rows(self.db, "SELECT last_seq, last_hash FROM peer_in WHERE peer = 'KOR'")
        return (int(rows[0][0]), bytes(rows[0][1])) if rows else (0, bytes(32))

    def envelope(
        self,
        body: EventBody | None = None,
        *,
        rel_to: tuple[str, ...] = ("USA", "JPN", "KOR"),
        origin: str = "KOR",
        signer: Signer | None = None,
    ) -> Envelope:
        body = body or self.message(rel_to)
        env = Envelope(
            id=EventId(new_id(f"e-{origin.lower()}")),
            origin=NationCode(origin),
            at=time.time(),
            rel_to=tuple(NationCode(n) for n in rel_to),
            body=body,
        )
        return (signer or self.signer).sign_envelope(env)

    @staticmethod
    def message(
        rel_to: tuple[str, ...] = ("USA", "JPN", "KOR"),
        *,
        nation: str = "KOR",
        channel: str = "ops.usa-jpn-kor",
    ) -> MessageSent:
        return MessageSent(
            message_id=MessageId(new_id(nation.lower())),
            channel=ChannelId(channel),
            sender=Handle(f"{nation.lower()}.ops"),
            nation=NationCode(nation),
            precedence=Precedence.FLASH,
            classification=Classification.SECRET,
            rel_to=tuple(NationCode(n) for n in rel_to),
            body="fake peer: launch detected",
            sent_at=time.time(),
        )

    def item(
        self,
        env: Envelope | None,
        *,
        seq: int | None = None,
        prev: bytes | None = None,
        origin: str | None = None,
        destination: str | None = None,
        raw: bytes | None = None,
    ) -> tuple[wire.StreamItem, bytes]:
        """The next item of KOR's stream to USA (or a broken one); also its link hash."""
        last_seq, last_hash = self.cursor()
        seq = last_seq + 1 if seq is None else seq
        prev = last_hash if prev is None else prev
        raw = encode_envelope(env) if raw is None else raw  # type: ignore[arg-type]
        item = wire.StreamItem(
            origin=origin or self.nation,
            destination=destination or self.me,
            seq=seq,
            prev_hash=prev.hex(),
            event=msgspec.Raw(raw),
        )
        return item, link_hash(prev, self.nation, self.me, seq, raw)

    def state(self) -> dict[str, Any]:
        """What must not change on a refusal."""
        return {
            "cursor": self.cursor(),
            "kor_events": db_rows(self.db, "SELECT id FROM events WHERE origin = 'KOR'"),
            "messages": db_rows(self.db, "SELECT id FROM messages"),
        }

    def refusals(self) -> list[tuple[str, str, str, bytes | None]]:
        return [
            (str(p), str(c), str(r), raw)
            for p, c, r, raw in db_rows(
                self.db, "SELECT peer, code, reason, raw FROM refused ORDER BY id"
            )
        ]


@pytest.fixture
async def peer(tmp_path: Path) -> AsyncIterator[FakePeer]:
    async with federated(tmp_path, running=("USA", "JPN")) as cluster:
        kor = _pki(cluster, "KOR")
        ctx = client_context(kor / "node.crt", kor / "node.key", _cas(cluster))
        signer = Signer("KOR", load_signing_key(cluster["KOR"].node_dir / "signing.key"))
        yield FakePeer(
            cluster,
            ctx,
            signer,
            cluster["USA"].node_dir / "hotline.db",
            federation_port(cluster, "USA"),
        )


async def _refused(
    peer: FakePeer, frame: bytes | wire.Batch, code: str, *, raw_kept: bool = True
) -> wire.Refused:
    """Push ``frame``: it must be refused with ``code``, recorded, and change nothing."""
    before, recorded = peer.state(), len(peer.refusals())
    replies = await peer.push(frame)
    assert replies, "the receiver answered nothing"
    refusal = replies[-1]
    assert isinstance(refusal, wire.Refused), replies
    assert refusal.code == code, refusal
    assert peer.state() == before, "a refused item changed the receiver"
    rows = peer.refusals()
    assert len(rows) == recorded + 1
    who, got_code, reason, raw = rows[-1]
    assert (who, got_code) == ("KOR", code) and reason == refusal.reason
    assert (raw is not None) == raw_kept
    return refusal


# ---- the link itself: who is on the other end comes from the certificate --------------------


async def test_unpinned_ca_and_mismatched_certificates_are_refused(
    peer: FakePeer, tmp_path: Path
) -> None:
    cluster = peer.cluster
    # 1. A client certificate from a CA nobody pinned (a rogue "KOR" CA): no TLS session.
    rogue = create_ca("KOR", tmp_path / "rogue")
    node = issue_node_cert(rogue, "KOR", tmp_path / "rogue", ["127.0.0.1"])
    peer.ctx = client_context(node.cert, node.key, _cas(cluster))
    with pytest.raises(LINK_FAILURES):
        async with peer.link():
            pass
    # 2. JPN's CA vouching for "KOR": TLS passes (JPN's CA is pinned) but the certificate does
    #    not chain to the CA pinned for KOR, so the link is refused and the refusal recorded.
    jpn = _pki(cluster, "JPN")
    jpn_ca = load_certificate(jpn / "ca.crt")
    jpn_key = serialization.load_pem_private_key((jpn / "ca.key").read_bytes(), None)
    assert isinstance(jpn_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    forged = build_node_certificate(jpn_ca, jpn_key, "KOR", key.public_key(), ["127.0.0.1"])
    (tmp_path / "forged.crt").write_bytes(forged.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "forged.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    peer.ctx = client_context(tmp_path / "forged.crt", tmp_path / "forged.key", _cas(cluster))
    async with connect(
        f"wss://127.0.0.1:{peer.port}/federation/v1/stream",
        ssl=peer.ctx,
        server_hostname="127.0.0.1",
    ) as ws:
        refusal = wire.to_sender.decode(await ws.recv(decode=False))
        assert isinstance(refusal, wire.Refused) and refusal.code == "unknown_peer", refusal
        assert "KOR" in refusal.reason
        with pytest.raises(ConnectionClosed):
            await ws.recv()
        assert ws.close_code == 4403
    rows = peer.refusals()
    assert [(r[0], r[1]) for r in rows] == [("?", "unknown_peer")]
    # 3. JPN's own certificate is fine, but it cannot push KOR's stream: the nation is JPN's.
    peer.ctx = client_context(jpn / "node.crt", jpn / "node.key", _cas(cluster))
    async with peer.link() as (_, hello):
        assert hello.nation == "USA"
    assert ("KOR",) not in db_rows(peer.db, "SELECT peer FROM peer_in")


async def test_a_server_claiming_another_nation_is_refused(tmp_path: Path) -> None:
    """USA dials "JPN" at KOR's federation port: KOR's certificate is not JPN's, no link."""
    kor_address: dict[str, str] = {}

    def tune(nation: str, node_dir: Path) -> None:
        if nation == "KOR":
            kor_address["KOR"] = _read_federation_address(node_dir)
        if nation == "USA":
            tune_federation(node_dir, peers={"JPN": kor_address["KOR"]}, backoff_max_s=1.0)

    async with federated(tmp_path, ("KOR", "JPN", "USA"), tune=tune) as cluster:
        usa = await cluster["USA"].login("usa.ops")

        async def refused() -> bool:
            jpn = next(p for p in (await usa.get("/api/v1/peers")).json() if p["nation"] == "JPN")
            error = jpn["last_error"] or ""
            return not jpn["connected"] and "names KOR; expected the JPN node" in error

        await eventually(refused, what="USA refuses KOR's certificate where it dialled JPN")


def _read_federation_address(node_dir: Path) -> str:
    from hotline.settings import load_settings

    fed = load_settings(node_dir, {}).federation
    return f"{fed.host}:{fed.port}"


# ---- the stream: every item checked, refused ones recorded and never applied ----------------


async def test_a_valid_item_is_applied_once(peer: FakePeer) -> None:
    env = peer.envelope()
    item, new_hash = peer.item(env)
    # Marked urgent: the receiver commits it first; what it checks and applies is the same.
    replies = await peer.push(wire.Batch(items=[item], urgent=True))
    assert replies == [wire.Ack(cursor=item.seq)]
    assert peer.cursor() == (item.seq, new_hash)
    assert db_rows(peer.db, "SELECT id FROM events WHERE id = ?", (env.id,)) == [(env.id,)]
    assert isinstance(env.body, MessageSent)
    assert db_rows(peer.db, "SELECT id FROM messages WHERE id = ?", (env.body.message_id,))
    assert peer.refusals() == []


async def test_forged_signatures_are_refused(peer: FakePeer) -> None:
    rogue = Signer("KOR", generate_signing_key())
    forged, _ = peer.item(peer.envelope(signer=rogue))
    await _refused(peer, wire.Batch(items=[forged]), "bad_signature")
    genuine = peer.envelope()
    altered = msgspec.structs.replace(genuine, rel_to=(*genuine.rel_to, NationCode("USA")))
    item, _ = peer.item(altered)
    await _refused(peer, wire.Batch(items=[item]), "bad_signature")
    unsigned, _ = peer.item(msgspec.structs.replace(genuine, sig=""))
    await _refused(peer, wire.Batch(items=[unsigned]), "bad_signature")


async def test_wrong_origins_are_refused(peer: FakePeer) -> None:
    jpn = Signer("JPN", load_signing_key(peer.cluster["JPN"].node_dir / "signing.key"))
    # The item claims JPN on KOR's authenticated link (the event is genuinely JPN's).
    jpn_env = peer.envelope(peer.message(nation="JPN"), origin="JPN", signer=jpn)
    item, _ = peer.item(jpn_env, origin="JPN")
    refusal = await _refused(peer, wire.Batch(items=[item]), "wrong_origin")
    assert "claims origin JPN on KOR's authenticated link" in refusal.reason
    # The item says KOR, the envelope inside is JPN's: relaying another nation's event.
    item, _ = peer.item(jpn_env)
    refusal = await _refused(peer, wire.Batch(items=[item]), "wrong_origin")
    assert "claims origin JPN" in refusal.reason
    # Addressed to JPN, pushed to USA.
    item, _ = peer.item(peer.envelope(), destination="JPN")
    await _refused(peer, wire.Batch(items=[item]), "wrong_origin")


async def test_events_acting_for_another_nation_are_refused(peer: FakePeer) -> None:
    """Signed by KOR, but a message "sent by usa.ops" or an acknowledgment "by JPN"."""
    as_usa = peer.envelope(peer.message(nation="USA"))
    item, _ = peer.item(as_usa)
    await _refused(peer, wire.Batch(items=[item]), "wrong_origin")
    usa = await peer.cluster["USA"].login("usa.ops")
    sent = await usa.post(
        "/api/v1/channels/ops.usa-jpn-kor/messages",
        json={"precedence": "flash", "body": "real message"},
    )
    mid = sent.json()["id"]
    ack = MessageAcknowledged(
        message_id=mid, nation=NationCode("JPN"), by=Handle("jpn.ops"), at=time.time()
    )
    item, _ = peer.item(peer.envelope(ack))
    await _refused(peer, wire.Batch(items=[item]), "wrong_origin")
    detail = (await usa.get(f"/api/v1/messages/{mid}")).json()
    assert detail["receipts"]["JPN"]["acked_at"] is None
    # A receipt of many messages in JPN's name, signed by KOR.
    delivered = MessagesDelivered(message_ids=(mid,), nation=NationCode("JPN"), at=time.time())
    item, _ = peer.item(peer.envelope(delivered))
    await _refused(peer, wire.Batch(items=[item]), "wrong_origin")


async def test_one_receipt_covers_many_messages(peer: FakePeer) -> None:
    """KOR's ``MessagesDelivered`` of two USA messages marks both delivered at KOR."""
    usa = await peer.cluster["USA"].login("usa.ops")
    mids = []
    for n in range(2):
        sent = await usa.post(
            "/api/v1/channels/ops.usa-jpn-kor/messages",
            json={"precedence": "routine", "body": f"message {n}"},
        )
        mids.append(sent.json()["id"])
    at = time.time()
    body = MessagesDelivered(message_ids=tuple(mids), nation=NationCode("KOR"), at=at)
    item, _ = peer.item(peer.envelope(body))
    assert await peer.push(wire.Batch(items=[item])) == [wire.Ack(cursor=item.seq)]
    for mid in mids:
        receipt = (await usa.get(f"/api/v1/messages/{mid}")).json()["receipts"]["KOR"]
        assert receipt["delivered_at"] is not None
        assert receipt["acked_at"] is None


async def test_replayed_items_and_events_are_refused(peer: FakePeer) -> None:
    env = peer.envelope()
    item, _ = peer.item(env)
    assert await peer.push(wire.Batch(items=[item])) == [wire.Ack(cursor=1)]
    # The same seq again.
    await _refused(peer, wire.Batch(items=[item]), "replayed")
    # The same event again, under the next seq with a correct chain.
    again, _ = peer.item(env)
    assert again.seq == 2
    await _refused(peer, wire.Batch(items=[again]), "replayed")
    # An older seq.
    old, _ = peer.item(peer.envelope(), seq=0)
    await _refused(peer, wire.Batch(items=[old]), "replayed")


async def test_gaps_and_broken_chains_are_refused(peer: FakePeer) -> None:
    gap, _ = peer.item(peer.envelope(), seq=2)
    refusal = await _refused(peer, wire.Batch(items=[gap]), "out_of_order")
    assert "expected 1" in refusal.reason
    broken, _ = peer.item(peer.envelope(), prev=bytes.fromhex("ab" * 32))
    await _refused(peer, wire.Batch(items=[broken]), "broken_chain")
    # A chain hash computed over other bytes: seq 1 fine, seq 2 claims a different seq 1.
    first_env = peer.envelope()
    first, _ = peer.item(first_env)
    _, wrong = peer.item(peer.envelope())
    second, _ = peer.item(peer.envelope(), seq=2, prev=wrong)
    replies = await peer.push(wire.Batch(items=[first, second]))
    assert replies[0] == wire.Ack(cursor=1)
    assert isinstance(replies[1], wire.Refused) and replies[1].code == "broken_chain"
    assert peer.cursor()[0] == 1  # applied exactly up to the refusal
    assert db_rows(peer.db, "SELECT COUNT(*) FROM events WHERE origin = 'KOR'") == [(1,)]


async def test_events_not_releasable_to_the_receiver_are_refused(peer: FakePeer) -> None:
    secret = peer.envelope(
        peer.message(("JPN", "KOR"), channel="ops.jpn-kor"), rel_to=("JPN", "KOR")
    )
    item, _ = peer.item(secret)
    refusal = await _refused(peer, wire.Batch(items=[item]), "not_releasable", raw_kept=False)
    assert "not USA" in refusal.reason
    marker = b"fake peer: launch detected"
    for suffix in ("", "-wal"):
        path = Path(f"{peer.db}{suffix}")
        assert marker not in path.read_bytes(), f"{path.name} holds the refused event"


async def test_malformed_frames_and_events_are_refused(peer: FakePeer) -> None:
    await _refused(peer, b"{not json", "bad_request", raw_kept=False)
    await _refused(
        peer, b'{"type":"batch","items":[{"origin":"KOR"}]}', "bad_request", raw_kept=False
    )
    await _refused(peer, b'{"type":"ack","cursor":3}', "bad_request", raw_kept=False)
    await _refused(peer, b'{"type":"ahead","items":[{"seq":"one"}]}', "bad_request", raw_kept=False)
    await _refused(peer, b'{"type":"ahead","items":[],"x":1}', "bad_request", raw_kept=False)
    await _refused(
        peer, b'{"type":"batch","items":[],"urgent":"yes"}', "bad_request", raw_kept=False
    )
    await _refused(peer, b'{"type":"ahead","items":[],"urgent":1}', "bad_request", raw_kept=False)
    item, _ = peer.item(None, raw=b'{"id":"e-kor-1","origin":"KOR"}')
    await _refused(peer, wire.Batch(items=[item]), "bad_request")
    # A receipt of no message at all.
    empty = peer.envelope(MessagesDelivered(message_ids=(), nation=NationCode("KOR"), at=1.0))
    item, _ = peer.item(empty)
    refusal = await _refused(peer, wire.Batch(items=[item]), "bad_request")
    assert "message_ids" in refusal.reason


async def test_refusals_show_in_the_peers_status(peer: FakePeer) -> None:
    gap, _ = peer.item(peer.envelope(), seq=5)
    await _refused(peer, wire.Batch(items=[gap]), "out_of_order")
    usa = await peer.cluster["USA"].login("usa.ops")
    status = {p["nation"]: p for p in (await usa.get("/api/v1/peers")).json()}
    assert status["KOR"]["refused"] == 1
    assert status["JPN"]["refused"] == 0


async def test_a_sender_whose_item_is_refused_alerts_its_ops_centre_once(tmp_path: Path) -> None:
    """JPN pins a wrong signing key for USA: every USA event is refused as bad_signature. The
    link retries, JPN refuses again each time; USA's ops centre is told once, with the reason."""

    def rogue_pin(nation: str, node_dir: Path) -> None:
        tune_federation(node_dir, backoff_max_s=0.1)

    async with federated(tmp_path, running=(), tune=rogue_pin) as cluster:
        usa_ca = cluster["USA"].node_dir / "pki" / "ca.crt"
        rogue = public_key_b64(generate_signing_key())
        trust_peer(cluster["JPN"].node_dir, "USA", usa_ca, rogue)
        for nation in ("USA", "JPN"):
            await start_node(cluster[nation])
        ops = await cluster["USA"].login("usa.ops")
        alerts: list[dict[str, Any]] = []
        async with cluster["USA"].stream(ops) as ws:
            sent = await ops.post(
                "/api/v1/channels/ops.usa-jpn/messages",
                json={"precedence": "flash", "body": "never reaches JPN"},
            )
            assert sent.status_code == 201, sent.text

            def refused(e: dict[str, Any]) -> bool:
                return e.get("type") == "alert" and e.get("kind") == "peer_refused"

            alerts.append(await recv_until(ws, refused, timeout_s=10))
            jpn_db = cluster["JPN"].node_dir / "hotline.db"

            async def retried() -> bool:  # JPN refused the same item again, at least twice
                rows = db_rows(jpn_db, "SELECT COUNT(*) FROM refused WHERE code = 'bad_signature'")
                return int(rows[0][0]) >= 3

            await eventually(retried, what="USA retrying the refused item")
            with pytest.raises(TimeoutError):
                alerts.append(await recv_until(ws, refused, timeout_s=0.5))
        alert = alerts[0]
        assert (alert["nation"], alert["peer"], alert["code"]) == ("USA", "JPN", "bad_signature")
        assert alert["seq"] >= 1 and "refused USA's stream" in alert["message"]
        assert len(alerts) == 1
        status = {p["nation"]: p for p in (await ops.get("/api/v1/peers")).json()}
        assert "bad_signature" in (status["JPN"]["last_error"] or "")


# ---- the urgent lane: a FLASH sent ahead of its place in the stream --------------------------


def _routine(peer: FakePeer) -> MessageSent:
    return msgspec.structs.replace(peer.message(), precedence=Precedence.ROUTINE)


def _chain(peer: FakePeer, envs: list[Envelope]) -> tuple[list[wire.StreamItem], bytes]:
    """KOR's next items carrying ``envs``, chained from USA's cursor; and the last link hash."""
    seq, last = peer.cursor()
    items = []
    for env in envs:
        seq += 1
        item, last = peer.item(env, seq=seq, prev=last)
        items.append(item)
    return items, last


def _ahead_rows(peer: FakePeer) -> list[tuple[Any, ...]]:
    return db_rows(peer.db, "SELECT peer, seq, event_id FROM peer_ahead ORDER BY seq")


def _mid(env: Envelope) -> str:
    assert isinstance(env.body, MessageSent)
    return str(env.body.message_id)


async def test_a_flash_sent_ahead_is_applied_once_and_its_copy_only_moves_the_cursor(
    peer: FakePeer,
) -> None:
    ops = await peer.cluster["USA"].login("usa.ops")
    envs = [peer.envelope(_routine(peer)), peer.envelope(_routine(peer)), peer.envelope()]
    items, _ = _chain(peer, envs)
    async with peer.cluster["USA"].stream(ops) as stream, peer.link() as (ws, _):
        # The FLASH (seq 3) ahead of seqs 1 and 2: applied and shown at once, the cursor kept.
        await ws.send(wire.encoder.encode(wire.Ahead(items=[items[2]])))
        shown = await recv_until(stream, lambda e: e.get("type") == "message")
        assert shown["id"] == _mid(envs[2]) and shown["precedence"] == "flash"
        assert peer.cursor()[0] == 0
        assert _ahead_rows(peer) == [("KOR", 3, envs[2].id)]
        # Sent ahead again (a reconnection): passed over.
        await ws.send(wire.encoder.encode(wire.Ahead(items=[items[2]])))
        # The stream in order: seqs 1-3 acknowledged, then seq 4 to mark the end.
        await ws.send(wire.encoder.encode(wire.Batch(items=items)))
        assert wire.to_sender.decode(await ws.recv(decode=False)) == wire.Ack(cursor=3)
        last_env = peer.envelope(_routine(peer))
        last_items, last_hash = _chain(peer, [last_env])
        await ws.send(wire.encoder.encode(wire.Batch(items=last_items)))
        assert wire.to_sender.decode(await ws.recv(decode=False)) == wire.Ack(cursor=4)
        shown_ids: list[str] = []
        while not shown_ids or shown_ids[-1] != _mid(last_env):
            event = await recv_until(stream, lambda e: e.get("type") == "message")
            shown_ids.append(event["id"])
    # Every message shown once: the FLASH's in-order copy published nothing.
    assert shown_ids == [_mid(envs[0]), _mid(envs[1]), _mid(last_env)]
    status = {p["nation"]: p for p in (await ops.get("/api/v1/peers")).json()}
    assert status["KOR"]["applied_ahead"] == 1
    assert peer.cursor() == (4, last_hash)
    for env in envs:
        assert db_rows(peer.db, "SELECT COUNT(*) FROM events WHERE id = ?", (env.id,)) == [(1,)]
    assert _ahead_rows(peer) == []
    assert peer.refusals() == []


async def test_only_a_flash_on_a_compact_channel_may_go_ahead(peer: FakePeer) -> None:
    """A ROUTINE message sent ahead is refused (recorded, not applied), and the link carries
    on: its in-order copy is applied in its place."""
    routine = peer.envelope(_routine(peer))
    items, last = _chain(peer, [routine])
    async with peer.link() as (ws, _):
        await ws.send(wire.encoder.encode(wire.Ahead(items=items)))

        async def recorded() -> bool:
            return len(peer.refusals()) == 1

        await eventually(recorded, what="the refusal of a ROUTINE message sent ahead")
        who, code, reason, raw = peer.refusals()[0]
        assert (who, code) == ("KOR", "not_urgent") and raw == bytes(items[0].event)
        assert "only a FLASH message on a channel of the compact" in reason
        assert db_rows(peer.db, "SELECT COUNT(*) FROM events WHERE id = ?", (routine.id,)) == [(0,)]
        await ws.send(wire.encoder.encode(wire.Batch(items=items)))
        assert wire.to_sender.decode(await ws.recv(decode=False)) == wire.Ack(cursor=1)
    assert peer.cursor() == (1, last)
    assert _ahead_rows(peer) == []


async def test_a_forged_or_foreign_item_sent_ahead_is_refused(peer: FakePeer) -> None:
    rogue = Signer("KOR", generate_signing_key())
    forged, _ = _chain(peer, [peer.envelope(signer=rogue)])
    secret = peer.envelope(
        peer.message(("JPN", "KOR"), channel="ops.jpn-kor"), rel_to=("JPN", "KOR")
    )
    foreign, _ = _chain(peer, [secret])
    before = peer.state()
    async with peer.link() as (ws, _):
        await ws.send(wire.encoder.encode(wire.Ahead(items=forged)))
        await ws.send(wire.encoder.encode(wire.Ahead(items=foreign)))

        async def recorded() -> bool:
            return len(peer.refusals()) == 2

        await eventually(recorded, what="two refusals of items sent ahead")
    assert [(r[0], r[1]) for r in peer.refusals()] == [
        ("KOR", "bad_signature"),
        ("KOR", "not_releasable"),
    ]
    assert peer.refusals()[1][3] is None  # the bytes it may not hold are not kept
    assert peer.state() == before and _ahead_rows(peer) == []


async def test_an_in_order_copy_unlike_the_item_sent_ahead_is_refused(peer: FakePeer) -> None:
    """Two different events signed for one seq: the one sent ahead stays applied (it is the
    origin's genuine word), the in-order copy is refused and the stream stops there."""
    ahead_env, other = peer.envelope(), peer.envelope()
    ahead, _ = _chain(peer, [ahead_env])
    async with peer.link() as (ws, _):
        await ws.send(wire.encoder.encode(wire.Ahead(items=ahead)))

        async def applied() -> bool:
            return len(_ahead_rows(peer)) == 1

        await eventually(applied, what="the item sent ahead applied")
    copy, _ = _chain(peer, [other])
    refusal = await _refused(peer, wire.Batch(items=copy), "ahead_mismatch")
    assert "differs from the one KOR sent ahead" in refusal.reason
    assert _ahead_rows(peer) == [("KOR", 1, ahead_env.id)]
    assert db_rows(peer.db, "SELECT COUNT(*) FROM events WHERE id = ?", (other.id,)) == [(0,)]


async def test_an_item_sent_ahead_that_the_stream_has_passed_is_ignored(peer: FakePeer) -> None:
    flash = peer.envelope()
    items, _ = _chain(peer, [flash])
    assert await peer.push(wire.Batch(items=items)) == [wire.Ack(cursor=1)]
    async with peer.link() as (ws, _):
        await ws.send(wire.encoder.encode(wire.Ahead(items=items)))
        # Something that needs an answer, so the Ahead frame has surely been handled.
        more, _ = _chain(peer, [peer.envelope(_routine(peer))])
        await ws.send(wire.encoder.encode(wire.Batch(items=more)))
        assert wire.to_sender.decode(await ws.recv(decode=False)) == wire.Ack(cursor=2)
    assert peer.refusals() == [] and _ahead_rows(peer) == []
    assert db_rows(peer.db, "SELECT COUNT(*) FROM events WHERE id = ?", (flash.id,)) == [(1,)]


async def test_an_item_applied_ahead_survives_a_restart_and_is_matched_after(
    peer: FakePeer,
) -> None:
    """The item applied ahead and its ``peer_ahead`` row are committed together: after USA's
    node restarts, the in-order copy still only moves the cursor."""
    envs = [peer.envelope(_routine(peer)), peer.envelope()]
    items, last = _chain(peer, envs)
    async with peer.link() as (ws, _):
        await ws.send(wire.encoder.encode(wire.Ahead(items=[items[1]])))

        async def applied() -> bool:
            return len(_ahead_rows(peer)) == 1

        await eventually(applied, what="the FLASH applied ahead")
    usa = peer.cluster["USA"]
    await stop_node(usa)
    await start_node(usa)
    ops = await usa.login("usa.ops")
    status = {p["nation"]: p for p in (await ops.get("/api/v1/peers")).json()}
    assert status["KOR"]["applied_ahead"] == 0  # counted since the node started
    assert await peer.push(wire.Batch(items=items)) == [wire.Ack(cursor=2)]
    assert peer.cursor() == (2, last)
    assert _ahead_rows(peer) == [] and peer.refusals() == []
    for env in envs:
        assert db_rows(peer.db, "SELECT COUNT(*) FROM events WHERE id = ?", (env.id,)) == [(1,)]
    flash = (await ops.get(f"/api/v1/messages/{_mid(envs[1])}")).json()
    assert flash["precedence"] == "flash"


async def test_a_receipt_of_a_flash_goes_ahead_and_others_do_not(peer: FakePeer) -> None:
    """KOR's acknowledgment of USA's FLASH, sent ahead, shows at USA at once; its
    acknowledgment of a ROUTINE message may not overtake; one of a message USA does not hold
    is passed over (the in-order copy will come)."""
    usa = await peer.cluster["USA"].login("usa.ops")
    mids = {}
    for precedence in ("flash", "routine"):
        resp = await usa.post(
            "/api/v1/channels/ops.usa-jpn-kor/messages",
            json={"precedence": precedence, "body": f"a {precedence} message"},
        )
        mids[precedence] = str(resp.json()["id"])

    def ack(mid: str) -> Envelope:
        body = MessageAcknowledged(
            message_id=MessageId(mid), nation=NationCode("KOR"), by=Handle("kor.ops"), at=1.0
        )
        return peer.envelope(body)

    acks = [ack(mids["flash"]), ack(mids["routine"]), ack("usa-unknown")]
    items, last = _chain(peer, acks)
    async with peer.link() as (ws, _):
        await ws.send(wire.encoder.encode(wire.Ahead(items=items)))

        async def acked() -> bool:
            detail = (await usa.get(f"/api/v1/messages/{mids['flash']}")).json()
            return detail["receipts"]["KOR"]["acked_at"] is not None

        await eventually(acked, what="KOR's acknowledgment of the FLASH, sent ahead")
        await eventually(lambda: _one_refusal(peer), what="the refusal of the ROUTINE's ack")
        assert peer.refusals()[0][1] == "not_urgent"
        assert _ahead_rows(peer) == [("KOR", 1, acks[0].id)]
        assert peer.cursor()[0] == 0
        routine = (await usa.get(f"/api/v1/messages/{mids['routine']}")).json()
        assert routine["receipts"]["KOR"]["acked_at"] is None
        # The stream in order: the FLASH's ack only moves the cursor, the others are applied.
        await ws.send(wire.encoder.encode(wire.Batch(items=items)))
        assert wire.to_sender.decode(await ws.recv(decode=False)) == wire.Ack(cursor=3)
    assert peer.cursor() == (3, last) and _ahead_rows(peer) == []
    routine = (await usa.get(f"/api/v1/messages/{mids['routine']}")).json()
    assert routine["receipts"]["KOR"]["acked_at"] is not None
    assert len(peer.refusals()) == 1


async def _one_refusal(peer: FakePeer) -> bool:
    return len(peer.refusals()) == 1
