"""The sending side of federation: one persistent link per peer pushing this node's stream.

The stream to a peer is the ``outbox`` table: every event this node originates that the peer
may hold, numbered and hash-chained when it was stored (before anything is sent). A link
connects with mutual TLS, reads the peer's cursor from its Hello, pushes batches in seq order
and advances on each Ack. Any failure closes the link; it reconnects with bounded exponential
backoff, reset as soon as the peer is heard again, and resumes from the peer's cursor: an
outage only delays.

The urgent lane: while a batch is on its way (or a backlog waits after an outage), a FLASH
message on a compact channel, or a receipt of one (``rules.overtakes``), that is further back
in the stream is sent at once in an ``Ahead`` frame, as the very item it will be in its batch.
The receiver applies it ahead of its place; the in-order copy then only advances its cursor.
FLASH, and word of its delivery and acknowledgment, reach the other nations without waiting for
the ROUTINE traffic queued before them.

Link tests run here too: at the compact's interval a signed ``LinkTestSent`` travels on the
stream; the peer's ``LinkTestAnswered`` comes back on its own stream and gives the round-trip
time; no answer within the timeout raises ``LinkTestMissed`` and an alert to the ops centre.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from dataclasses import dataclass
from functools import partial
from typing import Any

import msgspec
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.typing import Data

from hotline.bus.memory import Item
from hotline.domain.compact import Official
from hotline.domain.events import LinkTestMissed, LinkTestSent
from hotline.domain.ids import Layer, NationCode
from hotline.errors import FederationError, HotlineError
from hotline.federation import wire
from hotline.federation.trust import Peer, Trust
from hotline.pki import client_context, peer_certificate_der, verify_pinned
from hotline.ports import new_id
from hotline.service.hotline import HotlineService
from hotline.settings import FederationSettings
from hotline.store import outbox

log = logging.getLogger("hotline.federation")

ACK_TIMEOUT_S = 15.0
#: How often peers' acknowledged cursors are written down (status only).
ACKED_SAVE_INTERVAL_S = 1.0
_json = msgspec.json.Encoder()


@dataclass
class LinkState:
    peer: NationCode
    address: str
    connected: bool = False
    since: float | None = None
    last_error: str | None = None
    acked_seq: int = 0
    reconnects: int = 0
    last_rtt_ms: float | None = None
    last_test_at: float | None = None
    missed_tests: int = 0
    #: (seq, code) of the last refusal the ops centre was alerted of.
    refused: tuple[int, str] | None = None
    #: Items sent ahead of their place (the urgent lane), since start.
    sent_ahead: int = 0


@dataclass
class _Sent:
    """How far one connection has sent the stream: in its batches, and ahead of them."""

    in_order: int
    ahead: int = 0


class Outbound:
    def __init__(
        self,
        svc: HotlineService,
        trust: Trust,
        settings: FederationSettings,
        link_test_interval_s: float,
        link_test_timeout_s: float,
    ) -> None:
        self.svc = svc
        self.trust = trust
        self.settings = settings
        self.nation = svc.nation
        self.links = {n: LinkState(n, p.address) for n, p in trust.peers.items()}
        for peer, acked in svc.store.reader.execute("SELECT peer, acked_seq FROM peer_out"):
            if peer in self.links:  # as last written down; the peer's Hello will tell
                self.links[peer].acked_seq = int(acked)
        self._wake = {n: asyncio.Event() for n in trust.peers}
        self._wake_ahead = {n: asyncio.Event() for n in trust.peers}
        self.ctx = client_context(trust.node_cert, trust.node_key, trust.ca_paths)
        self.link_test_interval_s = link_test_interval_s
        self.link_test_timeout_s = link_test_timeout_s

    def wake(self) -> None:
        # The batches' loop first: on an idle link it sends a FLASH in its place, and the
        # urgent lane, woken next, finds nothing left to send ahead.
        for event in self._wake.values():
            event.set()
        for event in self._wake_ahead.values():
            event.set()

    def on_link_answer(self, test_id: str, peer: NationCode, rtt_ms: float) -> None:
        link = self.links.get(peer)
        if link is not None:
            link.last_rtt_ms = rtt_ms

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._save_acked())
            for peer in self.trust.peers.values():
                tg.create_task(self._keep_linked(peer))
                tg.create_task(self._link_tests(peer))

    # ---- pushing the stream ---------------------------------------------------------------

    async def _keep_linked(self, peer: Peer) -> None:
        link = self.links[peer.nation]
        backoff = self.settings.backoff_min_s
        while True:
            try:
                await self._push(peer, link)
            except (
                OSError,
                ConnectionClosed,
                InvalidHandshake,
                TimeoutError,
                HotlineError,
                msgspec.DecodeError,
                msgspec.ValidationError,
            ) as exc:
                link.last_error = f"{type(exc).__name__}: {exc}"
            if link.connected:  # we were heard: the next failure starts from the bottom again
                backoff = self.settings.backoff_min_s
            link.connected = False
            link.reconnects += 1
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.settings.backoff_max_s)

    async def _push(self, peer: Peer, link: LinkState) -> None:
        host = peer.address.rsplit(":", 1)[0]
        async with websockets.connect(
            f"wss://{peer.address}/federation/v1/stream",
            ssl=self.ctx,
            server_hostname=host,
            max_size=wire_max(),
            compression=None,
            open_timeout=5,
        ) as ws:
            der = peer_certificate_der(ws.transport.get_extra_info("ssl_object"))
            verify_pinned(der, peer.nation, self.trust.fingerprints, self.trust.ca_certs)
            first = wire.to_sender.decode(await _recv(ws))
            if isinstance(first, wire.Refused):
                self._alert_refusal(peer.nation, first)
                raise FederationError(f"{peer.nation} refused the link: {first.reason}")
            if not isinstance(first, wire.Hello) or first.nation != peer.nation:
                raise FederationError(f"{peer.nation} did not greet as itself: {first!r}")
            # last_error stays until the link is seen delivering (an ack moves the cursor, or
            # the peer has everything): a peer that refuses every retry greets first each time,
            # and its refusal must not vanish from the status between two retries.
            link.connected, link.since = True, time.time()
            await self._set_acked(link, first.cursor)
            sent = _Sent(in_order=first.cursor)
            lane = None
            if self.settings.urgent_lane:
                # What waited through an outage goes before the first batch.
                await self._ahead_once(ws, link, sent, ask=True)
                lane = asyncio.create_task(self._send_ahead(ws, link, sent))
            try:
                await self._send_batches(ws, peer, link, sent)
            finally:
                if lane is not None:
                    failed = await stop_task(lane)
                    if failed is not None and not isinstance(failed, ConnectionClosed):
                        log.warning("urgent lane to %s failed: %r", peer.nation, failed)

    async def _send_batches(
        self, ws: ClientConnection, peer: Peer, link: LinkState, sent: _Sent
    ) -> None:
        """Push the stream in order, a batch at a time, each acknowledged before the next.

        The stream is read from a position in the outbox (``store.outbox``): found from the
        peer's cursor once, then moved on past each batch the peer acknowledges.
        """
        reader = self.svc.store.reader
        nation, limit = peer.nation, self.settings.batch_max
        scan = outbox.scan_events(len(self.trust.peers))
        at = outbox.position(reader, nation, sent.in_order)
        wake = self._wake[nation]
        while True:
            rows, scanned, more = outbox.pending(reader, nation, at, limit, scan)
            if not rows and not more:
                wake.clear()
                rows, scanned, more = outbox.pending(reader, nation, at, limit, scan)  # new?
            if not rows:
                at = scanned  # no item of this stream up to there
                if more:  # events this peer may not hold: read on, letting the loop run
                    await asyncio.sleep(0)
                    continue
                link.last_error = None  # caught up: the peer has every event
                try:
                    async with asyncio.timeout(1.0):
                        await wake.wait()
                except TimeoutError:
                    await ws.ping()
                continue
            items = self._items(nation, rows)
            urgent = self._holds_flash(nation, sent.in_order, items[-1].seq)
            sent.in_order = items[-1].seq  # before the send: the lane skips what it holds
            await ws.send(wire.encoder.encode(wire.Batch(items=items, urgent=urgent)))
            reply = wire.to_sender.decode(await _recv(ws))
            if isinstance(reply, wire.Ack):
                await self._set_acked(link, reply.cursor)
                if reply.cursor < items[-1].seq:  # partially applied, refusal follows
                    at = outbox.position(reader, nation, reply.cursor)
                    reply = wire.to_sender.decode(await _recv(ws))
                else:
                    at = scanned
            if isinstance(reply, wire.Refused):
                self._alert_refusal(nation, reply)
                raise FederationError(
                    f"{nation} refused seq {reply.seq}: {reply.code}: {reply.reason}"
                )

    def _alert_refusal(self, peer: NationCode, refused: wire.Refused) -> None:
        """Tell this node's ops centre, once per refused item, that ``peer`` refused it.

        The stream cannot skip an item, so the link retries (with backoff) and the peer refuses
        again: the alert is raised for the first refusal of each (seq, code), not per retry.
        """
        link = self.links[peer]
        key = (refused.seq, refused.code)
        if link.refused == key:
            return
        link.refused = key
        publish_ops_alert(
            self.svc,
            {
                "kind": "peer_refused",
                "nation": self.nation,
                "peer": peer,
                "seq": refused.seq,
                "code": refused.code,
                "reason": refused.reason,
                "message": f"{peer} refused {self.nation}'s stream at seq {refused.seq}: "
                f"{refused.code}: {refused.reason} (the stream waits until it is resolved)",
            },
        )

    async def _send_ahead(self, ws: ClientConnection, link: LinkState, sent: _Sent) -> None:
        """The urgent lane of one connection: send each urgent item not yet sent at once."""
        wake = self._wake_ahead[link.peer]
        while True:
            wake.clear()
            try:
                if not await self._ahead_once(ws, link, sent):
                    await wake.wait()
            except ConnectionClosed:
                return  # the batches' loop sees it too, and reconnects

    async def _ahead_once(
        self, ws: ClientConnection, link: LinkState, sent: _Sent, *, ask: bool = False
    ) -> bool:
        """Send the urgent items not sent yet on this connection, if any (one frame).

        The store is asked only if the projector queued an urgent item past what this
        connection has sent, or if ``ask`` (a new connection: what an outage left behind).
        """
        after = max(sent.in_order, sent.ahead)
        if not ask and self.svc.projector.urgent_upto.get(link.peer, 0) <= after:
            return False
        rows = outbox.urgent(self.svc.store.reader, link.peer, after, self.settings.batch_max)
        if not rows:
            return False
        items = self._items(link.peer, rows)
        sent.ahead = items[-1].seq
        urgent = self._holds_flash(link.peer, after, items[-1].seq)
        await ws.send(wire.encoder.encode(wire.Ahead(items=items, urgent=urgent)))
        link.sent_ahead += len(items)
        return True

    def _holds_flash(self, peer: NationCode, after: int, last: int) -> bool:
        """Whether items ``after + 1 .. last`` of ``peer``'s stream hold the latest FLASH message
        queued for it: the frame is marked ``urgent`` and the receiver commits it first."""
        return after < self.svc.projector.flash_upto.get(peer, 0) <= last

    def _items(self, peer: NationCode, rows: list[outbox.Row]) -> list[wire.StreamItem]:
        return [
            wire.StreamItem(
                origin=self.nation,
                destination=peer,
                seq=seq,
                prev_hash=prev.hex(),
                event=msgspec.Raw(raw),
            )
            for seq, prev, raw, _ in rows
        ]

    async def _set_acked(self, link: LinkState, cursor: int) -> None:
        """Note the peer's cursor; ``_save_acked`` persists it at most once a second.

        The stored figure is for status only (a link resumes from the cursor the peer's Hello
        gives), so it need not cost a commit per acknowledged batch.
        """
        if cursor > link.acked_seq:  # the peer applied more: the link delivers
            link.last_error = None
        link.acked_seq = cursor

    async def _save_acked(self) -> None:
        saved = {nation: link.acked_seq for nation, link in self.links.items()}
        while True:
            await asyncio.sleep(ACKED_SAVE_INTERVAL_S)
            changed = {
                n: link.acked_seq for n, link in self.links.items() if link.acked_seq != saved[n]
            }
            if not changed:
                continue

            def save(conn: sqlite3.Connection, changed: dict[NationCode, int] = changed) -> None:
                conn.executemany(
                    "UPDATE peer_out SET acked_seq = ? WHERE peer = ?",
                    [(seq, peer) for peer, seq in changed.items()],
                )

            await self.svc.store.run(save)
            saved.update(changed)

    # ---- link tests -------------------------------------------------------------------------

    async def _link_tests(self, peer: Peer) -> None:
        link = self.links[peer.nation]
        await asyncio.sleep(min(1.0, self.link_test_interval_s))
        while True:
            test_id = new_id(f"lt-{self.nation.lower()}-{peer.nation.lower()}")
            now = time.time()
            env = self.svc.envelope(
                LinkTestSent(test_id=test_id, to=peer.nation, at=now),
                (self.nation, peer.nation),
                now,
            )
            await self.svc.store.run(partial(self.svc.projector.append, envs=[env]))
            link.last_test_at = now
            self.wake()
            await asyncio.sleep(self.link_test_timeout_s)
            row = self.svc.store.reader.execute(
                "SELECT answered_at FROM link_tests WHERE test_id = ?", (test_id,)
            ).fetchone()
            if row is None or row[0] is None:
                await self._missed(peer.nation, test_id, now)
            await asyncio.sleep(max(0.0, self.link_test_interval_s - self.link_test_timeout_s))

    async def _missed(self, peer: NationCode, test_id: str, sent_at: float) -> None:
        link = self.links[peer]
        link.missed_tests += 1
        now = time.time()
        env = self.svc.envelope(
            LinkTestMissed(test_id=test_id, peer=peer, sent_at=sent_at, at=now),
            (self.nation, peer),
            now,
        )
        await self.svc.store.run(partial(self.svc.projector.append, envs=[env]))
        publish_link_alert(self.svc, self.nation, peer, test_id, sent_at, now)
        self.wake()

    def status(self) -> list[dict[str, Any]]:
        reader = self.svc.store.reader
        out = []
        for nation, link in self.links.items():
            # A bounded read per peer (``outbox.last_seq``), on the event loop, per request.
            last_seq = outbox.last_seq(reader, nation)
            acked = link.acked_seq
            out.append(
                {
                    "nation": nation,
                    "address": link.address,
                    "connected": link.connected,
                    "since": link.since,
                    "backlog": max(0, last_seq - acked),
                    "last_seq": last_seq,
                    "acked_seq": acked,
                    "last_link_test_rtt_ms": link.last_rtt_ms,
                    "last_link_test_at": link.last_test_at,
                    "missed_link_tests": link.missed_tests,
                    "reconnects": link.reconnects,
                    "sent_ahead": link.sent_ahead,
                    "last_error": link.last_error,
                }
            )
        return out


async def _recv(ws: ClientConnection) -> Data:
    """The peer's next frame, or TimeoutError after ``ACK_TIMEOUT_S``.

    ``asyncio.timeout``, not ``asyncio.wait_for``: on Python 3.11 ``wait_for`` loses a
    cancellation that lands as the frame arrives, and the link task then never stops (the node
    hangs on shutdown).
    """
    async with asyncio.timeout(ACK_TIMEOUT_S):
        return await ws.recv()


async def stop_task(task: asyncio.Task[Any]) -> BaseException | None:
    """Cancel ``task``, wait until it has ended, and return its exception if it failed.

    Waits with ``asyncio.wait``, which never raises the task's exception or cancellation: so a
    cancellation of the caller that lands meanwhile still propagates (``await task`` inside
    ``suppress(CancelledError)`` would swallow it, and a link's retry loop would never stop).
    """
    task.cancel()
    await asyncio.wait([task])
    return None if task.cancelled() else task.exception()


def wire_max() -> int:
    return 16 * 1024 * 1024


def publish_link_alert(
    svc: HotlineService,
    nation: NationCode,
    peer: NationCode,
    test_id: str,
    sent_at: float,
    at: float,
) -> None:
    """An alert to this node's ops centre: ``nation``'s link test to ``peer`` went unanswered.

    Raised by the testing nation's node when the test times out, and by ``peer``'s node when
    the ``LinkTestMissed`` event reaches it (the link has healed): both ops centres know.
    """
    from hotline.service.views import iso

    publish_ops_alert(
        svc,
        {
            "kind": "link_test_missed",
            "peer": peer,
            "nation": nation,
            "test_id": test_id,
            "sent_at": iso(sent_at),
            "at": iso(at),
            "message": f"link test {nation}→{peer} sent {iso(sent_at)} was not answered",
        },
    )


def publish_ops_alert(svc: HotlineService, alert: dict[str, Any]) -> None:
    """``{"type": "alert", ...}`` on the live streams of this node's ops centre (FLASH rank)."""
    from hotline.service.views import iso

    payload = {"type": "alert", "at": iso(time.time()), **alert}

    def ops(o: Official) -> bool:
        return o.layer == Layer.OPS and o.nation == svc.nation

    svc.bus.publish([Item(0, _json.encode(payload), ops)])
