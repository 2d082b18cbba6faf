"""The per-peer streams a node writes (``outbox``): numbered and hash-chained without gaps,
whatever jobs of a group commit are rolled back (the projector caches each stream's head)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from hotline.bus.memory import MemoryBus
from hotline.compacts import load_compact
from hotline.domain.events import Envelope, LinkTestSent
from hotline.domain.ids import EventId, NationCode
from hotline.ledger.chain import GENESIS, link_hash
from hotline.ports import SystemClock, new_id
from hotline.service.hotline import HotlineService
from hotline.signing import Signer, generate_signing_key
from hotline.store.sqlite import SqliteStore

pytestmark = pytest.mark.anyio

USA, JPN = NationCode("USA"), NationCode("JPN")


class Boom(Exception):
    pass


def _env(signer: Signer) -> Envelope:
    now = time.time()
    body = LinkTestSent(test_id=new_id("lt"), to=JPN, at=now)
    env = Envelope(id=EventId(new_id("e-usa")), origin=USA, at=now, rel_to=(USA, JPN), body=body)
    return signer.sign_envelope(env)


def _chain(store: SqliteStore, peer: str) -> None:
    """The stream to ``peer`` is 1..n, each link continuing the last; the head matches."""
    rows = store.reader.execute(
        "SELECT o.seq, o.prev_hash, e.raw FROM outbox o JOIN events e ON e.seq = o.event_seq "
        "WHERE o.peer = ? ORDER BY o.seq",
        (peer,),
    ).fetchall()
    last = GENESIS
    for expected, (seq, prev, raw) in enumerate(rows, start=1):
        assert seq == expected
        assert bytes(prev) == last
        last = link_hash(last, "USA", peer, seq, bytes(raw))
    head = store.reader.execute(
        "SELECT last_seq, last_hash FROM peer_out WHERE peer = ?", (peer,)
    ).fetchone()
    assert (int(head[0]), bytes(head[1])) == (len(rows), last)


async def test_a_rolled_back_job_leaves_no_gap_in_the_stream(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "hotline.db")
    store.start()
    try:
        signer = Signer("USA", generate_signing_key())
        svc = HotlineService(
            load_compact("camp-david"), USA, store, MemoryBus(), signer, SystemClock()
        )
        projector = svc.projector

        def ok(conn: sqlite3.Connection) -> None:
            projector.append(conn, [_env(signer)])

        def fails(conn: sqlite3.Connection) -> None:
            projector.append(conn, [_env(signer), _env(signer)])
            raise Boom("after queueing two events")

        await store.run(ok)
        with pytest.raises(Boom):
            await store.run(fails)
        await store.run(ok)
        _chain(store, "JPN")
        assert store.reader.execute("SELECT COUNT(*) FROM outbox").fetchone() == (2,)
    finally:
        store.close()
