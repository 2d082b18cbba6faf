-- hotline node store, schema 2: the commitment to consult and the cadence record.
-- Never edit: add 0003_*.sql for changes. Every row here is a projection of `events`
-- (store/consultations.py); the consultation state is rebuilt with the pure `apply`.

-- One row per consultation: the state (msgspec JSON of domain Consultation) plus the
-- columns the list view filters and sorts on.
CREATE TABLE consultations (
    id          TEXT PRIMARY KEY,
    nation      TEXT NOT NULL,              -- the invoking nation
    subject     TEXT NOT NULL,
    layer       TEXT NOT NULL,
    severity    TEXT NOT NULL,
    phase       TEXT NOT NULL,
    invoked_at  REAL NOT NULL,
    updated_at  REAL NOT NULL,
    state       BLOB NOT NULL
);
CREATE INDEX consultations_recent ON consultations(invoked_at DESC);

-- Per consultation and party: the deadline of the step the party owes next (ack, then
-- convene); no row once it has convened or the consultation is closed. Each node escalates
-- only its own nation's rows (origin-authoritative).
CREATE TABLE consultation_deadlines (
    consultation_id TEXT NOT NULL,
    nation          TEXT NOT NULL,
    due_at          REAL NOT NULL,
    PRIMARY KEY (consultation_id, nation)
) WITHOUT ROWID;
CREATE INDEX consultation_deadlines_due ON consultation_deadlines(nation, due_at);

-- Peers' consultation events whose prerequisite has not arrived yet (an acknowledgment before
-- the invocation, an approval before the draft it approves: different origins' streams are
-- independent). Re-applied, oldest first, when the consultation or statement arrives.
CREATE TABLE consultation_pending (
    event_seq       INTEGER PRIMARY KEY,    -- events.seq of the parked event
    consultation_id TEXT NOT NULL,
    waits_for       TEXT NOT NULL           -- 'consultation' or 'statement:<id>'
);
CREATE INDEX consultation_pending_cid ON consultation_pending(consultation_id, event_seq);

-- The Ed25519 event-signing keys this node pins (its own and its peers'), written at start
-- from the signing key and the federation trust: approvals of joint statements are verified
-- against them at ingress and in every view.
CREATE TABLE node_keys (
    nation      TEXT PRIMARY KEY,
    signing_key TEXT NOT NULL,              -- base64url raw public key
    updated_at  REAL NOT NULL
);

-- Cadence: every meeting or exercise recorded as held (MeetingHeld events, any origin).
CREATE TABLE meetings_held (
    event_id   TEXT PRIMARY KEY,
    meeting_id TEXT NOT NULL,
    at         REAL NOT NULL,
    title      TEXT NOT NULL DEFAULT '',
    nation     TEXT,
    by         TEXT
);
CREATE INDEX meetings_held_meeting ON meetings_held(meeting_id, at);
