"""Consultation and cadence projections, run inside the writer's transaction.

``project(conn, env, seq, compact, nation)`` is called by ``Projector.project`` for every
consultation event and every ``MeetingHeld``, local or from a peer. For a consultation event it
loads the state row, applies the pure ``domain.consultation.apply`` and saves the row back,
with the party deadlines that the scheduler escalates; an invocation also records the
consultation's own channel (``store/channels.py``).

Streams of different origins are independent, so an event can land before its prerequisite:
JPN's acknowledgment can reach KOR before USA's invocation does, KOR's approval can reach JPN
before USA's draft. Such an event is *parked* in ``consultation_pending`` and applied, in
arrival order, as soon as the consultation (or the statement) arrives.

A peer's event is checked before it is applied: it must speak for its origin's nation only
(``nation == origin``: JPN's node cannot acknowledge for KOR) and an approval must carry a
valid Ed25519 signature by the approving nation's pinned node key (``node_keys``). An event
that fails a check, or that ``apply`` refuses, is recorded in ``refused`` and not applied;
it stays in the peer's signed log (evidence of what the peer sent) and the stream goes on,
so one bad consultation event cannot hold up a peer's FLASH traffic.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterable

import msgspec

from hotline.domain.cadence import MeetingHeld
from hotline.domain.channels import channel_of
from hotline.domain.compact import Compact
from hotline.domain.consultation import (
    Consultation,
    ConsultationAcknowledged,
    ConsultationConvened,
    ConsultationEscalated,
    ConsultationInvoked,
    PhaseChanged,
    PositionGiven,
    StatementAdopted,
    StatementApproved,
    StatementDrafted,
    apply,
    signing_bytes_of,
)
from hotline.domain.events import Envelope, decode_envelope
from hotline.domain.ids import NationCode
from hotline.errors import BadSignature, HotlineError, Invalid, WrongOrigin
from hotline.signing import verify_signature
from hotline.store import channels

log = logging.getLogger("hotline.consultations")

ConsultationBody = (
    ConsultationInvoked
    | ConsultationAcknowledged
    | ConsultationConvened
    | PositionGiven
    | ConsultationEscalated
    | PhaseChanged
    | StatementDrafted
    | StatementApproved
    | StatementAdopted
)

#: Event bodies of the consultation aggregate.
CONSULTATION_TYPES: tuple[type, ...] = (
    ConsultationInvoked,
    ConsultationAcknowledged,
    ConsultationConvened,
    PositionGiven,
    ConsultationEscalated,
    PhaseChanged,
    StatementDrafted,
    StatementApproved,
    StatementAdopted,
)
#: Everything ``project`` handles (``Projector.project`` dispatches on it).
PROJECTED: tuple[type, ...] = (*CONSULTATION_TYPES, MeetingHeld)
#: Their tags, as stored in ``events.type``.
PROJECTED_TAGS: tuple[str, ...] = tuple(t.__struct_config__.tag for t in PROJECTED)  # type: ignore[attr-defined]

#: Bodies that speak for one nation (``body.nation``): only that nation's node may emit them.
_NATIONAL = (
    ConsultationInvoked,
    ConsultationAcknowledged,
    ConsultationConvened,
    PositionGiven,
    ConsultationEscalated,
    PhaseChanged,
    StatementDrafted,
    StatementApproved,
)

_encoder = msgspec.json.Encoder()
_state_decoder = msgspec.json.Decoder(Consultation)


# ---- the projection ------------------------------------------------------------------------


def project(
    conn: sqlite3.Connection, env: Envelope, seq: int, compact: Compact, nation: NationCode
) -> None:
    """Apply one consultation or cadence event (``env`` stored at ``events.seq == seq``)."""
    body = env.body
    local = env.origin == nation
    try:
        if not local:
            _check_peer_event(conn, env)
        if isinstance(body, MeetingHeld):
            _meeting_held(conn, env, body, compact)
        else:
            assert isinstance(body, CONSULTATION_TYPES)
            _apply_or_park(conn, env, seq, body, compact)  # type: ignore[arg-type]
    except HotlineError as exc:
        if local:
            raise  # our own service decided it: a refusal here is a bug, never hidden
        _refuse(conn, env, exc)


def _check_peer_event(conn: sqlite3.Connection, env: Envelope) -> None:
    body = env.body
    claimed = getattr(body, "nation", None)
    national = isinstance(body, _NATIONAL) or (
        isinstance(body, MeetingHeld) and claimed is not None
    )
    if national and claimed != env.origin:
        raise WrongOrigin(
            f"event {env.id} ({env.type}) from {env.origin} speaks for {claimed}; a node "
            "emits consultation events only for its own nation"
        )
    if isinstance(body, StatementApproved):
        verify_approval_sig(conn, body)


def verify_approval_sig(conn: sqlite3.Connection, approval: StatementApproved) -> None:
    """Raise ``BadSignature`` unless ``approval.sig`` verifies with its nation's pinned key."""
    if not approval_sig_valid(conn, approval):
        raise BadSignature(
            f"statement {approval.statement_id} version {approval.version}: approval by "
            f"{approval.by} is not signed by {approval.nation}'s node key"
            + ("" if load_key(conn, approval.nation) else " (no key pinned for it)")
        )


