"""A nation's node: initialise its folder, then serve until cancelled.

``hotline node init`` makes the signing key, the PKI, the settings and the database with the
officials' accounts; ``hotline node start`` runs ``serve``: the API (uvicorn), the deadline
scheduler and, with federation, the peer links, all in one task group.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import ssl
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import uvicorn

from hotline.bootstrap import SIGNING_KEY, Node, build_node, resolve_compact
from hotline.cot.certs import tls_server_context
from hotline.cot.server import CotServer
from hotline.domain.compact import Compact
from hotline.domain.ids import NationCode
from hotline.errors import ConfigError
from hotline.federation.link import Federation
from hotline.pki import init_pki
from hotline.ports import Clock
from hotline.service.auth import seed_accounts
from hotline.settings import (
    ApiSettings,
    CotSettings,
    FederationSettings,
    Settings,
    load_settings,
    write_settings,
)
from hotline.signing import generate_signing_key, public_key_b64, save_signing_key
from hotline.store.sqlite import SqliteStore
from hotline.tracks.blas import single_threaded_blas

log = logging.getLogger("hotline.node")

PASSWORDS_FILE = "initial-passwords.txt"

#: How long a busy thread keeps the GIL while another wants it (CPython's default is 5 ms).
#: The event loop is busy under load, so the writer thread waited up to 5 ms for the GIL before
#: and again after each commit; 0.5 ms keeps a commit cycle near the fsync time
#: (docs/performance.md).
GIL_SWITCH_INTERVAL_S = 0.0005

#: Young-generation threshold of the cyclic garbage collector (CPython's default is 700).
#: A node allocates a few hundred short-lived containers per message, nearly all freed by
#: reference counting; at the default the collector ran hundreds of times a second under load
#: (2 % of the node's CPU in ``gc_collect_main``). The objects of start-up (compact, routes,
#: keys) are frozen out of collection altogether.
GC_YOUNG_THRESHOLD = 20_000


def port_stride(parties: int) -> int:
    """How far apart a node's three ports are (``node_ports``): 10 for a compact of up to 9
    parties, as API.md gives them; for a larger compact (NATO's 32), the next power of ten
    above the number of parties, so that no port is given twice."""
    stride = 10
    while parties >= stride:
        stride *= 10
    return stride


def node_ports(c: Compact, nation: str, base: int) -> tuple[int, int, int]:
    """The officials' API, CoT and federation ports of the n-th party (from 1) of ``c``:
    ``base + n``, ``base + stride + n``, ``base + 2 * stride + n`` (``port_stride``).

    Raises ConfigError if the compact's block of ports from ``base`` leaves 1..65535."""
    stride = port_stride(len(c.nations))
    highest = base + 2 * stride + len(c.nations)
    if base < 0 or highest > 65535:
        raise ConfigError(
            f"base port {base} gives the {len(c.nations)} parties of {c.id} ports "
            f"{base + 1} to {highest}; ports run from 1 to 65535 "
            f"(a base port from 0 to {65535 - 2 * stride - len(c.nations)} fits)"
        )
    n = c.nation_order(NationCode(nation))
    return base + n, base + stride + n, base + 2 * stride + n


def init_node(
    node_dir: Path,
    nation: str,
    compact: str = "camp-david",
    *,
    demo: bool = False,
    base_port: int | None = None,
    host: str = "127.0.0.1",
) -> dict[str, Any]:
    """Create a node folder; refuses to overwrite an existing one. Returns what it made."""
    if (node_dir / "node.toml").exists():
        raise ConfigError(f"{node_dir} already holds a node (node.toml exists)")
    nation = nation.upper()
    settings = Settings(nation=nation, compact=compact, demo=demo)
    c = resolve_compact(settings, node_dir)
    if c.party(NationCode(nation)) is None:
        raise ConfigError(
            f"nation '{nation}' is not a party of compact {c.id} ({', '.join(c.nations)})"
        )
    base = 8800 if base_port is None else base_port
    api, cot, federation = node_ports(c, nation, base)
    node_dir.mkdir(parents=True, exist_ok=True)  # once everything asked for is known to fit
    settings = Settings(
        nation=nation,
        compact=compact,
        demo=demo,
        api=ApiSettings(host=host, port=api),
        cot=CotSettings(host=host, port=cot),
        federation=FederationSettings(
            host=host,
            port=federation,
            peers={p: f"{host}:{node_ports(c, p, base)[2]}" for p in c.nations if p != nation},
        ),
    )
    write_settings(node_dir, settings)
    init_pki(node_dir / "pki", nation, hosts=sorted({host, "127.0.0.1", "localhost"}))
    key = generate_signing_key()
    save_signing_key(key, node_dir / SIGNING_KEY)
    store = SqliteStore(node_dir / settings.db)
    try:
        passwords = store.run_sync(
            lambda conn: seed_accounts(conn, c, NationCode(nation), demo=demo, now=time.time())
        )
    finally:
        store.close()
    made: dict[str, Any] = {
        "dir": str(node_dir),
        "nation": nation,
        "compact": c.id,
        "signing_key": public_key_b64(key),
        "api": f"http://{host}:{settings.api.port}",
    }
    if not demo:
        path = node_dir / PASSWORDS_FILE
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.writelines(f"{h} {pw}\n" for h, pw in sorted(passwords.items()))
        made["passwords_file"] = str(path)
    return made


async def run_scheduler(node: Node, poll_s: float = 1.0) -> None:
    """Escalate what is due; sleep until the next deadline (at most ``poll_s``)."""
    while True:
        await node.hotline.escalate_due()
        await node.consultations.escalate_due()
        node.consultations.publish_landed()  # peers' consultation events, once durable
        deadlines = (node.hotline.next_deadline(), node.consultations.next_deadline())
        nxt = min((d for d in deadlines if d is not None), default=None)
        delay = poll_s if nxt is None else min(poll_s, max(0.0, nxt - node.clock.now()))
        await asyncio.sleep(delay)


async def serve(
    node_dir: Path,
    environ: Mapping[str, str],
    ready: asyncio.Event | None = None,
    *,
    clock: Clock | None = None,
    on_node: Callable[[Node], None] | None = None,
    scheduler_poll_s: float = 1.0,
    tune_gc: bool = False,
) -> None:
    """Run the node in ``node_dir`` until cancelled; ``ready`` is set once it listens.

    ``clock`` and ``on_node`` let tests drive time and reach the wired services. ``tune_gc``
    (the node's own process: ``hotline node start``) freezes the start-up objects and raises
    the collector's threshold (``GC_YOUNG_THRESHOLD``).
    """
    settings = load_settings(node_dir, environ)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    node = build_node(settings, node_dir, clock)
    if on_node is not None:
        on_node(node)
    federation = Federation(node) if len(node.compact.parties) > 1 else None
    if federation is not None:
        node.extra_routes.append(federation.route(node.auth.authenticate))
        federation.inbound.on_warning = node.warning.wake_threadsafe  # peers' reports, tracks
    cot = CotServer(node.warning, settings.cot, cot_tls_context(node_dir, settings.cot))
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    single_threaded_blas()  # the fuser's products are small (hotline.tracks.blas)
    if tune_gc:
        gc.collect()
        gc.freeze()
        gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    node.store.start()
    config = uvicorn.Config(
        node.asgi(),
        host=settings.api.host,
        port=settings.api.port,
        log_level=settings.log_level,
        access_log=False,
        lifespan="off",
        ws="websockets-sansio",
        ws_max_size=settings.api.max_body_bytes,
        # Not behind a proxy: no X-Forwarded-* rewriting on every request; no Server header.
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    api = asyncio.create_task(server.serve())
    try:
        async with asyncio.TaskGroup() as tg:
            background = [tg.create_task(run_scheduler(node, scheduler_poll_s))]
            if federation is not None:
                background.append(tg.create_task(federation.run()))
            cot_ready = asyncio.Event()
            background.append(tg.create_task(node.warning.run()))
            background.append(tg.create_task(cot.serve(cot_ready.set)))
            await cot_ready.wait()
            while not server.started and not api.done():
                await asyncio.sleep(0.01)
            if ready is not None and server.started:
                ready.set()
            await asyncio.shield(api)  # returns on SIGINT/SIGTERM (uvicorn handles them)
            for task in background:
                task.cancel()
    finally:
        # Cancelled from outside (tests, the demo) or stopped by a signal: close the
        # listening sockets and open connections before the store.
        server.should_exit = True
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(asyncio.shield(api), 10)
        node.close()


def cot_tls_context(node_dir: Path, cot: CotSettings) -> ssl.SSLContext | None:
    """The CoT TLS port's context, when ``cot.tls_port`` is set (``cot.certs``)."""
    return tls_server_context(node_dir / "pki") if cot.tls_port else None


def open_store(node_dir: Path, environ: Mapping[str, str]) -> tuple[Settings, SqliteStore]:
    settings = load_settings(node_dir, environ)
    return settings, SqliteStore(node_dir / settings.db)
