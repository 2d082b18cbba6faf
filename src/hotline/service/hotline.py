"""The hotline service: load state -> decide (pure rules) -> append in one transaction -> push.

Every decision that depends on stored state (acknowledge, read, escalate) is taken inside the
writer's transaction, so two officials acknowledging at once produce one acknowledgment and a
clear 409 for the other.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import msgspec

from hotline.bus.memory import Item, MemoryBus
from hotline.domain import hotline as rules
from hotline.domain.channels import NO_CHANNELS, channels_for
from hotline.domain.compact import Channel, Compact, Official
from hotline.domain.events import (
    Envelope,
    EventBody,
    MessageAcknowledged,
    MessageDelivered,
    MessageEscalated,
    MessageRead,
    MessageSent,
)
from hotline.domain.ids import ChannelId, EventId, Handle, MessageId, NationCode, Precedence
from hotline.errors import NotFound
from hotline.ports import Clock, Signer, Store, new_id
from hotline.service import views
from hotline.store import channels as channel_store
from hotline.store import projections
from hotline.store.projections import Projector

_json = msgspec.json.Encoder()

#: Ids of the messages a stream subscriber may hold, keyed by the event that changed them.
Published = tuple[Envelope, MessageSent]


class HotlineService:
    def __init__(
        self,
        compact: Compact,
        nation: NationCode,
        store: Store,
        bus: MemoryBus,
        signer: Signer,
        clock: Clock,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self.compact = compact
        self.nation = nation
        self.store = store
        self.bus = bus
        self.signer = signer
        self.clock = clock
        self.projector = Projector(compact, nation)
        store.on_rollback.append(self.projector.forget_heads)
        #: Called after every commit that may have created new work (scheduler, federation).
        self.on_commit = on_commit or (lambda: None)

    # ---- envelopes --------------------------------------------------------------------------

    def envelope(self, body: EventBody, rel_to: Sequence[NationCode], at: float) -> Envelope:
        return self.signer.sign_envelope(self.unsigned(body, rel_to, at))

    def unsigned(self, body: EventBody, rel_to: Sequence[NationCode], at: float) -> Envelope:
        """The envelope of ``body``, to be signed (``signer.sign_envelope``) before it is stored."""
        return Envelope(
            id=EventId(new_id(f"e-{self.nation.lower()}")),
            origin=self.nation,
            at=at,
            rel_to=tuple(rel_to),
            body=body,
        )

    # ---- commands ---------------------------------------------------------------------------

    async def send(
        self,
        official: Official,
        channel: str,
        *,
        precedence: str,
        body: str,
        classification: str | None = None,
        rel_to: Sequence[str] | None = None,
        template: str | None = None,
    ) -> dict[str, Any]:
        """Validate, sign, store durably, push; returns the message view (201 once returned)."""
        now = self.clock.now()
        sent = rules.compose(
            self.compact,
            official,
            channel,
            message_id=MessageId(new_id(self.nation.lower())),
            precedence=precedence,
            body=body,
            classification=classification,
            rel_to=rel_to,
            template=template,
            now=now,
            known=self.known_channels(channel),
        )
        # Signed in the writer's job: the signature releases the GIL, so on a second core it
        # overlaps the event loop's work on the next requests. A FLASH goes before the jobs
        # queued (``SqliteStore.run``: urgent, preempt).
        env = self.unsigned(sent, sent.rel_to, now)
        sign = self.signer.sign_envelope
        flash = sent.precedence is Precedence.FLASH
        await self.store.run(
            lambda conn: self.projector.append(conn, [sign(env)]), urgent=flash, preempt=flash
        )
        view = views.message_view(self.compact, sent)
        self.bus.publish([self._message_item(sent, view)])
        self.on_commit()
        return view

    async def acknowledge(self, official: Official, message_id: str) -> dict[str, Any]:
        now = self.clock.now()

        def job(conn: sqlite3.Connection) -> tuple[Published, rules.MessageState]:
            state = self._load(conn, message_id, official)
            event = rules.acknowledge(self.compact, state, official, now)
            env = self.envelope(event, state.sent.rel_to, now)
            self.projector.append(conn, [env])
            return (env, state.sent), rules.apply(state, event)

        published, state = await self.store.run(job)
        self.publish([published])
        self.on_commit()
        return views.detail_view(self.compact, state)

    async def read(self, official: Official, message_id: str) -> dict[str, Any]:
        """The message with receipts; the first read by an official marks its nation's receipt."""
        state = self._load(self.store.reader, message_id, official)
        if state.receipts[official.nation].read_at is not None:
            return views.detail_view(self.compact, state)
        now = self.clock.now()

        def job(conn: sqlite3.Connection) -> tuple[Published | None, rules.MessageState]:
            fresh = self._load(conn, message_id, official)
            event = rules.mark_read(fresh, official, now)
            if event is None:
                return None, fresh
            env = self.envelope(event, fresh.sent.rel_to, now)
            self.projector.append(conn, [env])
            return (env, fresh.sent), rules.apply(fresh, event)

        published, state = await self.store.run(job)
        if published is not None:
            self.publish([published])
            self.on_commit()
        return views.detail_view(self.compact, state)

    async def escalate_due(self) -> int:
        """Append every escalation of this nation that is due now; returns how many."""
        now = self.clock.now()

        def job(conn: sqlite3.Connection) -> list[Published]:
            out: list[Published] = []
            for mid in projections.message_ids_due(conn, self.nation, now):
                state = projections.load_message(conn, mid)
                if state is None:
                    continue
                for event in rules.due_escalations(self.compact, state, self.nation, now):
                    env = self.envelope(event, state.sent.rel_to, now)
                    self.projector.append(conn, [env])
                    out.append((env, state.sent))
            return out

        published = await self.store.run(job)
        if published:
            self.publish(published)
            self.on_commit()
        return len(published)

    def next_deadline(self) -> float | None:
        return projections.next_due_at(self.store.reader, self.nation)

    # ---- queries ----------------------------------------------------------------------------

    def known_channels(self, cid: str) -> Mapping[ChannelId, Channel]:
        """The consultation channel ``cid`` if this node knows it (``domain.channels``); a
        compact channel needs no read (the send path stays as fast as it was)."""
        if self.compact.channel(ChannelId(cid)) is not None:
            return NO_CHANNELS
        return channel_store.known(self.store.reader, cid)

    def _channels_of(self, official: Official) -> tuple[Channel, ...]:
        """The compact's channels of the official, then the consultation channels it is in."""
        return channels_for(
            self.compact,
            channel_store.load_channels(self.store.reader, official.layer),
            official.nation,
            official.layer,
        )

    def channels(self, official: Official) -> list[dict[str, Any]]:
        return [views.channel_view(c) for c in self._channels_of(official)]

    def history(
        self, official: Official, channel: str, after: str | None, limit: int
    ) -> list[dict[str, Any]]:
        """Messages of ``channel`` the official may read, oldest first, after message ``after``."""
        ch = rules.channel_for(self.compact, official, channel, self.known_channels(channel))
        start = 0
        if after:
            row = self.store.reader.execute(
                "SELECT seq FROM messages WHERE id = ? AND channel = ?", (after, ch.id)
            ).fetchone()
            if row is None:
                raise NotFound(f"no message '{after}' in {ch.id}", code="unknown_message")
            start = int(row[0])
        out: list[dict[str, Any]] = []
        cursor = self.store.reader.execute(
            "SELECT raw FROM messages WHERE channel = ? AND seq > ? ORDER BY seq",
            (ch.id, start),
        )
        for (raw,) in cursor:
            sent = projections.decode_sent(raw)
            if rules.may_read(official, sent):
                out.append(views.message_view(self.compact, sent))
                if len(out) >= limit:
                    break
        return out

    def inbox(self, official: Official, limit: int = 200) -> list[dict[str, Any]]:
        """Messages awaiting the official's nation's acknowledgment: FLASH first, then oldest."""
        chans = [c.id for c in self._channels_of(official)]
        if not chans:
            return []
        marks = ",".join("?" * len(chans))
        rows = self.store.reader.execute(
            f"SELECT m.raw FROM messages m JOIN receipts r ON r.message_id = m.id "
            f"WHERE r.nation = ? AND r.acked_at IS NULL AND m.channel IN ({marks}) "
            f"ORDER BY m.prec_rank, m.sent_at LIMIT ?",
            (official.nation, *chans, limit * 2),
        ).fetchall()
        out: list[dict[str, Any]] = []
        for (raw,) in rows:
            sent = projections.decode_sent(raw)
            if sent.nation != official.nation and rules.may_read(official, sent):
                state = projections.load_message(self.store.reader, sent.message_id)
                if state is not None:
                    out.append(views.detail_view(self.compact, state))
            if len(out) >= limit:
                break
        return out

    def _load(
        self, conn: sqlite3.Connection, message_id: str, official: Official
    ) -> rules.MessageState:
        state = projections.load_message(conn, message_id)
        if state is None:
            raise NotFound(f"no message '{message_id}'", code="unknown_message")
        rules.check_read(official, state.sent)
        return state

    # ---- fan-out to the officials' live streams ---------------------------------------------

    def publish(self, published: Sequence[Published]) -> None:
        items: list[Item] = []
        for env, sent in published:
            item = self._stream_item(env, sent)
            if item is not None:
                items.append(item)
        if items:
            self.bus.publish(items)

    @staticmethod
    def _message_item(sent: MessageSent, view: dict[str, Any]) -> Item:
        def visible(o: Official) -> bool:
            return rules.may_read(o, sent)

        return Item(sent.precedence.rank, _json.encode({"type": "message", **view}), visible)

    def _stream_item(self, env: Envelope, sent: MessageSent) -> Item | None:
        body = env.body
        rank = sent.precedence.rank

        def visible(o: Official) -> bool:
            return rules.may_read(o, sent)

        if isinstance(body, MessageSent):
            return self._message_item(sent, views.message_view(self.compact, sent))
        if isinstance(body, MessageDelivered | MessageRead | MessageAcknowledged):
            kind = {
                MessageDelivered: "delivered",
                MessageRead: "read",
                MessageAcknowledged: "acknowledged",
            }[type(body)]
            payload: dict[str, Any] = {
                "type": "receipt",
                "message_id": body.message_id,
                "channel": sent.channel,
                "nation": body.nation,
                "kind": kind,
                "by": getattr(body, "by", None),
                "at": views.iso(body.at),
            }
        elif isinstance(body, MessageEscalated):
            payload = views.escalation_event_view(body, sent)
            own = (
                frozenset(Handle(h) for h in body.notified)
                if body.nation == self.nation
                else (frozenset())
            )
            return Item(rank, _json.encode(payload), visible, own)
        else:
            return None
        return Item(rank, _json.encode(payload), visible)
