"""The receiving side of federation: a mutual-TLS WebSocket server that applies peers' streams.

The peer's nation is taken from its certificate (which must chain to the CA pinned for that
nation), never from what it claims. Each batch is checked item by item
(``federation.checks``) and applied with the stream cursor in ONE transaction, exactly once;
only then is the cursor acknowledged. A refused item is recorded in ``refused`` and the link is
closed: the stream cannot skip it, and the sender will retry after backoff.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import sqlite3
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import msgspec
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from hotline.domain import hotline as rules
from hotline.domain.events import (
    Envelope,
    LinkTestAnswered,
    LinkTestMissed,
    LinkTestSent,
    MessagesDelivered,
    MessageSent,
)
from hotline.domain.ids import NationCode
from hotline.domain.warning_events import WARNING_EVENTS
from hotline.errors import BadRequest, FederationError, HotlineError, NotReleasable
from hotline.federation import wire
from hotline.federation.checks import Cursor, check_ahead, check_copy, check_item
from hotline.federation.outbound import publish_link_alert, stop_task
from hotline.federation.trust import Trust
from hotline.ledger.chain import GENESIS
from hotline.pki import peer_certificate_der, server_context, verify_pinned
from hotline.service.hotline import HotlineService, Published
from hotline.signing import verify_envelope
from hotline.store import projections

log = logging.getLogger("hotline.federation")

MAX_FRAME = 16 * 1024 * 1024
#: A node with at least this many peers commits their batches with whatever else is queued
#: (group commit), except a FLASH message; with fewer, each batch is committed at once on the
#: loop when the writer is idle (``Inbound._apply``).
GROUP_FROM_PEERS = 8


def load_cursor(conn: sqlite3.Connection, peer: str) -> Cursor:
    row = conn.execute("SELECT last_seq, last_hash FROM peer_in WHERE peer = ?", (peer,)).fetchone()
    return Cursor(int(row[0]), bytes(row[1])) if row else Cursor(0, GENESIS)


def record_refusal(
    conn: sqlite3.Connection, peer: str, code: str, reason: str, raw: bytes | None, at: float
) -> None:
    conn.execute(
        "INSERT INTO refused(peer, at, code, reason, raw) VALUES (?, ?, ?, ?, ?)",
        (peer, at, code, reason, raw),
    )


class Inbound:
    """Applies peers' streams; ``on_applied`` is told of what the officials should see."""

    def __init__(
        self,
        svc: HotlineService,
        trust: Trust,
        host: str,
        port: int,
        on_link_answer: Callable[[str, NationCode, float], None] | None = None,
        receipt_delay_s: float = 0.02,
    ) -> None:
        self.svc = svc
        self.receipt_delay_s = receipt_delay_s
        #: Peers' messages applied here whose receipt this node has not signed yet.
        self._undelivered: list[MessageSent] = []
        self._arrived = asyncio.Event()
        self.trust = trust
        self.host = host
        self.port = port
        self.nation = svc.nation
        self.on_link_answer = on_link_answer or (lambda test_id, peer, rtt_ms: None)
        #: peer nation -> time its inbound link was established (status).
        self.connected: dict[NationCode, float] = {}
        self.refusals = 0
        #: Per peer, its messages applied here ahead of their place in its stream (urgent lane).
        self.applied_ahead: dict[NationCode, int] = {}
        #: Each peer's batch committed at once when the writer is idle (``_apply``).
        self._few_peers = len(trust.peers) < GROUP_FROM_PEERS
        #: Told (from the writer thread) when a peer's warning event lands.
        self.on_warning: Callable[[], None] = lambda: None

    async def serve(self) -> Server:
        ctx = server_context(self.trust.node_cert, self.trust.node_key, self.trust.ca_paths)
        return await serve(
            self._handle, self.host, self.port, ssl=ctx, max_size=MAX_FRAME, compression=None
        )

    def identify(self, ws: ServerConnection) -> NationCode:
        der = peer_certificate_der(ws.transport.get_extra_info("ssl_object"))
        nation = verify_pinned(der, None, self.trust.fingerprints, self.trust.ca_certs)
        if nation == self.nation or nation not in self.trust.peers:
            raise FederationError(
                f"certificate of {nation} is not a peer of {self.nation}", code="unknown_peer"
            )
        return NationCode(nation)

    async def _handle(self, ws: ServerConnection) -> None:
        try:
            peer = self.identify(ws)
        except HotlineError as exc:
            await self._refuse_link(ws, "?", exc)
            return
        since = time.time()
        self.connected[peer] = since
        try:
            cursor = load_cursor(self.svc.store.reader, peer)
            await ws.send(
                wire.encoder.encode(
                    wire.Hello(
                        nation=self.nation, cursor=cursor.seq, last_hash=cursor.last_hash.hex()
                    )
                )
            )
            # Frames are read here and batches applied by ``applier``, in order: an ``Ahead``
            # frame is read (and applied) while a batch before it is still being applied.
            batches: asyncio.Queue[wire.Batch] = asyncio.Queue(maxsize=4)
            applier = asyncio.create_task(self._apply_batches(ws, peer, batches))
            try:
                async for frame in ws:
                    try:
                        msg = wire.to_receiver.decode(frame)
                    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                        await self._refuse_link(ws, peer, BadRequest(f"malformed frame: {exc}"))
                        return
                    if isinstance(msg, wire.Ahead):
                        await self._apply_ahead(peer, msg.items, urgent=msg.urgent)
                    else:
                        await batches.put(msg)
            finally:
                failed = await stop_task(applier)
                if failed is not None and not isinstance(failed, ConnectionClosed):
                    log.error("applying %s's stream failed: %r", peer, failed)
        except ConnectionClosed:
            pass
        finally:
            if self.connected.get(peer) == since:
                del self.connected[peer]

    async def _apply_batches(
        self, ws: ServerConnection, peer: NationCode, batches: asyncio.Queue[wire.Batch]
    ) -> None:
        """Apply the peer's batches in order, acknowledging each; a refusal closes the link, and
        so does a failure (the store's: the sender resumes from the cursor when it reconnects)."""
        try:
            while True:
                batch = await batches.get()
                applied, refusal = await self._apply(peer, batch.items, urgent=batch.urgent)
                if applied is not None:
                    await ws.send(wire.encoder.encode(wire.Ack(cursor=applied)))
                if refusal is not None:
                    await ws.send(wire.encoder.encode(refusal))
                    await ws.close(code=4400, reason=refusal.code)
                    return
        except HotlineError:
            await ws.close(code=1011, reason="not applied")
            raise

    async def _refuse_link(self, ws: ServerConnection, peer: str, exc: HotlineError) -> None:
        self.refusals += 1
        now = time.time()
        await self.svc.store.run(
            lambda conn: record_refusal(conn, peer, exc.code, exc.message, None, now)
        )
        log.warning("refused link from %s: %s", peer, exc)
        try:
            await ws.send(
                wire.encoder.encode(wire.Refused(seq=0, code=exc.code, reason=exc.message))
            )
            await ws.close(code=4403, reason=exc.code)
        except ConnectionClosed:
            pass

    async def _apply(
        self, peer: NationCode, items: list[wire.StreamItem], *, urgent: bool = False
    ) -> tuple[int | None, wire.Refused | None]:
        """Apply what can be applied; returns (new cursor or None, refusal or None).

        ``urgent``: the sender says the batch holds a FLASH message: it is committed on the
        loop, before the jobs queued (``SqliteStore.run``, urgent and preempt). Any other batch
        is committed on the loop too if the writer is idle, at a node with few peers; at a node
        with ``GROUP_FROM_PEERS`` or more it joins the writer's next transaction, with the
        batches other peers sent meanwhile (group commit: with NATO's 32, the receipts of one
        message from 31 allies in a few commits rather than 31). Only the order of this node's
        own work depends on it; every item is checked the same."""
        now = time.time()
        key = self.trust.peers[peer].signing_key
        svc = self.svc

        def verify(env: Envelope) -> None:
            verify_envelope(env, key)

        def job(
            conn: sqlite3.Connection,
        ) -> tuple[
            int | None,
            wire.Refused | None,
            list[Published],
            list[tuple[str, float]],
            list[MessageSent],
        ]:
            cursor = load_cursor(conn, peer)
            start = cursor.seq
            # Items of this stream already applied ahead of their place (the urgent lane).
            ahead: dict[int, bytes] = dict(
                conn.execute(
                    "SELECT seq, digest FROM peer_ahead WHERE peer = ? AND seq > ?",
                    (peer, start),
                ).fetchall()
            )
            published: list[Published] = []
            answers: list[tuple[str, float]] = []
            arrived: list[MessageSent] = []
            refusal: wire.Refused | None = None
            for item in items:
                # One savepoint per item: an item refused half-way (say, an event id already
                # stored) leaves no trace but its refusal.
                conn.execute("SAVEPOINT item")
                try:
                    digest = ahead.get(item.seq)
                    fresh = digest is None
                    if digest is None:
                        env, new_hash = check_item(
                            item, peer=peer, self_nation=self.nation, cursor=cursor, verify=verify
                        )
                        svc.projector.append(conn, [env])
                        reacted = self._react(conn, env, now, answers)
                    else:  # applied ahead: the same bytes, and then only the cursor moves
                        env, new_hash = check_copy(
                            item, digest=digest, peer=peer, self_nation=self.nation, cursor=cursor
                        )
                        conn.execute(
                            "DELETE FROM peer_ahead WHERE peer = ? AND seq = ?", (peer, item.seq)
                        )
                        reacted = []
                except HotlineError as exc:
                    conn.execute("ROLLBACK TO item")
                    conn.execute("RELEASE item")
                    svc.projector.forget_heads()
                    raw = None if isinstance(exc, NotReleasable) else bytes(item.event)
                    refusal = wire.Refused(seq=item.seq, code=exc.code, reason=exc.message)
                    record_refusal(conn, peer, exc.code, exc.message, raw, now)
                    break
                conn.execute("RELEASE item")
                published.extend(reacted)
                if fresh and isinstance(env.body, MessageSent):
                    arrived.append(env.body)
                cursor = Cursor(item.seq, new_hash)
            conn.execute(
                "INSERT INTO peer_in(peer, last_seq, last_hash) VALUES (?, ?, ?) "
                "ON CONFLICT(peer) DO UPDATE SET last_seq = excluded.last_seq, "
                "last_hash = excluded.last_hash",
                (peer, cursor.seq, cursor.last_hash),
            )
            applied = cursor.seq if cursor.seq != start else None
            return applied, refusal, published, answers, arrived

        applied, refusal, published, answers, arrived = await svc.store.run(
            job, urgent=urgent or self._few_peers, preempt=urgent
        )
        if arrived:
            self._undelivered.extend(arrived)
            self._arrived.set()
        if refusal is not None:
            self.refusals += 1
            log.warning("refused %s seq %s: %s", peer, refusal.seq, refusal.reason)
        if published:
            svc.publish(published)
            svc.on_commit()
        for test_id, value in answers:
            if test_id.startswith("missed:"):  # the peer's test to us went unanswered
                publish_link_alert(svc, peer, self.nation, test_id[7:], value, now)
            else:
                self.on_link_answer(test_id, peer, value)
        return applied, refusal

    async def _apply_ahead(
        self, peer: NationCode, items: list[wire.StreamItem], *, urgent: bool = False
    ) -> None:
        """Apply items the peer sent ahead of their place in its stream (the urgent lane).

        Each is checked as ``check_ahead`` says and applied as an in-order item would be
        (stored, projected, published, a message's receipt to follow), with a ``peer_ahead``
        row that its in-order copy will have to match. An item the stream has already reached,
        already applied ahead, or a receipt of a message not held here yet, is passed over. A
        refused one is recorded but does not close the link: its in-order copy will come, and
        be checked, in its place.
        """
        now = time.time()
        key = self.trust.peers[peer].signing_key
        svc = self.svc
        compact = svc.compact

        def verify(env: Envelope) -> None:
            verify_envelope(env, key)

        def job(
            conn: sqlite3.Connection,
        ) -> tuple[int, list[Published], list[MessageSent], list[HotlineError]]:
            def urgent(env: Envelope) -> bool | None:
                flash = partial(projections.flash_among, conn, compact)
                return rules.overtakes(compact, env.body, flash)

            cursor = load_cursor(conn, peer)
            applied = 0
            published: list[Published] = []
            arrived: list[MessageSent] = []
            refused: list[HotlineError] = []
            for item in items:
                raw = bytes(item.event)
                conn.execute("SAVEPOINT item")
                try:
                    env = check_ahead(
                        item,
                        peer=peer,
                        self_nation=self.nation,
                        cursor=cursor,
                        verify=verify,
                        urgent=urgent,
                    )
                    if (
                        env is None
                        or conn.execute(
                            "SELECT 1 FROM peer_ahead WHERE peer = ? AND seq = ?", (peer, item.seq)
                        ).fetchone()
                    ):
                        conn.execute("RELEASE item")
                        continue
                    svc.projector.append(conn, [env])
                    conn.execute(
                        "INSERT INTO peer_ahead(peer, seq, event_id, digest, at) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (peer, item.seq, env.id, hashlib.sha256(raw).digest(), now),
                    )
                    reacted = self._react(conn, env, now, [])
                except HotlineError as exc:
                    conn.execute("ROLLBACK TO item")
                    conn.execute("RELEASE item")
                    svc.projector.forget_heads()
                    kept = None if isinstance(exc, NotReleasable) else raw
                    record_refusal(conn, peer, exc.code, exc.message, kept, now)
                    refused.append(exc)
                    continue
                conn.execute("RELEASE item")
                applied += 1
                published.extend(reacted)
                if isinstance(env.body, MessageSent):
                    arrived.append(env.body)
            return applied, published, arrived, refused

        # A FLASH message goes before the queue; receipts of one as a batch does (``_apply``),
        # ahead of their batches all the same.
        applied, published, arrived, refused = await svc.store.run(
            job, urgent=urgent or self._few_peers, preempt=urgent
        )
        if applied:
            self.applied_ahead[peer] = self.applied_ahead.get(peer, 0) + applied
        if arrived:
            self._undelivered.extend(arrived)
            self._arrived.set()
        for exc in refused:
            self.refusals += 1
            log.warning("refused %s's item sent ahead: %s", peer, exc.message)
        if published:
            svc.publish(published)
            svc.on_commit()

    def _react(
        self,
        conn: sqlite3.Connection,
        env: Envelope,
        now: float,
        answers: list[tuple[str, float]],
    ) -> list[Published]:
        """What this node does when a peer's event lands: receipts, link-test answers."""
        body = env.body
        svc = self.svc
        out: list[Published] = []
        if isinstance(body, MessageSent):
            out.append((env, body))  # its receipt: ``_delivered``, once the batch is applied
        elif isinstance(body, LinkTestSent):
            answer = svc.envelope(
                LinkTestAnswered(test_id=body.test_id, to=env.origin, at=now),
                (env.origin, self.nation),
                now,
            )
            svc.projector.append(conn, [answer])
        elif isinstance(body, LinkTestMissed):
            answers.append((f"missed:{body.test_id}", body.sent_at))
        elif isinstance(body, WARNING_EVENTS):
            self.on_warning()  # fuse the peer's raw reports; publish its tracks and alerts
        elif isinstance(body, LinkTestAnswered):
            row = conn.execute(
                "SELECT sent_at FROM link_tests WHERE test_id = ? AND origin = ?",
                (body.test_id, self.nation),
            ).fetchone()
            if row is not None:
                rtt_ms = (now - float(row[0])) * 1000.0
                conn.execute(
                    "UPDATE link_tests SET rtt_ms = ? WHERE test_id = ?", (rtt_ms, body.test_id)
                )
                answers.append((body.test_id, rtt_ms))
        elif isinstance(body, MessagesDelivered):
            sents = projections.load_sents(conn, body.message_ids)
            for one in body.each():
                sent = sents.get(one.message_id)
                if sent is not None:
                    out.append((msgspec.structs.replace(env, body=one), sent))
        else:
            sent = _message_of(conn, body)
            if sent is not None:
                out.append((env, sent))
        return out

    # ---- receipts ------------------------------------------------------------------------

    async def run_receipts(self) -> None:
        """Sign this nation's receipts of the messages peers deliver, a few at a time.

        A message is published to the officials as soon as it is applied; its receipt follows
        within ``receipt_delay_s``, one ``MessagesDelivered`` for everything applied meanwhile
        (per releasability), so that under load one signature and one verification per nation
        cover tens of messages, and the receipts' work stays off the next message's path. What
        a crash leaves unreceipted is found again in the store on start (``_unreceipted``).
        """
        svc = self.svc
        recovered = self._unreceipted(svc.store.reader)
        if recovered:
            self._undelivered[:0] = recovered
            self._arrived.set()
        while True:
            await self._arrived.wait()
            if self.receipt_delay_s > 0:
                await asyncio.sleep(self.receipt_delay_s)
            self._arrived.clear()
            arrived, self._undelivered = self._undelivered, []
            now = time.time()

            try:
                published = await svc.store.run(partial(self._delivered, arrived=arrived, now=now))
            except HotlineError as exc:  # the store failed: keep them for the next round
                log.error("receipts of %d messages not stored: %s", len(arrived), exc)
                self._undelivered[:0] = arrived
                self._arrived.set()
                await asyncio.sleep(1.0)
                continue
            svc.publish(published)
            svc.on_commit()

    def _unreceipted(self, conn: sqlite3.Connection) -> list[MessageSent]:
        rows = conn.execute(
            "SELECT m.raw FROM receipts r JOIN messages m ON m.id = r.message_id "
            "WHERE r.nation = ? AND r.delivered_at IS NULL AND m.nation != ? ORDER BY m.seq",
            (self.nation, self.nation),
        ).fetchall()
        return [projections.decode_sent(raw) for (raw,) in rows]

    def _delivered(
        self, conn: sqlite3.Connection, arrived: list[MessageSent], now: float
    ) -> list[Published]:
        """Sign and store this nation's receipts of ``arrived`` (``rules.delivered_receipts``)."""
        out: list[Published] = []
        for body, sents in rules.delivered_receipts(self.nation, arrived, now):
            env = self.svc.envelope(body, sents[0].rel_to, now)
            self.svc.projector.append(conn, [env])
            out += [
                (msgspec.structs.replace(env, body=one), sent)
                for one, sent in zip(body.each(), sents, strict=True)
            ]
        return out


def _message_of(conn: sqlite3.Connection, body: Any) -> MessageSent | None:
    mid = getattr(body, "message_id", None)
    if mid is None:
        return None
    return projections.load_sent(conn, mid)