def approval_sig_valid(conn: sqlite3.Connection, approval: StatementApproved) -> bool:
    key = load_key(conn, approval.nation)
    return key is not None and verify_signature(key, approval.sig, signing_bytes_of(approval))


def _waits_for(state: Consultation | None, body: ConsultationBody) -> str | None:
    """What ``body`` needs that has not arrived yet, or ``None`` if it can be applied."""
    if isinstance(body, ConsultationInvoked):
        return None
    if state is None:
        return "consultation"
    if isinstance(body, StatementApproved) and state.statement(body.statement_id) is None:
        return f"statement:{body.statement_id}"
    return None


def _apply_or_park(
    conn: sqlite3.Connection, env: Envelope, seq: int, body: ConsultationBody, compact: Compact
) -> None:
    cid = body.consultation_id
    state = load_state(conn, cid)
    waits = _waits_for(state, body)
    if waits is not None:
        conn.execute(
            "INSERT OR IGNORE INTO consultation_pending(event_seq, consultation_id, waits_for) "
            "VALUES (?, ?, ?)",
            (seq, cid, waits),
        )
        return
    # An invocation opens the consultation's own channel here (checked before anything is
    # written: a peer's invocation naming another channel is refused whole).
    channel = channel_of(compact, body) if isinstance(body, ConsultationInvoked) else None
    save_state(conn, apply(state, body), env.at)
    if channel is not None:
        channels.save_channel(conn, channel)
    if isinstance(body, ConsultationInvoked | StatementDrafted):
        _drain(conn, cid)


def _drain(conn: sqlite3.Connection, cid: str) -> None:
    """Apply the parked events of ``cid`` whose prerequisite is now there, oldest first."""
    progress = True
    while progress:
        progress = False
        rows = conn.execute(
            "SELECT p.event_seq, e.raw FROM consultation_pending p "
            "JOIN events e ON e.seq = p.event_seq "
            "WHERE p.consultation_id = ? ORDER BY p.event_seq",
            (cid,),
        ).fetchall()
        for seq, raw in rows:
            env = decode_envelope(bytes(raw))
            body = env.body
            assert isinstance(body, CONSULTATION_TYPES)
            state = load_state(conn, cid)
            if _waits_for(state, body) is not None:  # type: ignore[arg-type]
                continue
            conn.execute("DELETE FROM consultation_pending WHERE event_seq = ?", (seq,))
            progress = True
            try:
                save_state(conn, apply(state, body), env.at)  # type: ignore[arg-type]
            except HotlineError as exc:
                _refuse(conn, env, exc)


def _refuse(conn: sqlite3.Connection, env: Envelope, exc: HotlineError) -> None:
    log.warning("not applied: %s %s from %s: %s", env.type, env.id, env.origin, exc)
    conn.execute(
        "INSERT INTO refused(peer, at, code, reason, raw) VALUES (?, ?, ?, ?, ?)",
        (env.origin, time.time(), exc.code, f"{env.type} {env.id}: {exc.message}", None),
    )


# ---- consultation rows ---------------------------------------------------------------------


def load_state(conn: sqlite3.Connection, cid: str) -> Consultation | None:
    row = conn.execute("SELECT state FROM consultations WHERE id = ?", (cid,)).fetchone()
    return None if row is None else _state_decoder.decode(row[0])


def save_state(conn: sqlite3.Connection, state: Consultation, at: float) -> None:
    """Write the row and recompute the party deadlines (none once convened or closed)."""
    cid = state.consultation_id
    conn.execute(
        "INSERT INTO consultations(id, nation, subject, layer, severity, phase, invoked_at, "
        "updated_at, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(id) DO UPDATE SET phase = excluded.phase, "
        "updated_at = MAX(consultations.updated_at, excluded.updated_at), state = excluded.state",
        (
            cid,
            state.nation,
            state.subject,
            state.layer.value,
            state.severity,
            state.phase.value,
            state.invoked_at,
            at,
            _encoder.encode(state),
        ),
    )
    conn.execute("DELETE FROM consultation_deadlines WHERE consultation_id = ?", (cid,))
    if state.closed:
        return
    for party in state.parties:
        pending = party.pending()
        if pending is not None:
            conn.execute(
                "INSERT INTO consultation_deadlines(consultation_id, nation, due_at) "
                "VALUES (?, ?, ?)",
                (cid, party.nation, pending[1]),
            )


