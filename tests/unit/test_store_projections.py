"""Projections in a real SQLite file: the per-peer streams a node writes (``outbox``), numbered
and hash-chained without gaps whatever jobs are rolled back (the projector caches each stream's
head); receipts of many messages, applied whichever arrives first."""

from __future__ import annotations

import sqlite3
import time
from functools import partial
from pathlib import Path

import pytest

from hotline.bus.memory import MemoryBus
from hotline.compacts import load_compact
from hotline.domain.events import (
    Envelope,
    EventBody,
    LinkTestSent,
    MessageAcknowledged,
    MessagesDelivered,
    MessageSent,
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
from hotline.ledger.chain import GENESIS, link_hash
from hotline.ports import SystemClock, new_id
from hotline.service.hotline import HotlineService
from hotline.signing import Signer, generate_signing_key
from hotline.store import projections
from hotline.store.sqlite import SqliteStore

pytestmark = pytest.mark.anyio

USA, JPN, KOR = NationCode("USA"), NationCode("JPN"), NationCode("KOR")


class Boom(Exception):
    pass


def _env(signer: Signer) -> Envelope:
    now = time.time()
    body = LinkTestSent(test_id=new_id("lt"), to=JPN, at=now)
    env = Envelope(id=EventId(new_id("e-usa")), origin=USA, at=now, rel_to=(USA, JPN), body=body)
    return signer.sign_envelope(env)


def _chain(store: SqliteStore, projector: projections.Projector, peer: NationCode) -> None:
    """The stream to ``peer`` is 1..n, each link continuing the last; the cached head and the
    head read afresh from the outbox both match."""
    rows = store.reader.execute(
        "SELECT o.seq, o.prev_hash, e.raw, o.event_seq FROM outbox o "
        "JOIN events e ON e.seq = o.event_seq WHERE o.peer = ? ORDER BY o.seq",
        (peer,),
    ).fetchall()
    last = GENESIS
    for expected, (seq, prev, raw, _) in enumerate(rows, start=1):
        assert seq == expected
        assert bytes(prev) == last
        last = link_hash(last, "USA", peer, seq, bytes(raw))
    head = (len(rows), last, rows[-1][3])
    assert projector._heads[peer] == head
    fresh = projections.Projector(projector.compact, projector.nation)
    assert fresh.stream_head(store.reader, peer) == head


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
        _chain(store, projector, JPN)
        assert store.reader.execute("SELECT COUNT(*) FROM outbox").fetchone() == (2,)
    finally:
        store.close()


async def test_a_receipt_of_many_messages_may_arrive_before_some_of_them(tmp_path: Path) -> None:
    """KOR's receipt names two USA messages; JPN holds one of them so far (the other is still
    on USA's stream to JPN). Both end up delivered at KOR, whichever arrived first."""
    store = SqliteStore(tmp_path / "hotline.db")
    store.start()
    try:
        compact = load_compact("camp-david")
        usa = Signer("USA", generate_signing_key())
        kor = Signer("KOR", generate_signing_key())
        svc = HotlineService(compact, JPN, store, MemoryBus(), usa, SystemClock())
        now = time.time()
        sent = [
            MessageSent(
                message_id=MessageId(new_id("usa")),
                channel=ChannelId("ops.usa-jpn-kor"),
                sender=Handle("usa.ops"),
                nation=USA,
                precedence=Precedence.ROUTINE,
                classification=Classification.SECRET,
                rel_to=(USA, JPN, KOR),
                body=f"message {n}",
                sent_at=now,
            )
            for n in range(2)
        ]

        def wrap(body: EventBody, signer: Signer, origin: NationCode) -> Envelope:
            env = Envelope(
                id=EventId(new_id(f"e-{origin.lower()}")),
                origin=origin,
                at=now,
                rel_to=(USA, JPN, KOR),
                body=body,
            )
            return signer.sign_envelope(env)

        receipt = MessagesDelivered(
            message_ids=(sent[0].message_id, sent[1].message_id), nation=KOR, at=now + 1
        )
        envs = [
            wrap(sent[0], usa, USA),
            wrap(receipt, kor, KOR),
            wrap(sent[1], usa, USA),
        ]
        await store.run(lambda conn: svc.projector.append(conn, envs))
        for message in sent:
            state = projections.load_message(store.reader, message.message_id)
            assert state is not None
            assert state.receipts[KOR].delivered_at == now + 1
            assert state.receipts[JPN].delivered_at is None
    finally:
        store.close()


async def test_the_outbox_marks_what_may_overtake(tmp_path: Path) -> None:
    """JPN's node: its FLASH on a compact channel, and its receipts of a FLASH, are marked
    urgent on its streams (the urgent lane); ROUTINE and its receipts are not. Only the FLASH
    message itself is noted as one (``flash_upto``)."""
    store = SqliteStore(tmp_path / "hotline.db")
    store.start()
    try:
        usa = Signer("USA", generate_signing_key())
        jpn = Signer("JPN", generate_signing_key())
        projector = projections.Projector(load_compact("camp-david"), JPN)
        everyone = (USA, JPN, KOR)

        def env(signer: Signer, body: EventBody) -> Envelope:
            origin = NationCode(signer.nation)
            e = Envelope(
                id=EventId(new_id("e")), origin=origin, at=time.time(), rel_to=everyone, body=body
            )
            return signer.sign_envelope(e)

        def sent(nation: NationCode, precedence: Precedence, channel: str) -> MessageSent:
            return MessageSent(
                message_id=MessageId(new_id(nation.lower())),
                channel=ChannelId(channel),
                sender=Handle(f"{nation.lower()}.ops"),
                nation=nation,
                precedence=precedence,
                classification=Classification.SECRET,
                rel_to=everyone,
                body="b",
                sent_at=time.time(),
            )

        flash = sent(USA, Precedence.FLASH, "ops.usa-jpn-kor")
        routine = sent(USA, Precedence.ROUTINE, "ops.usa-jpn-kor")
        now = time.time()
        by = Handle("jpn.ops")
        cases: list[tuple[str, EventBody, bool]] = [
            (
                "ack of a FLASH",
                MessageAcknowledged(message_id=flash.message_id, nation=JPN, by=by, at=now),
                True,
            ),
            (
                "ack of a ROUTINE",
                MessageAcknowledged(message_id=routine.message_id, nation=JPN, by=by, at=now),
                False,
            ),
            (
                "delivered, one FLASH among them",
                MessagesDelivered(
                    message_ids=(routine.message_id, flash.message_id), nation=JPN, at=now
                ),
                True,
            ),
            (
                "delivered, ROUTINE",
                MessagesDelivered(message_ids=(routine.message_id,), nation=JPN, at=now),
                False,
            ),
            ("own FLASH", sent(JPN, Precedence.FLASH, "ops.usa-jpn-kor"), True),
            ("own IMMEDIATE", sent(JPN, Precedence.IMMEDIATE, "ops.usa-jpn-kor"), False),
        ]
        await store.run(lambda c: projector.append(c, [env(usa, flash), env(usa, routine)]))
        for _, body, _ in cases:
            own = env(jpn, body)
            await store.run(partial(projector.append, envs=[own]))
        for peer in (USA, KOR):
            marks = [
                bool(u)
                for (u,) in store.reader.execute(
                    "SELECT u.seq IS NOT NULL FROM outbox o LEFT JOIN outbox_urgent u "
                    "ON u.peer = o.peer AND u.seq = o.seq WHERE o.peer = ? ORDER BY o.seq",
                    (peer,),
                )
            ]
            assert marks == [urgent for _, _, urgent in cases], peer
            # The lane's cue: the last urgent seq queued (the own FLASH, 5th of the stream).
            last_urgent = max(i for i, (_, _, urgent) in enumerate(cases, start=1) if urgent)
            assert projector.urgent_upto[peer] == last_urgent
            # The FLASH message itself (not the receipts of one): the frames' ``urgent`` cue.
            assert projector.flash_upto[peer] == 5
        assert [case for case, _, _ in cases][4] == "own FLASH"
    finally:
        store.close()


def test_a_receipt_of_thousands_of_messages_is_judged_in_chunks(tmp_path: Path) -> None:
    """A receipt signed after an outage may list more messages than SQLite takes variables in
    one statement (32,766 in its default build): ``flash_among`` reads them in chunks."""
    compact = load_compact("camp-david")
    conn = sqlite3.connect(tmp_path / "m.db")
    conn.execute("CREATE TABLE messages (id TEXT PRIMARY KEY, channel TEXT, prec_rank INTEGER)")
    ids = [MessageId(f"usa-{i:05d}") for i in range(1_200)]
    conn.executemany(
        "INSERT INTO messages VALUES (?, 'ops.usa-jpn-kor', ?)",
        [(m, Precedence.ROUTINE.rank) for m in ids],
    )
    conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)  # a build that allows fewer
    assert projections.flash_among(conn, compact, ids) is False
    conn.execute("UPDATE messages SET prec_rank = ? WHERE id = ?", (Precedence.FLASH.rank, ids[-1]))
    assert projections.flash_among(conn, compact, ids) is True  # in the last chunk
    assert projections.flash_among(conn, compact, [MessageId("jpn-unknown")]) is None
    conn.close()


