"""When a compact that hotline does not know took effect: the node's first event (by its place
in the log), or now on a node with no events; a bundled compact's date otherwise."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import msgspec
import pytest

from hotline.bus.memory import MemoryBus
from hotline.compacts import load_compact
from hotline.domain.ids import NationCode
from hotline.ports import FakeClock
from hotline.service.consultation import COMPACT_SINCE, ConsultationService
from hotline.service.hotline import HotlineService
from hotline.signing import Signer, generate_signing_key
from hotline.store.sqlite import SqliteStore

pytestmark = pytest.mark.anyio

USA = NationCode("USA")
NOW = 1_900_000_000.0


def _service(store: SqliteStore, compact_id: str) -> ConsultationService:
    compact = msgspec.structs.replace(load_compact("camp-david"), id=compact_id)
    signer = Signer("USA", generate_signing_key())
    clock = FakeClock(start=NOW)
    hotline = HotlineService(compact, USA, store, MemoryBus(), signer, clock)
    return ConsultationService(compact, USA, store, MemoryBus(), signer, clock, hotline)


def _event(conn: sqlite3.Connection, at: float) -> None:
    n = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    conn.execute(
        "INSERT INTO events (id, origin, type, at, raw) VALUES (?, 'JPN', 'message_sent', ?, ?)",
        (f"e-{n}", at, b"{}"),
    )


async def test_an_unknown_compact_took_effect_at_the_nodes_first_event(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "hotline.db")
    store.start()
    try:
        svc = _service(store, "pacific-four")
        assert "pacific-four" not in COMPACT_SINCE
        assert svc.since() == NOW  # no event yet
        await store.run(lambda conn: _event(conn, NOW - 5_000.0))
        # A peer's event stamped earlier, stored later, does not move it.
        await store.run(lambda conn: _event(conn, NOW - 9_000.0))
        await store.run(lambda conn: _event(conn, NOW - 100.0))
        assert svc.since() == NOW - 5_000.0
        assert svc.cadence()["since"].startswith("2030-03-17")
    finally:
        store.close()


async def test_a_bundled_compact_took_effect_on_its_date(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "hotline.db")
    store.start()
    try:
        assert _service(store, "camp-david").since() == COMPACT_SINCE["camp-david"]
    finally:
        store.close()