def list_states(
    conn: sqlite3.Connection, *, phase: str | None = None, limit: int = 100
) -> list[Consultation]:
    """Most recent first; ``phase`` filters (``open`` = any phase but ``closed``)."""
    if phase is None:
        rows = conn.execute(
            "SELECT state FROM consultations ORDER BY invoked_at DESC, id LIMIT ?", (limit,)
        )
    elif phase == "open":
        rows = conn.execute(
            "SELECT state FROM consultations WHERE phase != 'closed' "
            "ORDER BY invoked_at DESC, id LIMIT ?",
            (limit,),
        )
    else:
        rows = conn.execute(
            "SELECT state FROM consultations WHERE phase = ? ORDER BY invoked_at DESC, id LIMIT ?",
            (phase, limit),
        )
    return [_state_decoder.decode(r[0]) for r in rows]


def ids_due(conn: sqlite3.Connection, nation: str, now: float) -> list[str]:
    """Consultations in which ``nation`` has missed a deadline by ``now``."""
    return [
        str(r[0])
        for r in conn.execute(
            "SELECT consultation_id FROM consultation_deadlines WHERE nation = ? AND due_at <= ? "
            "ORDER BY due_at",
            (nation, now),
        )
    ]


def next_due_at(conn: sqlite3.Connection, nation: str) -> float | None:
    row = conn.execute(
        "SELECT MIN(due_at) FROM consultation_deadlines WHERE nation = ?", (nation,)
    ).fetchone()
    return float(row[0]) if row and row[0] is not None else None


def parked(conn: sqlite3.Connection, cid: str | None = None) -> list[tuple[int, str, str]]:
    """``(event_seq, consultation_id, waits_for)`` of the parked events."""
    if cid is None:
        rows = conn.execute(
            "SELECT event_seq, consultation_id, waits_for FROM consultation_pending "
            "ORDER BY event_seq"
        )
    else:
        rows = conn.execute(
            "SELECT event_seq, consultation_id, waits_for FROM consultation_pending "
            "WHERE consultation_id = ? ORDER BY event_seq",
            (cid,),
        )
    return [(int(a), str(b), str(c)) for a, b, c in rows]


# ---- pinned keys ---------------------------------------------------------------------------


def save_keys(conn: sqlite3.Connection, keys: dict[NationCode, str], now: float) -> None:
    """Replace the pinned signing keys (base64url raw Ed25519 public keys) by ``keys``."""
    conn.execute("DELETE FROM node_keys")
    conn.executemany(
        "INSERT INTO node_keys(nation, signing_key, updated_at) VALUES (?, ?, ?)",
        [(n, k, now) for n, k in sorted(keys.items())],
    )


def load_key(conn: sqlite3.Connection, nation: str) -> str | None:
    row = conn.execute("SELECT signing_key FROM node_keys WHERE nation = ?", (nation,)).fetchone()
    return None if row is None else str(row[0])


# ---- cadence -------------------------------------------------------------------------------


def _meeting_held(
    conn: sqlite3.Connection, env: Envelope, body: MeetingHeld, compact: Compact
) -> None:
    known = [m.id for m in compact.cadence.meetings]
    if body.meeting_id not in known:
        raise Invalid(
            f"meeting_id: {body.meeting_id!r} is not a meeting of compact {compact.id!r} "
            f"(meetings: {', '.join(known) or 'none'})"
        )
    conn.execute(
        "INSERT OR IGNORE INTO meetings_held(event_id, meeting_id, at, title, nation, by) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (env.id, body.meeting_id, body.at, body.title, body.nation, body.by),
    )


def held_meetings(conn: sqlite3.Connection) -> list[MeetingHeld]:
    return list(_held(conn.execute("SELECT meeting_id, at, title, nation, by FROM meetings_held")))


def _held(rows: Iterable[tuple[str, float, str, str | None, str | None]]) -> Iterable[MeetingHeld]:
    for meeting_id, at, title, nation, by in rows:
        yield MeetingHeld(
            meeting_id=meeting_id,
            at=float(at),
            title=title,
            nation=None if nation is None else NationCode(nation),
            by=by,  # type: ignore[arg-type]
        )
