"""Projections: how each event changes the tables, run inside the writer's transaction.

The rules live in ``domain.hotline`` (``start``, ``apply_receipt``); this module only loads the
rows a rule needs and writes back what it returned.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Sequence
from functools import partial
from typing import Any

import msgspec

from hotline.domain import hotline as rules
from hotline.domain.compact import Compact
from hotline.domain.events import (
    Envelope,
    LinkTestAnswered,
    LinkTestMissed,
    LinkTestSent,
    MessageAcknowledged,
    MessageDelivered,
    MessageEscalated,
    MessageRead,
    MessagesDelivered,
    MessageSent,
    encode_envelope,
)
from hotline.domain.ids import Handle, MessageId, NationCode, Precedence
from hotline.domain.releasability import peers_for
from hotline.errors import Replayed
from hotline.ledger.chain import GENESIS, link_hash
from hotline.store import consultations, outbox
from hotline.store import warning as warning_store

_sent_encoder = msgspec.json.Encoder()
_sent_decoder = msgspec.json.Decoder(MessageSent)

#: A stream's head: its last seq, the link hash that item makes, and its event's position
#: (``event_seq``; None for an empty stream).
Head = tuple[int, bytes, int | None]

_RECEIPT_COLUMNS = (
    "nation, delivered_at, read_at, read_by, acked_at, acked_by, level, notified, "
    "escalated_at, next_at"
)


class Projector:
    """Appends envelopes and applies them to the projections; knows this node's nation."""

    def __init__(self, compact: Compact, nation: NationCode) -> None:
        self.compact = compact
        self.nation = nation
        #: Each peer's stream head (``Head``), so that queueing an event costs
        #: no SELECT. Only the writer thread uses it; it is dropped on any rollback
        #: (``forget_heads``: the store and savepoint users call it) and read again from the
        #: ``outbox`` (``stream_head``).
        self._heads: dict[NationCode, Head] = {}
        #: The highest seq of each peer's stream queued as urgent by this process (a rolled
        #: back one included, harmlessly). The urgent lane asks the store for urgent items only
        #: past what a link has sent (``Outbound._ahead_once``); a link asks anyway when it
        #: connects, for what was queued before.
        self.urgent_upto: dict[NationCode, int] = {}
        #: The same for FLASH messages only (not their receipts): the links mark the frames
        #: that carry one, and the receiver commits those before its other work.
        self.flash_upto: dict[NationCode, int] = {}

    def forget_heads(self) -> None:
        self._heads.clear()

    def append(self, conn: sqlite3.Connection, envs: Sequence[Envelope]) -> list[int]:
        """Insert each envelope, apply it, and queue it on the streams of the peers that may
        hold it (only events this node originated travel: federation is origin-to-peer).

        Raises Replayed if an event id is already stored (nothing of the batch is kept: the
        caller's savepoint rolls it back).
        """
        seqs = []
        for env in envs:
            raw = encode_envelope(env)
            try:
                cur = conn.execute(
                    "INSERT INTO events(id, origin, type, at, raw) VALUES (?, ?, ?, ?, ?)",
                    (env.id, env.origin, env.type, env.at, raw),
                )
            except sqlite3.IntegrityError:
                raise Replayed(f"event {env.id} from {env.origin} is already stored") from None
            seq = int(cur.lastrowid or 0)
            self.project(conn, env, seq)
            if env.origin == self.nation:
                flash = partial(flash_among, conn, self.compact)
                urgent = rules.overtakes(self.compact, env.body, flash) is True
                message = urgent and isinstance(env.body, MessageSent)
                for peer in peers_for(env, self.nation, self.compact.nations):
                    self._enqueue(conn, peer, seq, raw, urgent, message)
            seqs.append(seq)
        return seqs

    def project(self, conn: sqlite3.Connection, env: Envelope, seq: int) -> None:
        body = env.body
        if isinstance(body, MessageSent):
            self._message_sent(conn, body, seq)
        elif isinstance(
            body, MessageDelivered | MessageRead | MessageAcknowledged | MessageEscalated
        ):
            r = load_receipt(conn, body.message_id, body.nation) or rules.Receipt(
                nation=body.nation
            )
            save_receipt(conn, body.message_id, rules.apply_receipt(r, body))
        elif isinstance(body, MessagesDelivered):
            stored = load_receipts_of(conn, body.message_ids, body.nation)
            conn.executemany(
                _SAVE_RECEIPT,
                [
                    _receipt_row(
                        one.message_id,
                        rules.apply_receipt(
                            stored.get(one.message_id) or rules.Receipt(nation=one.nation), one
                        ),
                    )
                    for one in body.each()
                ],
            )
        elif isinstance(body, LinkTestSent):
            conn.execute(
                "INSERT OR IGNORE INTO link_tests(test_id, origin, peer, sent_at) "
                "VALUES (?, ?, ?, ?)",
                (body.test_id, env.origin, body.to, body.at),
            )
        elif isinstance(body, LinkTestAnswered):
            conn.execute(
                "UPDATE link_tests SET answered_at = ? WHERE test_id = ?", (body.at, body.test_id)
            )
        elif isinstance(body, LinkTestMissed):
            conn.execute(
                "UPDATE link_tests SET missed_at = ? WHERE test_id = ?", (body.at, body.test_id)
            )
        elif isinstance(body, consultations.PROJECTED):
            consultations.project(conn, env, seq, self.compact, self.nation)
        elif isinstance(body, warning_store.PROJECTED):
            warning_store.project(conn, env, seq)

    def _message_sent(self, conn: sqlite3.Connection, sent: MessageSent, seq: int) -> None:
        conn.execute(
            "INSERT INTO messages(id, seq, channel, nation, prec_rank, sent_at, raw) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                sent.message_id,
                seq,
                sent.channel,
                sent.nation,
                sent.precedence.rank,
                sent.sent_at,
                _sent_encoder.encode(sent),
            ),
        )
        state = rules.start(self.compact, sent)
        receipts = state.receipts
        if sent.nation != self.nation:
            # A receipt may have arrived (from a third nation) before the message itself. A
            # message this node originates has a fresh id: nothing can have preceded it.
            for early in load_receipts(conn, sent.message_id):
                r = receipts.get(early.nation)
                if r is None:
                    continue
                if early.acked_at is None and early.level == 0:
                    early.next_at = r.next_at
                receipts[early.nation] = early
        save_receipts(conn, sent.message_id, receipts.values())

    def _enqueue(
        self,
        conn: sqlite3.Connection,
        peer: NationCode,
        event_seq: int,
        raw: bytes,
        urgent: bool,
        flash: bool = False,
    ) -> None:
        """Number and chain the event on ``peer``'s stream (``store.outbox``); ``urgent``: it
        may be sent ahead of the backlog (``rules.overtakes``); ``flash``: it is a FLASH
        message itself (``flash_upto``).

        The stream's head (its last seq, the link hash recomputed from that item's
        ``prev_hash`` and event, and its event's position) is cached in ``_heads``: queueing an
        event is one INSERT, and a mark now and then (``outbox.is_mark``).
        """
        head = self._heads.get(peer)
        if head is None:
            head = self.stream_head(conn, peer)
        last_seq, last_hash, last_event = head
        seq = last_seq + 1
        outbox.add(conn, peer, seq, last_hash, event_seq, last_event, urgent)
        if urgent:
            self.urgent_upto[peer] = max(seq, self.urgent_upto.get(peer, 0))
        if flash:
            self.flash_upto[peer] = max(seq, self.flash_upto.get(peer, 0))
        self._heads[peer] = (seq, link_hash(last_hash, self.nation, peer, seq, raw), event_seq)

    def stream_head(self, conn: sqlite3.Connection, peer: NationCode) -> Head:
        """``peer``'s stream head as the transaction sees it (after any rollback too)."""
        row = outbox.last(conn, peer)
        if row is None:
            # The peer's status row (its acknowledged seq is saved there).
            conn.execute("INSERT OR IGNORE INTO peer_out(peer) VALUES (?)", (peer,))
            return 0, GENESIS, None
        seq, prev_hash, event, event_seq = row
        return seq, link_hash(prev_hash, self.nation, peer, seq, event), event_seq


