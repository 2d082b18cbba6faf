"""Test support: real nodes (real SQLite files, real sockets on 127.0.0.1, real mutual TLS).

``cluster`` runs several nations' nodes in the test's event loop, federated with each other;
``DemoCluster`` (``hotline.demo``) runs them as real processes for fault tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import importlib.util
import random
import socket
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import IO, Any

import httpx
import msgspec
import websockets
from websockets.asyncio.client import ClientConnection

from hotline.bootstrap import Node
from hotline.federation.trust import pin_peers
from hotline.node import init_node, serve
from hotline.ports import Clock

#: The repository's ``benchmarks/`` folder (scripts, not a package).
BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load_script(name: str) -> ModuleType:
    """``benchmarks/<name>.py`` as a module, to call its functions from a test."""
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


#: Blocks of ports this process has claimed, with their lock files (held until it exits).
_CLAIMED: dict[int, IO[str]] = {}
_CLAIMS_DIR = Path(tempfile.gettempdir()) / "hotline-test-ports"


def _claim(base: int) -> bool:
    """Claim the block at ``base`` for this process with an exclusive ``flock`` on its lock
    file: another test process on the machine (a second pytest run, another checkout's CI)
    cannot claim it between our check and our nodes' bind. The kernel releases the lock when
    the process exits, however it exits."""
    if base in _CLAIMED:
        return False
    _CLAIMS_DIR.mkdir(exist_ok=True)
    f = (_CLAIMS_DIR / f"{base}.lock").open("w")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.close()
        return False
    _CLAIMED[base] = f
    return True


def free_base_port() -> int:
    """A base port whose demo block (base+1 .. base+29) is free on 127.0.0.1, claimed for this
    process (``_claim``) and never handed out twice by it.

    Below Linux's ephemeral range (32768+), so outgoing connections never take our ports.
    """
    for _ in range(200):
        base = random.randrange(10000, 32000, 100)
        if _claim(base) and all(_bindable(base + i) for i in range(1, 30)):
            return base
    raise RuntimeError("no free block of ports on 127.0.0.1")


@dataclass
class LiveNode:
    nation: str
    url: str
    node_dir: Path
    node: Node | None = None
    task: asyncio.Task[None] | None = None
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    async def login(self, handle: str, password: str | None = None) -> httpx.AsyncClient:
        """An HTTP client logged in as ``handle`` (demo password by default)."""
        client = httpx.AsyncClient(base_url=self.url, timeout=10.0)
        self.clients.append(client)
        resp = await client.post(
            "/api/v1/login", json={"handle": handle, "password": password or handle}
        )
        assert resp.status_code == 200, resp.text
        token = resp.json()["token"]
        client.headers["authorization"] = f"Bearer {token}"
        client.token = token  # type: ignore[attr-defined]
        return client

    @contextlib.asynccontextmanager
    async def stream(self, client: httpx.AsyncClient) -> AsyncIterator[ClientConnection]:
        token = client.token  # type: ignore[attr-defined]
        url = self.url.replace("http", "ws", 1) + f"/api/v1/stream?token={token}"
        async with websockets.connect(url) as ws:
            hello = msgspec.json.decode(await ws.recv())
            assert hello["type"] == "hello", hello
            yield ws


@dataclass
class Cluster:
    root: Path
    base_port: int
    nodes: dict[str, LiveNode]

    def __getitem__(self, nation: str) -> LiveNode:
        return self.nodes[nation]


async def recv_until(
    ws: ClientConnection, pred: Callable[[dict[str, Any]], bool], timeout_s: float = 10.0
) -> dict[str, Any]:
    """The first stream event satisfying ``pred`` (events before it are dropped)."""
    async with asyncio.timeout(timeout_s):
        while True:
            event: dict[str, Any] = msgspec.json.decode(await ws.recv())
            if pred(event):
                return event


async def eventually(
    check: Callable[[], Awaitable[bool]], timeout_s: float = 10.0, what: str = "condition"
) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} did not hold within {timeout_s}s")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def running_cluster(
    root: Path,
    nations: tuple[str, ...] = ("USA", "JPN", "KOR"),
    *,
    compact: str = "camp-david",
    clock: Clock | None = None,
    federate: bool = True,
    environ: dict[str, str] | None = None,
) -> AsyncIterator[Cluster]:
    # Another process may bind a port of the block between our check and the nodes' bind:
    # start again on a fresh block (and fresh folders) rather than fail the test.
    for attempt in range(3):
        try:
            cluster = await _start_cluster(
                root / f"try{attempt}" if attempt else root,
                nations,
                compact,
                clock,
                federate,
                environ,
            )
            break
        except (OSError, SystemExit):
            if attempt == 2:
                raise
    try:
        yield cluster
    finally:
        await _stop(cluster.nodes)


async def _stop(nodes: dict[str, LiveNode]) -> None:
    for live in nodes.values():
        for client in live.clients:
            await client.aclose()
        if live.task is not None:
            live.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, OSError, SystemExit):
                await live.task


async def _start_cluster(
    root: Path,
    nations: tuple[str, ...],
    compact: str,
    clock: Clock | None,
    federate: bool,
    environ: dict[str, str] | None,
) -> Cluster:
    base = free_base_port()
    dirs = {}
    for n in nations:
        d = root / n.lower()
        init_node(d, n, compact, demo=True, base_port=base)
        dirs[n] = d
    if federate:
        pin_peers(dirs)
    nodes: dict[str, LiveNode] = {}
    order = ["USA", "JPN", "KOR"] if compact == "camp-david" else list(nations)
    for n in nations:
        port = base + order.index(n) + 1
        nodes[n] = LiveNode(n, f"http://127.0.0.1:{port}", dirs[n])
    try:
        for n, live in nodes.items():
            ready = asyncio.Event()

            def keep(node: Node, live: LiveNode = live) -> None:
                live.node = node

            live.task = asyncio.create_task(
                serve(
                    live.node_dir,
                    environ or {},
                    ready,
                    clock=clock,
                    on_node=keep,
                    scheduler_poll_s=0.05,
                )
            )
            waiter = asyncio.create_task(ready.wait())
            done, _ = await asyncio.wait(
                {waiter, live.task}, timeout=20, return_when=asyncio.FIRST_COMPLETED
            )
            if live.task in done:
                waiter.cancel()
                live.task.result()  # raises the node's start-up error (a taken port: SystemExit)
            assert waiter in done, f"{n} node did not start"
    except BaseException:
        await _stop(nodes)
        raise
    return Cluster(root, base, nodes)