async def test_a_node_indexes_only_the_receipts_it_escalates(tmp_path: Path) -> None:
    """JPN's node escalates JPN's receipts only: its due index holds those (one entry per
    message, appended in deadline order), and the due queries use it and see nothing else."""
    compact = load_compact("camp-david")
    store = SqliteStore(tmp_path / "hotline.db")
    store.run_sync(partial(projections.index_own_receipts, nation=JPN))
    store.start()
    try:
        usa = Signer("USA", generate_signing_key())
        projector = projections.Projector(compact, JPN)
        now = time.time()
        envs = []
        for precedence in (Precedence.ROUTINE, Precedence.FLASH):
            sent = MessageSent(
                message_id=MessageId(new_id("usa")),
                channel=ChannelId("ops.usa-jpn-kor"),
                sender=Handle("usa.ops"),
                nation=USA,
                precedence=precedence,
                classification=Classification.SECRET,
                rel_to=(USA, JPN, KOR),
                body="due",
                sent_at=now,
            )
            env = Envelope(
                id=EventId(new_id("e-usa")), origin=USA, at=now, rel_to=sent.rel_to, body=sent
            )
            envs.append(usa.sign_envelope(env))

        def append(conn: sqlite3.Connection) -> None:
            projector.append(conn, envs)

        await store.run(append)
        reader = store.reader
        entries = reader.execute(
            "SELECT COUNT(*) FROM receipts INDEXED BY receipts_due_own "
            "WHERE nation = 'JPN' AND acked_at IS NULL AND next_at IS NOT NULL"
        ).fetchone()
        assert entries == (2,)  # JPN's receipt of each message; KOR's are KOR's node's
        flash_ack_s = compact.ack_s[Precedence.FLASH]
        assert projections.next_due_at(reader, JPN) == now + flash_ack_s
        assert projections.message_ids_due(reader, JPN, now + flash_ack_s) == [
            envs[1].body.message_id  # type: ignore[union-attr]
        ]
        plan = " ".join(
            str(row[3])
            for row in reader.execute(  # the due query's shape, the nation bound
                "EXPLAIN QUERY PLAN SELECT message_id FROM receipts WHERE nation = ? "
                "AND acked_at IS NULL AND next_at IS NOT NULL AND next_at <= ? ORDER BY next_at",
                (JPN, now),
            )
        )
        assert "receipts_due_own" in plan
        # Another nation's receipts are still answered (a full scan), just not indexed.
        assert projections.next_due_at(reader, KOR) == now + flash_ack_s
    finally:
        store.close()


def test_only_a_nation_code_reaches_the_index_definition(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "hotline.db")
    try:
        with pytest.raises(ValueError, match="not a nation code"):
            store.run_sync(partial(projections.index_own_receipts, nation="JPN' OR 1=1 --"))
        names = store.reader.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'index' AND name = 'receipts_due_own'"
        ).fetchall()
        assert names == []
    finally:
        store.close()