def flash_among(
    conn: sqlite3.Connection, compact: Compact, message_ids: Sequence[MessageId]
) -> bool | None:
    """Whether one of these messages is a FLASH on a channel of the compact; None if this
    node holds none of them (``rules.overtakes``). A receipt may list thousands (one signed
    after an outage): they are looked up in chunks, and the first FLASH found answers."""
    flash = Precedence.FLASH.rank
    held = False
    for chunk in _chunks(message_ids):
        marks = ",".join("?" * len(chunk))
        for channel, rank in conn.execute(
            f"SELECT channel, prec_rank FROM messages WHERE id IN ({marks})", tuple(chunk)
        ):
            held = True
            if rank == flash and compact.channel(channel) is not None:
                return True
    return False if held else None


def load_receipt(conn: sqlite3.Connection, message_id: str, nation: str) -> rules.Receipt | None:
    row = conn.execute(
        f"SELECT {_RECEIPT_COLUMNS} FROM receipts WHERE message_id = ? AND nation = ?",
        (message_id, nation),
    ).fetchone()
    return _receipt(row) if row else None


def _receipt(row: Any) -> rules.Receipt:
    (nation, delivered, read, read_by, acked, acked_by, level, notified, esc_at, next_at) = row
    return rules.Receipt(
        nation=NationCode(str(nation)),
        delivered_at=delivered,
        read_at=read,
        read_by=read_by,
        acked_at=acked,
        acked_by=acked_by,
        level=int(level),
        notified=tuple(Handle(h) for h in str(notified).split(",")) if notified else (),
        escalated_at=esc_at,
        next_at=next_at,
    )


