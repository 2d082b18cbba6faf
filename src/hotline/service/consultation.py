"""The consultation service: load state -> decide (pure) -> append in ONE writer job -> push.

The commitment to consult (``docs/consultation.md``) at a node:

- every command runs ``domain.consultation.decide`` inside the writer's transaction on the
  state it loaded there, so two officials acting at once cannot both win (the second gets a
  409 naming the state);
- an invocation opens the consultation's own channel among its parties at its layer
  (``<layer>.<parties>.<consultation id>``, ``domain.channels``; recorded where the invocation
  is applied, at every party's node) and is appended together with a FLASH hotline message on
  that channel, built by the same ``domain.hotline.compose`` as ``HotlineService.send``: every
  party's officials of that layer (the principal first) get it, with the hotline's receipts,
  acknowledgment deadline and escalation (alternates, then the ops centre) unchanged; they
  then use the channel like any other (send, history, acknowledge);
- an approval of a joint statement is signed with this node's Ed25519 key before ``decide``;
- ``escalate_due`` (the scheduler) escalates only this node's own nation's missed deadlines
  (origin-authoritative);
- officials' live streams get ``{"type": "consultation", ...}`` for every consultation event
  this node holds, local or from a peer, read from the committed log (``publish_landed``), so
  nobody is told of an event before it is durable.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec

from hotline.bus.memory import Item, MemoryBus
from hotline.domain import hotline as rules
from hotline.domain.cadence import MeetingHeld, cadence_status
from hotline.domain.channels import NO_CHANNELS, channel_of
from hotline.domain.compact import Compact, Official
from hotline.domain.consultation import (
    INVOKING_LAYERS,
    Acknowledge,
    ApproveStatement,
    ChangePhase,
    Command,
    Consultation,
    ConsultationAcknowledged,
    ConsultationEscalated,
    ConsultationEvent,
    ConsultationInvoked,
    Convene,
    DraftStatement,
    GivePosition,
    Invoke,
    Phase,
    StatementAdopted,
    StatementApproved,
    approval_signing_bytes,
    decide,
    due,
)
from hotline.domain.events import (
    Envelope,
    EventBody,
    MessageAcknowledged,
    MessageSent,
    decode_envelope,
)
from hotline.domain.ids import Layer, MessageId, NationCode, Precedence
from hotline.domain.obligations import Source, obligations
from hotline.errors import Forbidden, Invalid, NotFound
from hotline.ports import Clock, new_id
from hotline.service import consultation_views as cv
from hotline.service.hotline import HotlineService, Published
from hotline.service.views import iso
from hotline.signing import Signer, verify_signature
from hotline.store import consultations as cstore
from hotline.store import projections
from hotline.store.sqlite import SqliteStore

MAX_SUBJECT_CHARS = 500
MAX_TEXT_CHARS = 64_000
#: A meeting may be recorded as held up to this far in the future (clock skew), no further.
HELD_SKEW_S = 300.0

#: When each bundled compact took effect (its cadence counts from there).
COMPACT_SINCE: dict[str, float] = {
    "camp-david": datetime(2023, 8, 18, tzinfo=UTC).timestamp(),
    "nato-32": datetime(1949, 8, 24, tzinfo=UTC).timestamp(),
}

_json = msgspec.json.Encoder()


def parse_layer(value: str) -> Layer:
    try:
        return Layer(value)
    except ValueError:
        allowed = ", ".join(la.value for la in Layer)
        raise Invalid(f"layer: {value!r} is not one of {allowed}") from None


def parse_phase(value: str) -> Phase:
    try:
        return Phase(value)
    except ValueError:
        allowed = ", ".join(p.value for p in Phase)
        raise Invalid(f"phase: {value!r} is not one of {allowed}") from None


def parse_nations(values: Sequence[str], field: str) -> tuple[NationCode, ...]:
    """``["jpn", "KOR,USA"]`` -> ``("JPN", "KOR", "USA")`` (comma lists allowed)."""
    out: list[NationCode] = []
    for value in values:
        for part in value.split(","):
            if part.strip():
                out.append(NationCode(part.strip().upper()))
    if not out and field == "threatened":
        raise Invalid("threatened: name at least one threatened nation, e.g. ?threatened=JPN")
    return tuple(dict.fromkeys(out))


def _limit(field: str, value: str, most: int) -> None:
    if len(value) > most:
        raise Invalid(f"{field}: {len(value)} characters; at most {most}")


class ConsultationService:
    def __init__(
        self,
        compact: Compact,
        nation: NationCode,
        store: SqliteStore,
        bus: MemoryBus,
        signer: Signer,
        clock: Clock,
        hotline: HotlineService,
    ) -> None:
        self.compact = compact
        self.nation = nation
        self.store = store
        self.bus = bus
        self.signer = signer
        self.clock = clock
        self.hotline = hotline
        row = store.reader.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()
        #: Last ``events.seq`` pushed to the live streams (history is not replayed at start).
        self.published_seq = int(row[0])

    def pin_keys(self, keys: dict[NationCode, str]) -> None:
        """Record the signing keys approvals are verified with (start-up, before serving)."""
        now = self.clock.now()
        self.store.run_sync(lambda conn: cstore.save_keys(conn, keys, now))

    # ---- commands ---------------------------------------------------------------------------

    async def invoke(
        self,
        official: Official,
        *,
        subject: str,
        layer: str,
        severity: str,
        threatened: Sequence[str],
        information: str = "",
        parties: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Invoke the commitment to consult; answers once the invocation and its FLASH notice
        are durable (one transaction)."""
        _limit("subject", subject, MAX_SUBJECT_CHARS)
        _limit("information", information, MAX_TEXT_CHARS)
        cmd = Invoke(
            consultation_id=new_id(f"c-{self.nation.lower()}"),
            by=official.handle,
            subject=subject,
            layer=parse_layer(layer),
            severity=severity,
            threatened=parse_nations(threatened, "threatened"),
            parties=parse_nations(parties, "parties"),
            information=information,
        )
        now = self.clock.now()

        def job(conn: sqlite3.Connection) -> tuple[Consultation, Envelope, MessageSent]:
            d = decide(cstore.load_state(conn, cmd.consultation_id), cmd, now, compact=self.compact)
            invoked = d.events[0]
            assert isinstance(invoked, ConsultationInvoked)
            notice = self._notice(official, invoked, now)
            envs = [
                self._envelope(invoked, invoked.parties, now),
                self.hotline.envelope(notice, notice.rel_to, now),
            ]
            self.hotline.projector.append(conn, envs)
            return self._must_load(conn, cmd.consultation_id), envs[1], notice

        state, notice_env, notice = await self.store.run(job)
        self.hotline.publish([(notice_env, notice)])
        self._after_commit()
        return self.view(state)

    def _notice(self, official: Official, e: ConsultationInvoked, now: float) -> MessageSent:
        """The FLASH hotline message that notifies every party's officials at the layer.

        Sent by the invoking official on the consultation's own channel (not stored yet: it is
        recorded in the same transaction, so it is handed to ``compose`` here); an official of
        another layer (the foreign minister invoking at ``nsa``) sends it as a member of that
        layer, and ``compose`` checks everything else, as for any send.
        """
        channel = channel_of(self.compact, e)
        known = NO_CHANNELS if channel is None else {channel.id: channel}
        owed = "; ".join(
            f"{o.nation} {o.kind}" + _sources(o.sources)
            for o in e.obligations
            if o.nation in e.parties
        )
        body = (
            f"CONSULTATION {e.consultation_id} invoked by {e.invoked_by} ({e.nation}), "
            f"severity {e.severity}: {e.subject}. Threatened: {', '.join(e.threatened)}. "
            f"Each party acknowledges by {iso(e.ack_deadline)} and convenes by "
            f"{iso(e.convene_deadline)}. Obligations: {owed}."
        )
        sender = (
            official
            if official.layer == e.layer
            else msgspec.structs.replace(official, layer=e.layer)
        )
        return rules.compose(
            self.compact,
            sender,
            e.channel,
            message_id=MessageId(new_id(self.nation.lower())),
            precedence=Precedence.FLASH.value,
            body=body,
            classification=None,
            rel_to=None,
            template=f"consultation:{e.consultation_id}",
            now=now,
            known=known,
        )

    async def acknowledge(self, official: Official, cid: str) -> dict[str, Any]:
        return await self._run(cid, lambda s: Acknowledge(consultation_id=cid, by=official.handle))

    async def convene(self, official: Official, cid: str) -> dict[str, Any]:
        return await self._run(cid, lambda s: Convene(consultation_id=cid, by=official.handle))

    async def give_position(self, official: Official, cid: str, text: str) -> dict[str, Any]:
        _limit("text", text, MAX_TEXT_CHARS)
        return await self._run(
            cid, lambda s: GivePosition(consultation_id=cid, by=official.handle, text=text)
        )

    async def change_phase(self, official: Official, cid: str, phase: str) -> dict[str, Any]:
        target = parse_phase(phase)
        return await self._run(
            cid, lambda s: ChangePhase(consultation_id=cid, by=official.handle, phase=target)
        )

    async def draft(
        self,
        official: Official,
        cid: str,
        text: str,
        *,
        statement_id: str | None = None,
        amends: int | None = None,
    ) -> dict[str, Any]:
        """Draft a new statement (fresh id) or amend ``statement_id``; the view gets
        ``statement`` (the one drafted)."""
        _limit("text", text, MAX_TEXT_CHARS)
        sid = statement_id or new_id(f"s-{self.nation.lower()}")
        view = await self._run(
            cid,
            lambda s: DraftStatement(
                consultation_id=cid, by=official.handle, statement_id=sid, text=text, amends=amends
            ),
        )
        return _with_statement(view, sid)

    async def approve(
        self, official: Official, cid: str, sid: str, *, version: int, text_hash: str
    ) -> dict[str, Any]:
        """Approve exactly ``version`` / ``text_hash``, signed with this node's key."""

        def command(state: Consultation) -> Command:
            message = approval_signing_bytes(
                consultation_id=cid,
                statement_id=sid,
                version=version,
                text_hash=text_hash,
                nation=official.nation,
                by=official.handle,
            )
            return ApproveStatement(
                consultation_id=cid,
                by=official.handle,
                statement_id=sid,
                version=version,
                text_hash=text_hash,
                sig=self.signer.sign(message),
            )

        return _with_statement(await self._run(cid, command), sid)

    async def _run(self, cid: str, make: Callable[[Consultation], Command]) -> dict[str, Any]:
        now = self.clock.now()

        def job(conn: sqlite3.Connection) -> tuple[Consultation, list[Published]]:
            state = self._must_load(conn, cid)
            d = decide(state, make(state), now, compact=self.compact, verify=_verifier(conn))
            envs = [self._envelope(e, state.nations, now) for e in d.events]
            self.hotline.projector.append(conn, envs)
            acked = [e for e in d.events if isinstance(e, ConsultationAcknowledged)]
            notice = self._ack_notice(conn, state, acked[0], now) if acked else None
            return self._must_load(conn, cid), [] if notice is None else [notice]

        state, published = await self.store.run(job)
        if published:
            self.hotline.publish(published)
        self._after_commit()
        return self.view(state)

    def _ack_notice(
        self,
        conn: sqlite3.Connection,
        state: Consultation,
        ack: ConsultationAcknowledged,
        now: float,
    ) -> Published | None:
        """Acknowledging the consultation acknowledges its FLASH notice for the nation too, so
        the notice's hotline escalation stops (in the same transaction)."""
        notice = self._notice_of(conn, state)
        message = None if notice is None else projections.load_message(conn, notice["message_id"])
        if message is None or message.sent.nation == ack.nation:
            return None
        receipt = message.receipts.get(ack.nation)
        if receipt is None or receipt.acked_at is not None:
            return None
        event = MessageAcknowledged(
            message_id=message.sent.message_id, nation=ack.nation, by=ack.by, at=now
        )
        env = self.hotline.envelope(event, message.sent.rel_to, now)
        self.hotline.projector.append(conn, [env])
        return env, message.sent

    async def escalate_due(self) -> int:
        """Escalate every missed deadline of this node's own nation; returns how many."""
        now = self.clock.now()
        if not cstore.ids_due(self.store.reader, self.nation, now):
            return 0  # the common case costs one read, no write transaction

        def job(conn: sqlite3.Connection) -> int:
            count = 0
            for cid in cstore.ids_due(conn, self.nation, now):
                state = cstore.load_state(conn, cid)
                if state is None:
                    continue
                events = due(state, now, for_nation=self.nation)
                self.hotline.projector.append(
                    conn, [self._envelope(e, state.nations, now) for e in events]
                )
                count += len(events)
            return count

        count = await self.store.run(job)
        if count:
            self._after_commit()
        return count

    def next_deadline(self) -> float | None:
        return cstore.next_due_at(self.store.reader, self.nation)

    # ---- cadence ----------------------------------------------------------------------------

    async def record_held(
        self, official: Official, meeting_id: str, at: float | None = None
    ) -> dict[str, Any]:
        """Record that a meeting or exercise of the compact's cadence took place (federated)."""
        if official.layer not in INVOKING_LAYERS:
            raise Forbidden(
                f"{official.handle} is at layer {official.layer.value!r}; recording a meeting "
                "is allowed only for 'leaders', 'nsa', 'foreign' or 'defense' officials"
            )
        meeting = next((m for m in self.compact.cadence.meetings if m.id == meeting_id), None)
        if meeting is None:
            known = ", ".join(m.id for m in self.compact.cadence.meetings) or "none"
            raise Invalid(
                f"meeting_id: {meeting_id!r} is not a meeting of compact {self.compact.id!r} "
                f"(meetings: {known})"
            )
        now = self.clock.now()
        when = now if at is None else at
        if when > now + HELD_SKEW_S or when < 0:
            raise Invalid(f"at: {iso(when)} is in the future; a meeting is recorded once held")
        held = MeetingHeld(
            meeting_id=meeting.id,
            at=when,
            title=meeting.title,
            nation=self.nation,
            by=official.handle,
        )
        env = self._envelope(held, self.compact.nations, now)
        await self.store.run(lambda conn: self.hotline.projector.append(conn, [env]))
        self._after_commit()
        status = self.cadence()
        item = next(i for i in status["items"] if i["meeting_id"] == meeting.id)
        recorded = {"meeting_id": meeting.id, "at": iso(when), "by": official.handle}
        return {"recorded": recorded, **item}

    def cadence(self) -> dict[str, Any]:
        """The compact's meetings and exercises: last held, next due, overdue warnings."""
        now = self.clock.now()
        since = self.since()
        items = cadence_status(
            self.compact, cstore.held_meetings(self.store.reader), now, since=since
        )
        return {
            "compact": self.compact.id,
            "since": iso(since),
            "now": iso(now),
            "items": [cv.cadence_item_view(i) for i in items],
            "overdue": [i.meeting.id for i in items if i.overdue],
            "warnings": [
                cv.cadence_warning(i)
                for i in sorted(items, key=lambda i: -i.days_overdue)
                if i.overdue
            ],
        }

    def since(self) -> float:
        """When the compact took effect: known for the bundled compacts, else the node's first
        event (or now)."""
        if self.compact.id in COMPACT_SINCE:
            return COMPACT_SINCE[self.compact.id]
        # The first event by its place in the log: one primary-key step (MIN(at) read the
        # whole log at every cadence request).
        row = self.store.reader.execute("SELECT at FROM events ORDER BY seq LIMIT 1").fetchone()
        return float(row[0]) if row is not None else self.clock.now()

    # ---- queries ----------------------------------------------------------------------------

    def obligations(self, threatened: Sequence[str]) -> dict[str, Any]:
        nations = parse_nations(threatened, "threatened")
        return {
            "compact": self.compact.id,
            "threatened": list(nations),
            "obligations": cv.obligations_view(obligations(self.compact, nations)),
        }

    def get(self, official: Official, cid: str) -> dict[str, Any]:
        self._check_reader(official)
        return self.view(self._must_load(self.store.reader, cid))

    def list_consultations(
        self, official: Official, *, phase: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        self._check_reader(official)
        if phase is not None and phase != "open":
            parse_phase(phase)
        if not 1 <= limit <= 1000:
            raise Invalid(f"limit: {limit} is out of range 1..1000", code="bad_limit")
        states = cstore.list_states(self.store.reader, phase=phase, limit=limit)
        return [cv.summary_view(s) for s in states]

    def view(self, state: Consultation) -> dict[str, Any]:
        conn = self.store.reader
        return cv.consultation_view(
            state, lambda a: cstore.approval_sig_valid(conn, a), self._notice_of(conn, state)
        )

    def _notice_of(self, conn: sqlite3.Connection, state: Consultation) -> dict[str, Any] | None:
        """The FLASH notice of the invocation, as this node holds it (same channel and time)."""
        rows = conn.execute(
            "SELECT raw FROM messages WHERE channel = ? AND nation = ? AND sent_at = ?",
            (state.channel, state.nation, state.invoked_at),
        ).fetchall()
        for (raw,) in rows:
            sent = msgspec.json.decode(raw, type=MessageSent)
            if sent.template == f"consultation:{state.consultation_id}":
                return {
                    "message_id": sent.message_id,
                    "channel": sent.channel,
                    "precedence": sent.precedence.value,
                    "sender": sent.sender,
                }
        return None

    def _check_reader(self, official: Official) -> None:
        if official.nation != self.nation:  # pragma: no cover - sessions are per node
            raise Forbidden(f"{official.handle} is not an official of {self.nation}")

    def _must_load(self, conn: sqlite3.Connection, cid: str) -> Consultation:
        state = cstore.load_state(conn, cid)
        if state is None:
            raise NotFound(
                f"no consultation '{cid}' at {self.nation}'s node (unknown, or its invocation "
                "has not arrived yet)",
                code="unknown_consultation",
            )
        return state

    # ---- events, streams --------------------------------------------------------------------

    def _envelope(
        self, body: ConsultationEvent | MeetingHeld, rel_to: Sequence[NationCode], at: float
    ) -> Envelope:
        event: EventBody = body
        return self.hotline.envelope(event, rel_to, at)

    def _after_commit(self) -> None:
        self.publish_landed()
        self.hotline.on_commit()  # wakes federation (looked up now: federation replaces it)

    def publish_landed(self, limit: int = 1000) -> int:
        """Push every consultation/cadence event committed since the last call to the live
        streams of this node's officials; returns how many. Local and peers' events alike:
        the log is read through the reader, so only durable events are pushed, and each
        stored event is scanned once."""
        reader = self.store.reader
        top = int(reader.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0])
        if top <= self.published_seq:
            return 0
        marks = ",".join("?" * len(cstore.PROJECTED_TAGS))
        rows = reader.execute(
            f"SELECT seq, raw FROM events WHERE seq > ? AND seq <= ? AND type IN ({marks}) "
            "ORDER BY seq LIMIT ?",
            (self.published_seq, top, *cstore.PROJECTED_TAGS, limit),
        ).fetchall()
        self.published_seq = int(rows[-1][0]) if len(rows) == limit else top
        items: list[Item] = []
        for _seq, raw in rows:
            env = decode_envelope(bytes(raw))
            cid = getattr(env.body, "consultation_id", None)
            state = None if cid is None else cstore.load_state(reader, cid)
            payload = _json.encode(cv.stream_payload(env, state))
            items.append(Item(_rank(env.body), payload, self._visible))
        if items:
            self.bus.publish(items)
        return len(items)

    def _visible(self, official: Official) -> bool:
        return official.nation == self.nation


def _rank(body: object) -> int:
    if isinstance(body, ConsultationInvoked | ConsultationEscalated):
        return Precedence.FLASH.rank
    if isinstance(body, StatementApproved | StatementAdopted):
        return Precedence.IMMEDIATE.rank
    return Precedence.PRIORITY.rank


def _verifier(conn: sqlite3.Connection) -> Callable[[NationCode, bytes, str], bool]:
    def verify(nation: NationCode, message: bytes, sig: str) -> bool:
        key = cstore.load_key(conn, nation)
        return key is not None and verify_signature(key, sig, message)

    return verify


def _sources(sources: Sequence[Source]) -> str:
    if not sources:
        return ""
    return " (" + ", ".join(f"{s.treaty} {s.article}".strip() for s in sources) + ")"


def _with_statement(view: dict[str, Any], sid: str) -> dict[str, Any]:
    statement = next((s for s in view["statements"] if s["id"] == sid), None)
    return view | {"statement": statement}
