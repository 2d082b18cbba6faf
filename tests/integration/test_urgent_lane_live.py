"""The urgent lane on a live link, seen from the receiving end.

USA runs for real, alone (JPN would dial KOR too); KOR is a fake receiver on KOR's federation
port, with KOR's real certificate. It greets USA, takes USA's first batch and holds its
acknowledgment: the stream to KOR is stuck behind a batch in flight, as under load. A FLASH
that USA stores meanwhile must reach KOR at once in an ``Ahead`` frame, and then come again in
its place in the stream.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from hotline.domain.events import MessageSent, decode_envelope
from hotline.federation import wire
from hotline.ledger.chain import GENESIS
from hotline.pki import server_context
from tests.integration.federation_support import federated, federation_port, tune_federation
from tests.support import eventually

pytestmark = pytest.mark.anyio


class HeldReceiver:
    """KOR's end of USA's stream: records every frame, acknowledges only when let."""

    def __init__(self) -> None:
        self.frames: list[wire.Batch | wire.Ahead] = []
        self.release = asyncio.Event()

    async def handle(self, ws: ServerConnection) -> None:
        await ws.send(
            wire.encoder.encode(wire.Hello(nation="KOR", cursor=0, last_hash=GENESIS.hex()))
        )
        acks: list[asyncio.Task[None]] = []
        try:
            async for frame in ws:  # read on while a batch waits, as a real receiver does
                msg = wire.to_receiver.decode(frame)
                self.frames.append(msg)
                if isinstance(msg, wire.Batch):
                    acks.append(asyncio.create_task(self._ack(ws, msg.items[-1].seq)))
        except ConnectionClosed:
            pass
        finally:
            for task in acks:
                task.cancel()

    async def _ack(self, ws: ServerConnection, cursor: int) -> None:
        await self.release.wait()
        await ws.send(wire.encoder.encode(wire.Ack(cursor=cursor)))

    def messages(self, kind: type[wire.Batch | wire.Ahead]) -> list[tuple[int, str, str]]:
        """(seq, message id, precedence) of each message KOR got in frames of ``kind``."""
        out = []
        for frame in self.frames:
            if isinstance(frame, kind):
                for item in frame.items:
                    body = decode_envelope(bytes(item.event)).body
                    if isinstance(body, MessageSent):
                        out.append((item.seq, str(body.message_id), body.precedence.value))
        return out


async def test_a_flash_overtakes_a_batch_in_flight(tmp_path: Path) -> None:
    def quick_retries(nation: str, node_dir: Path) -> None:
        tune_federation(node_dir, backoff_max_s=0.2)  # KOR is "down" until the fake starts

    receiver = HeldReceiver()
    async with federated(tmp_path, running=("USA",), tune=quick_retries) as cluster:
        kor = cluster["KOR"].node_dir / "pki"
        cas = [cluster[n].node_dir / "pki" / "ca.crt" for n in ("USA", "JPN", "KOR")]
        ctx = server_context(kor / "node.crt", kor / "node.key", cas)
        port = federation_port(cluster, "KOR")
        async with serve(receiver.handle, "127.0.0.1", port, ssl=ctx, compression=None):
            try:
                ops = await cluster["USA"].login("usa.ops")

                async def post(precedence: str, body: str) -> str:
                    resp = await ops.post(
                        "/api/v1/channels/ops.usa-jpn-kor/messages",
                        json={"precedence": precedence, "body": body},
                    )
                    assert resp.status_code == 201, resp.text
                    return str(resp.json()["id"])

                routine = await post("routine", "queued first")

                async def held() -> bool:
                    return any(m[1] == routine for m in receiver.messages(wire.Batch))

                await eventually(held, what="USA's first batch to KOR, its ack held")
                flash = await post("flash", "launch detected")

                async def ahead() -> bool:
                    return any(m[1] == flash for m in receiver.messages(wire.Ahead))

                await eventually(ahead, what="the FLASH sent ahead of the batch in flight")
                assert not any(m[1] == flash for m in receiver.messages(wire.Batch))
                (seq_ahead,) = [m[0] for m in receiver.messages(wire.Ahead) if m[1] == flash]

                receiver.release.set()  # KOR acknowledges: the stream moves on, in order

                async def in_place() -> bool:
                    return any(m[1] == flash for m in receiver.messages(wire.Batch))

                await eventually(in_place, what="the FLASH in its place in the stream")
                (seq_in_order,) = [m[0] for m in receiver.messages(wire.Batch) if m[1] == flash]
                assert seq_in_order == seq_ahead
                seqs = [
                    item.seq
                    for frame in receiver.frames
                    if isinstance(frame, wire.Batch)
                    for item in frame.items
                ]
                # The batches carried every seq once, in order: the lane skipped nothing.
                assert seqs == list(range(1, len(seqs) + 1))
                # The frames holding the FLASH message ask KOR to put it first (``urgent``);
                # no other frame does.
                (ahead_frame,) = [f for f in receiver.frames if isinstance(f, wire.Ahead)]
                assert ahead_frame.urgent
                marked = [
                    any(item.seq == seq_in_order for item in frame.items)
                    for frame in receiver.frames
                    if isinstance(frame, wire.Batch) and frame.urgent
                ]
                assert marked == [True]
                peers = {p["nation"]: p for p in (await ops.get("/api/v1/peers")).json()}
                assert peers["KOR"]["sent_ahead"] >= 1, peers["KOR"]
            finally:
                receiver.release.set()  # a failure must not leave the fake's handler waiting