_SAVE_RECEIPT = (
    f"INSERT OR REPLACE INTO receipts(message_id, {_RECEIPT_COLUMNS}) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _receipt_row(message_id: str, r: rules.Receipt) -> tuple[Any, ...]:
    return (
        message_id,
        r.nation,
        r.delivered_at,
        r.read_at,
        r.read_by,
        r.acked_at,
        r.acked_by,
        r.level,
        ",".join(r.notified),
        r.escalated_at,
        r.next_at,
    )


def save_receipt(conn: sqlite3.Connection, message_id: str, r: rules.Receipt) -> None:
    conn.execute(_SAVE_RECEIPT, _receipt_row(message_id, r))


def save_receipts(
    conn: sqlite3.Connection, message_id: str, receipts: Iterable[rules.Receipt]
) -> None:
    conn.executemany(_SAVE_RECEIPT, [_receipt_row(message_id, r) for r in receipts])


def load_receipts(conn: sqlite3.Connection, message_id: str) -> list[rules.Receipt]:
    """Every stored receipt of ``message_id`` (of any nation)."""
    return [
        _receipt(x)
        for x in conn.execute(
            f"SELECT {_RECEIPT_COLUMNS} FROM receipts WHERE message_id = ?", (message_id,)
        )
    ]


#: Most ids in one ``IN (...)`` (SQLite allows 32,766 variables; a receipt may hold more).
_IN_CHUNK = 500


def _chunks(ids: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(ids), _IN_CHUNK):
        yield ids[i : i + _IN_CHUNK]


def load_receipts_of(
    conn: sqlite3.Connection, message_ids: Sequence[str], nation: str
) -> dict[str, rules.Receipt]:
    """``nation``'s stored receipt of each of ``message_ids`` that has one, by message id."""
    out: dict[str, rules.Receipt] = {}
    for chunk in _chunks(message_ids):
        marks = ",".join("?" * len(chunk))
        for row in conn.execute(
            f"SELECT message_id, {_RECEIPT_COLUMNS} FROM receipts "
            f"WHERE nation = ? AND message_id IN ({marks})",
            (nation, *chunk),
        ):
            out[str(row[0])] = _receipt(row[1:])
    return out


def load_sents(conn: sqlite3.Connection, message_ids: Sequence[str]) -> dict[str, MessageSent]:
    """The ``MessageSent`` of each of ``message_ids`` held here, by message id."""
    out: dict[str, MessageSent] = {}
    for chunk in _chunks(message_ids):
        marks = ",".join("?" * len(chunk))
        for mid, raw in conn.execute(
            f"SELECT id, raw FROM messages WHERE id IN ({marks})", tuple(chunk)
        ):
            out[str(mid)] = _sent_decoder.decode(raw)
    return out


def load_sent(conn: sqlite3.Connection, message_id: str) -> MessageSent | None:
    """The ``MessageSent`` of ``message_id`` alone (no receipts), or None."""
    row = conn.execute("SELECT raw FROM messages WHERE id = ?", (message_id,)).fetchone()
    return None if row is None else _sent_decoder.decode(row[0])


def load_message(conn: sqlite3.Connection, message_id: str) -> rules.MessageState | None:
    row = conn.execute("SELECT raw FROM messages WHERE id = ?", (message_id,)).fetchone()
    if row is None:
        return None
    sent = _sent_decoder.decode(row[0])
    receipts = {
        r.nation: r
        for r in (
            _receipt(x)
            for x in conn.execute(
                f"SELECT {_RECEIPT_COLUMNS} FROM receipts WHERE message_id = ?", (message_id,)
            )
        )
        if r.nation in sent.rel_to
    }
    return rules.MessageState(sent=sent, receipts=receipts)


def decode_sent(raw: bytes) -> MessageSent:
    return _sent_decoder.decode(raw)


def _nation_literal(nation: str) -> str:
    """``nation`` as an SQL string literal, for the index's definition (DDL takes no bound
    parameters); anything but a nation code is refused."""
    if not re.fullmatch(r"[A-Z]{2,8}", nation):
        raise ValueError(f"not a nation code: {nation!r}")
    return f"'{nation}'"


def index_own_receipts(conn: sqlite3.Connection, nation: str) -> None:
    """Index the receipts ``nation``'s node escalates: its own, while unacknowledged and due.

    Only the node's own nation is in it: its entries arrive in ``next_at`` order at the end of
    the tree, one page per commit, where an index of every nation's receipts took three.
    SQLite uses it for the due queries below: it plans them with the nation bound.
    """
    conn.execute(
        "CREATE INDEX IF NOT EXISTS receipts_due_own ON receipts(next_at) "
        f"WHERE nation = {_nation_literal(nation)} AND acked_at IS NULL AND next_at IS NOT NULL"
    )


def message_ids_due(conn: sqlite3.Connection, nation: str, now: float) -> list[MessageId]:
    return [
        MessageId(str(r[0]))
        for r in conn.execute(
            "SELECT message_id FROM receipts WHERE nation = ? AND acked_at IS NULL "
            "AND next_at IS NOT NULL AND next_at <= ? ORDER BY next_at",
            (nation, now),
        )
    ]


def next_due_at(conn: sqlite3.Connection, nation: str) -> float | None:
    row = conn.execute(
        "SELECT MIN(next_at) FROM receipts WHERE nation = ? AND acked_at IS NULL "
        "AND next_at IS NOT NULL",
        (nation,),
    ).fetchone()
    return float(row[0]) if row and row[0] is not None else None
