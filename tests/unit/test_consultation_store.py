"""The consultation projection (store/consultations.py) on a real SQLite file, no network.

Streams of different origins interleave: an event may land before its prerequisite. Here KOR's
node receives JPN's acknowledgment and JPN's approval before USA's invocation and draft.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from hotline.compacts import load_compact
from hotline.domain.cadence import MeetingHeld
from hotline.domain.consultation import (
    Acknowledge,
    ApproveStatement,
    Command,
    Consultation,
    ConsultationAcknowledged,
    ConsultationEvent,
    ConsultationInvoked,
    DraftStatement,
    Invoke,
    StatementApproved,
    apply,
    approval_signing_bytes,
    decide,
    text_hash,
)
from hotline.domain.events import Envelope, EventBody
from hotline.domain.ids import ChannelId, EventId, Handle, Layer, NationCode
from hotline.signing import Signer, generate_signing_key
from hotline.store import channels as channel_store
from hotline.store import consultations as cstore
from hotline.store.projections import Projector
from hotline.store.sqlite import connect, migrate

COMPACT = load_compact("camp-david")
USA, JPN, KOR = NationCode("USA"), NationCode("JPN"), NationCode("KOR")
T0 = 1_790_000_000.0
CID = "c-usa-1"
SIGNERS = {n: Signer(n, generate_signing_key()) for n in (USA, JPN, KOR)}
_ids = iter(range(1, 1_000_000))


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    c = connect(tmp_path / "kor.db")
    migrate(c)
    cstore.save_keys(c, {n: s.public_key_b64 for n, s in SIGNERS.items()}, T0)
    yield c
    c.close()


def envelope(origin: NationCode, body: EventBody, at: float) -> Envelope:
    env = Envelope(
        id=EventId(f"e-{origin.lower()}-{next(_ids)}"),
        origin=origin,
        at=at,
        rel_to=(USA, JPN, KOR),
        body=body,
    )
    return SIGNERS[origin].sign_envelope(env)


def land(conn: sqlite3.Connection, origin: NationCode, *bodies: ConsultationEvent) -> None:
    """The events arrive at KOR's node from ``origin``'s stream."""
    Projector(COMPACT, KOR).append(conn, [envelope(origin, b, T0) for b in bodies])


def decided(state: Consultation | None, cmd: Command, now: float) -> list[ConsultationEvent]:
    return list(decide(state, cmd, now, compact=COMPACT).events)


def invoked() -> list[ConsultationEvent]:
    cmd = Invoke(
        consultation_id=CID,
        by=Handle("usa.nsa"),
        subject="Launch toward Japan",
        layer=Layer.NSA,
        severity="critical",
        threatened=(JPN,),
    )
    return decided(None, cmd, T0)


def replayed(events: list[ConsultationEvent]) -> Consultation:
    state: Consultation | None = None
    for e in events:
        state = apply(state, e)
    assert state is not None
    return state


def approval(state: Consultation, nation: NationCode, sid: str) -> StatementApproved:
    s = state.statement(sid)
    assert s is not None
    by = Handle(f"{nation.lower()}.nsa")
    msg = approval_signing_bytes(
        consultation_id=CID,
        statement_id=sid,
        version=s.version,
        text_hash=s.text_hash,
        nation=nation,
        by=by,
    )
    cmd = ApproveStatement(
        consultation_id=CID,
        by=by,
        statement_id=sid,
        version=s.version,
        text_hash=s.text_hash,
        sig=SIGNERS[nation].sign(msg),
    )
    [approved, *_] = decided(state, cmd, T0 + 60)
    assert isinstance(approved, StatementApproved)
    return approved


def refusals(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    return [(str(p), str(c)) for p, c in conn.execute("SELECT peer, code FROM refused")]


def test_an_acknowledgment_before_the_invocation_waits_for_it(conn: sqlite3.Connection) -> None:
    inv = invoked()
    state = replayed(inv)
    [ack] = decided(state, Acknowledge(consultation_id=CID, by=Handle("jpn.ops")), T0 + 30)
    land(conn, JPN, ack)  # JPN's stream is faster than USA's
    assert cstore.load_state(conn, CID) is None
    assert [(c, w) for _, c, w in cstore.parked(conn)] == [(CID, "consultation")]
    land(conn, USA, *inv)
    stored = cstore.load_state(conn, CID)
    assert stored is not None and stored == replayed([*inv, ack])
    party = stored.party(JPN)
    assert party is not None and party.acknowledged_by == "jpn.ops"
    assert cstore.parked(conn) == [] and refusals(conn) == []


def test_an_approval_before_its_draft_waits_and_counts(conn: sqlite3.Connection) -> None:
    inv = invoked()
    state = replayed(inv)
    draft = DraftStatement(consultation_id=CID, by=Handle("usa.nsa"), statement_id="s-1", text="T")
    drafted = decided(state, draft, T0 + 50)
    with_draft = replayed([*inv, *drafted])
    usa_ok, jpn_ok = approval(with_draft, USA, "s-1"), approval(with_draft, JPN, "s-1")
    land(conn, USA, *inv)
    land(conn, JPN, jpn_ok)  # JPN approved what it saw; USA's draft has not reached KOR yet
    assert [w for _, _, w in cstore.parked(conn)] == ["statement:s-1"]
    before = cstore.load_state(conn, CID)
    assert before is not None and before.statement("s-1") is None
    land(conn, USA, *drafted, usa_ok)
    after = cstore.load_state(conn, CID)
    assert after is not None
    s = after.statement("s-1")
    assert s is not None and s.approved_by == (USA, JPN) and not s.adopted
    assert s.text_hash == text_hash("T")
    assert cstore.parked(conn) == []


def test_a_node_cannot_speak_for_another_nation(conn: sqlite3.Connection) -> None:
    inv = invoked()
    land(conn, USA, *inv)
    forged = ConsultationAcknowledged(
        consultation_id=CID, nation=KOR, by=Handle("kor.ops"), at=T0 + 5
    )
    land(conn, JPN, forged)  # JPN's node claims KOR acknowledged
    stored = cstore.load_state(conn, CID)
    assert stored is not None
    party = stored.party(KOR)
    assert party is not None and not party.acknowledged
    assert refusals(conn) == [("JPN", "wrong_origin")]


def test_an_approval_with_a_bad_signature_is_refused(conn: sqlite3.Connection) -> None:
    inv = invoked()
    state = replayed(inv)
    drafted = decided(
        state,
        DraftStatement(consultation_id=CID, by=Handle("usa.nsa"), statement_id="s-1", text="T"),
        T0 + 50,
    )
    good = approval(replayed([*inv, *drafted]), JPN, "s-1")
    # Signed by USA's key, claimed as JPN's approval (and carried on JPN's stream).
    bad = StatementApproved(
        **{
            **{f: getattr(good, f) for f in good.__struct_fields__},
            "sig": SIGNERS[USA].sign(b"something else"),
        }
    )
    land(conn, USA, *inv, *drafted)
    land(conn, JPN, bad)
    stored = cstore.load_state(conn, CID)
    assert stored is not None
    s = stored.statement("s-1")
    assert s is not None and s.approvals == ()
    assert refusals(conn) == [("JPN", "bad_signature")]
    assert cstore.approval_sig_valid(conn, good) and not cstore.approval_sig_valid(conn, bad)


def test_an_invocation_records_its_own_channel(conn: sqlite3.Connection) -> None:
    [inv] = invoked()
    assert isinstance(inv, ConsultationInvoked)
    land(conn, USA, inv)
    channel = channel_store.load_channel(conn, f"nsa.usa-jpn-kor.{CID}")
    assert channel is not None
    assert (channel.consultation_id, channel.members, channel.subject, channel.opened_at) == (
        CID,
        (USA, JPN, KOR),
        "Launch toward Japan",
        T0,
    )
    assert channel_store.load_channels(conn, Layer.NSA) == [channel]
    assert channel_store.load_channels(conn, Layer.DEFENSE) == []
    assert channel_store.known(conn, channel.id) == {channel.id: channel}
    assert channel_store.known(conn, "nsa.usa-jpn-kor") == {}  # the compact's: never stored


def test_an_invocation_naming_another_channel_is_refused_whole(conn: sqlite3.Connection) -> None:
    [inv] = invoked()
    assert isinstance(inv, ConsultationInvoked)
    forged = msgspec.structs.replace(inv, channel=ChannelId("nsa.usa-jpn-kor.c-other"))
    land(conn, USA, forged)
    assert cstore.load_state(conn, CID) is None
    assert channel_store.load_channels(conn, Layer.NSA) == []
    assert refusals(conn) == [("USA", "invalid")]
    # A node that ran before consultations had their own channel named the compact's.
    legacy = msgspec.structs.replace(inv, channel=ChannelId("nsa.usa-jpn-kor"))
    land(conn, USA, legacy)
    stored = cstore.load_state(conn, CID)
    assert stored is not None and stored.channel == "nsa.usa-jpn-kor"
    assert channel_store.load_channels(conn, Layer.NSA) == []


def test_deadlines_follow_the_state(conn: sqlite3.Connection) -> None:
    inv = invoked()
    land(conn, USA, *inv)
    ack_s = 15 * 60.0  # camp-david 'critical'
    assert cstore.ids_due(conn, KOR, T0 + ack_s - 1) == []
    assert cstore.ids_due(conn, KOR, T0 + ack_s) == [CID]
    assert cstore.ids_due(conn, USA, T0 + 10 * ack_s) == []  # the invoker owes nothing
    assert cstore.next_due_at(conn, JPN) == T0 + ack_s
    ack = ConsultationAcknowledged(consultation_id=CID, nation=JPN, by=Handle("jpn.ops"), at=T0)
    land(conn, JPN, ack)
    assert cstore.next_due_at(conn, JPN) == T0 + 3600.0  # now owes convening


def test_meetings_held_are_recorded_and_unknown_ones_refused(conn: sqlite3.Connection) -> None:
    ok = MeetingHeld(
        meeting_id="leaders-summit", at=T0, title="Summit", nation=JPN, by=Handle("jpn.leaders")
    )
    unknown = MeetingHeld(meeting_id="tea-party", at=T0, nation=JPN)
    Projector(COMPACT, KOR).append(conn, [envelope(JPN, ok, T0), envelope(JPN, unknown, T0)])
    assert [m.meeting_id for m in cstore.held_meetings(conn)] == ["leaders-summit"]
    assert refusals(conn) == [("JPN", "invalid")]
