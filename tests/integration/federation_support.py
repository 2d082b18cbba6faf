"""Helpers of the federation tests: nodes whose settings a test tunes, stopped and restarted in
the test's event loop; a TCP proxy that can cut a link; read-only looks into a node's SQLite file.

``tests.support.running_cluster`` starts every node at once with the default settings; these
tests also need a node that is initialised and pinned but not running (a fake peer borrows its
identity), a node stopped and started again, and settings such as a 1 s link-test interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import msgspec

from hotline.bootstrap import Node
from hotline.federation.trust import pin_peers
from hotline.node import init_node, serve
from hotline.ports import Clock
from hotline.settings import FederationSettings, load_settings, write_settings
from tests.support import Cluster, LiveNode, free_base_port

ORDER = ("USA", "JPN", "KOR")


def tune_federation(node_dir: Path, **changes: Any) -> None:
    """Rewrite ``[federation]`` of ``node_dir/node.toml`` (e.g. ``link_test_interval_s=1.0``,
    ``peers={"JPN": "127.0.0.1:4567"}``: merged into the existing peers table)."""
    settings = load_settings(node_dir, {})
    fed = settings.federation
    if "peers" in changes:
        changes["peers"] = {**fed.peers, **changes["peers"]}
    new_fed: FederationSettings = msgspec.structs.replace(fed, **changes)
    write_settings(node_dir, msgspec.structs.replace(settings, federation=new_fed))


async def start_node(live: LiveNode, clock: Clock | None = None) -> None:
    """Serve ``live.node_dir`` in this event loop; returns once the node listens."""
    ready = asyncio.Event()

    def keep(node: Node) -> None:
        live.node = node

    live.task = asyncio.create_task(
        serve(live.node_dir, {}, ready, clock=clock, on_node=keep, scheduler_poll_s=0.05)
    )
    waiter = asyncio.create_task(ready.wait())
    done, _ = await asyncio.wait({waiter, live.task}, timeout=20, return_when="FIRST_COMPLETED")
    if live.task in done:
        waiter.cancel()
        live.task.result()  # raises the node's start-up error
    assert waiter in done, f"{live.nation} node did not start"


async def stop_node(live: LiveNode) -> None:
    """Stop a node started by ``start_node`` (its HTTP clients are closed too)."""
    for client in live.clients:
        await client.aclose()
    live.clients.clear()
    if live.task is not None:
        live.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await live.task
        live.task = None


@contextlib.asynccontextmanager
async def federated(
    root: Path,
    nations: tuple[str, ...] = ORDER,
    *,
    running: tuple[str, ...] | None = None,
    clock: Clock | None = None,
    tune: Callable[[str, Path], None] | None = None,
) -> AsyncIterator[Cluster]:
    """Camp David nodes in ``root``, every one pinned by every other; ``running`` of them
    (default all) are started. ``tune(nation, dir)`` may edit each ``node.toml`` first."""
    base = free_base_port()
    nodes: dict[str, LiveNode] = {}
    for n in nations:
        d = root / n.lower()
        init_node(d, n, "camp-david", demo=True, base_port=base)
        if tune is not None:
            tune(n, d)
        nodes[n] = LiveNode(n, f"http://127.0.0.1:{base + ORDER.index(n) + 1}", d)
    pin_peers({n: live.node_dir for n, live in nodes.items()})
    cluster = Cluster(root, base, nodes)
    try:
        for n in running if running is not None else nations:
            await start_node(nodes[n], clock)
        yield cluster
    finally:
        # Reverse order: a node that dials another stops before the one it dials.
        for live in reversed(nodes.values()):
            await stop_node(live)


def federation_port(cluster: Cluster, nation: str) -> int:
    return cluster.base_port + 20 + ORDER.index(nation) + 1


# ---- a link that a test can cut -------------------------------------------------------------


class TcpProxy:
    """Forwards 127.0.0.1:``port`` to ``upstream``; ``cut()`` drops every connection and turns
    new ones away (accepted, then reset) until ``heal()``."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self.is_cut = False
        self.accepted = 0
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.StreamWriter] = set()
        self._pipes: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def cut(self) -> None:
        self.is_cut = True
        for writer in tuple(self._conns):
            writer.transport.abort()
        self._conns.clear()

    def heal(self) -> None:
        self.is_cut = False

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in tuple(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.is_cut:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.transport.abort()
            return
        self.accepted += 1
        self._conns.update((writer, up_writer))
        pipes = [
            asyncio.create_task(self._pipe(reader, up_writer)),
            asyncio.create_task(self._pipe(up_reader, writer)),
        ]
        self._pipes.update(pipes)
        try:
            await asyncio.gather(*pipes, return_exceptions=True)
        finally:
            self._pipes.difference_update(pipes)
            for w in (writer, up_writer):
                self._conns.discard(w)
                w.transport.abort()

    @staticmethod
    async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            dst.transport.abort()


# ---- looking into a node's database ---------------------------------------------------------


def read_only(db: Path) -> sqlite3.Connection:
    """A read-only connection to a node's SQLite file (the node may be running or dead)."""
    return sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30.0)


def db_rows(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    conn = read_only(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def received_messages(db: Path, origin: str) -> list[str]:
    """Message ids of ``origin``'s message_sent events, in the order this node stored them."""
    rows = db_rows(
        db,
        "SELECT raw FROM events WHERE origin = ? AND type = 'message_sent' ORDER BY seq",
        (origin,),
    )
    return [str(msgspec.json.decode(raw)["body"]["message_id"]) for (raw,) in rows]


def stream_messages(db: Path, peer: str) -> list[str]:
    """Message ids of the message_sent events in this node's stream to ``peer``, in seq order."""
    rows = db_rows(
        db,
        "SELECT e.raw FROM outbox o JOIN events e ON e.seq = o.event_seq "
        "WHERE o.peer = ? AND e.type = 'message_sent' ORDER BY o.seq",
        (peer,),
    )
    return [str(msgspec.json.decode(raw)["body"]["message_id"]) for (raw,) in rows]
