"""The TAK-compatible CoT streaming port: sensor reports in, tracks and impacts out.

Two listeners (``settings.cot``): plain TCP on ``port`` and TLS on ``tls_port``.

Authentication. TLS: the client's certificate must chain to this nation's CA (the only CA the
port trusts), so only this nation's gateways and devices connect (``cot.certs``). TCP: there is
no client authentication in the CoT protocol, so the port must sit on a protected network
(the default binds 127.0.0.1; a real node binds it to the sensor LAN only). On both, every
report must name a sensor the compact lists for this nation (``domain.reports``) and counts as
this nation's: a CoT client can never post for another nation.

In: the byte stream is cut into events (``StreamSplitter``), each parsed safely
(``cot.codec``); pings are answered, atoms with a point become reports (checked one by one: a
bad event is answered with a ``t-x-e`` error event naming the field and changes nothing), and
the good reports of one read are stored together (one job). Out: every TAK client gets the
shown picture on connecting and then every track and impact change as it is published.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from hotline.cot.codec import (
    CotError,
    StreamSplitter,
    error_event,
    impact_event,
    parse_event,
    pong_event,
    to_report,
    track_event,
)
from hotline.domain.events import Envelope
from hotline.domain.warning_events import ReportRecord, TrackUpdated
from hotline.errors import HotlineError, InputError
from hotline.service.warning import WarningService
from hotline.settings import CotSettings
from hotline.store import warning as store

log = logging.getLogger("hotline.cot")

READ_BYTES = 64 * 1024
#: Frames queued for one client before it is considered stuck and disconnected.
MAX_QUEUED = 10_000
#: Consecutive bad events after which a connection is closed.
MAX_BAD_IN_A_ROW = 50


@dataclass(eq=False)
class CotClient:
    peer: str
    writer: asyncio.StreamWriter
    tls_name: str | None = None
    queue: asyncio.Queue[bytes | None] = field(default_factory=lambda: asyncio.Queue(MAX_QUEUED))
    received: int = 0
    reports: int = 0
    refused: int = 0

    def offer_end(self) -> bool:
        """Tell the sender to stop once the queue is flushed; False if it is stuck."""
        try:
            self.queue.put_nowait(None)
        except asyncio.QueueFull:
            return False
        return True

    def offer(self, frame: bytes) -> bool:
        """Queue a frame; False if the client is stuck (its queue is full)."""
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            return False
        return True


class CotServer:
    def __init__(
        self,
        warning: WarningService,
        settings: CotSettings,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.warning = warning
        self.settings = settings
        self.tls_context = tls_context
        self.clients: set[CotClient] = set()
        self.refused_events = 0
        self.ports: dict[str, int] = {}

    async def serve(self, ready: Callable[[], None] | None = None) -> None:
        """Listen until cancelled; ``ready`` once listening."""
        servers: list[asyncio.Server] = []
        s = self.settings
        try:
            if s.port:
                tcp = await asyncio.start_server(self._handle_tcp, s.host, s.port, limit=READ_BYTES)
                servers.append(tcp)
                self.ports["tcp"] = tcp.sockets[0].getsockname()[1]
            if s.tls_port and self.tls_context is not None:
                tls = await asyncio.start_server(
                    self._handle_tls, s.host, s.tls_port, ssl=self.tls_context, limit=READ_BYTES
                )
                servers.append(tls)
                self.ports["tls"] = tls.sockets[0].getsockname()[1]
            self.warning.add_sink(self.publish)
            if ready is not None:
                ready()
            await asyncio.Event().wait()
        finally:
            self.warning.remove_sink(self.publish)
            for server in servers:
                server.close()
            for client in list(self.clients):
                client.writer.close()
            for server in servers:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(server.wait_closed(), 2.0)

    # ---- out ------------------------------------------------------------------------------

    def frames_of(self, envs: Sequence[Envelope]) -> list[bytes]:
        now = self.warning.fusion_now()
        frames: list[bytes] = []
        for env in envs:
            body = env.body
            if isinstance(body, TrackUpdated):
                frames.append(track_event(body, env.origin, now))
                impact = impact_event(body, now)
                if impact is not None:
                    frames.append(impact)
        return frames

    def publish(self, envs: Sequence[Envelope]) -> None:
        """Sink of the warning service: push track and impact events to every client."""
        frames = self.frames_of(envs)
        if not frames:
            return
        for client in list(self.clients):
            for frame in frames:
                if not client.offer(frame):
                    log.warning("CoT client %s is not reading; disconnecting it", client.peer)
                    self.clients.discard(client)
                    client.writer.close()
                    break

    def snapshot(self) -> list[bytes]:
        """The shown picture now, for a client that just connected."""
        reader = self.warning.store.reader
        tracks = store.load_tracks(reader, self.warning.shown)
        now = self.warning.fusion_now()
        frames = []
        for t in tracks:
            origin = self.warning.sharing.track_authority or self.warning.nation
            frames.append(track_event(t, origin, now))
            impact = impact_event(t, now)
            if impact is not None:
                frames.append(impact)
        return frames

    # ---- in -------------------------------------------------------------------------------

    async def _handle_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._handle(reader, writer, None)

    async def _handle_tls(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        cert = writer.get_extra_info("peercert") or {}
        names = [v for rdn in cert.get("subject", ()) for k, v in rdn if k == "commonName"]
        await self._handle(reader, writer, names[0] if names else "?")

    async def _handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, tls_name: str | None
    ) -> None:
        peer = str(writer.get_extra_info("peername"))
        if len(self.clients) >= self.settings.max_clients:
            writer.write(error_event("too_many_clients", "the CoT port is full", _now(self)))
            with contextlib.suppress(ConnectionError):
                await writer.drain()
            writer.close()
            return
        client = CotClient(peer, writer, tls_name)
        for frame in self.snapshot():
            client.offer(frame)
        self.clients.add(client)
        log.info("CoT client %s connected%s", peer, f" (TLS {tls_name})" if tls_name else "")
        try:
            async with asyncio.TaskGroup() as tg:
                sender = tg.create_task(self._pump(client))
                await self._read(reader, client)
                if not client.offer_end():
                    sender.cancel()
        except* (ConnectionError, OSError, ssl.SSLError):
            pass
        finally:
            self.clients.discard(client)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError, ssl.SSLError, TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), 2.0)
            log.info(
                "CoT client %s left: %d events, %d reports, %d refused",
                peer,
                client.received,
                client.reports,
                client.refused,
            )

    async def _pump(self, client: CotClient) -> None:
        while True:
            frame = await client.queue.get()
            if frame is None:
                return
            client.writer.write(frame)
            if client.queue.empty():
                await client.writer.drain()

    async def _read(self, reader: asyncio.StreamReader, client: CotClient) -> None:
        splitter = StreamSplitter(self.settings.max_event_bytes)
        bad_in_a_row = 0
        while True:
            chunk = await reader.read(READ_BYTES)
            if not chunk:
                return
            try:
                pieces = splitter.feed(chunk)
            except InputError as exc:  # an event too large: the stream cannot be resynced
                self._refuse(client, exc)
                return
            records: list[ReportRecord] = []
            for piece in pieces:
                client.received += 1
                try:
                    record = self._event(client, piece)
                except InputError as exc:
                    self._refuse(client, exc)
                    bad_in_a_row += 1
                    if bad_in_a_row >= MAX_BAD_IN_A_ROW:
                        return
                    continue
                bad_in_a_row = 0
                if record is not None:
                    records.append(record)
            if records:
                try:
                    await self.warning.store_records(records)
                except HotlineError as exc:
                    self._refuse(client, exc)
                    continue
                client.reports += len(records)

    def _event(self, client: CotClient, piece: bytes) -> ReportRecord | None:
        """The report of one event, None for a ping or an event that is not a report."""
        ev = parse_event(piece, self.settings.max_event_bytes)
        if ev.is_ping:
            client.offer(pong_event(ev, _now(self)))
            return None
        if not ev.is_atom:
            return None  # chat, markers, deletes: nothing hotline reads
        if ev.point is None:
            raise CotError(f"event {ev.uid[:40]!r} of type {ev.type} has no <point>")
        return self.warning.check_one(to_report(ev), f"event {ev.uid[:40]!r}: ")

    def _refuse(self, client: CotClient, exc: HotlineError) -> None:
        client.refused += 1
        self.refused_events += 1
        log.info("CoT client %s: refused: %s", client.peer, exc)
        client.offer(error_event(exc.code, exc.message, _now(self)))


def _now(server: CotServer) -> float:
    return server.warning.clock.now()
