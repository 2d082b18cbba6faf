-- Missile-warning data sharing (docs/warning-data.md). Never edit: add 0004_*.sql for changes.

-- Raw sensor reports this node holds: its own nation's, and those of the parties whose
-- raw_reports_to names this nation. ``id`` is the fusion cursor (append order).
CREATE TABLE reports (
    id        INTEGER PRIMARY KEY,
    nation    TEXT NOT NULL,
    sensor    TEXT NOT NULL,
    uid       TEXT NOT NULL,
    time      REAL NOT NULL,
    lat       REAL NOT NULL,
    lon       REAL NOT NULL,
    hae       REAL NOT NULL,
    ce        REAL NOT NULL,
    le        REAL NOT NULL,
    event_seq INTEGER NOT NULL,           -- the ReportsReceived event that carried it
    UNIQUE (nation, sensor, uid, time)    -- the same report twice is kept once
);
CREATE INDEX reports_time ON reports(time);

-- The latest state of each track of each picture (coalition: the track authority's, shared;
-- local: this node's own fusion).
CREATE TABLE tracks (
    picture    TEXT NOT NULL,
    id         TEXT NOT NULL,
    origin     TEXT NOT NULL,             -- the node that fused it
    status     TEXT NOT NULL,
    phase      TEXT NOT NULL,
    time       REAL NOT NULL,             -- track time of the state
    event_seq  INTEGER NOT NULL,
    raw        BLOB NOT NULL,             -- TrackUpdated, JSON
    PRIMARY KEY (picture, id)
) WITHOUT ROWID;
CREATE INDEX tracks_live ON tracks(picture, status);

-- One automatic alert per track (raised by the track authority).
CREATE TABLE alerts (
    id          TEXT PRIMARY KEY,
    track_id    TEXT NOT NULL,
    origin      TEXT NOT NULL,
    channel     TEXT NOT NULL,
    message_id  TEXT NOT NULL,            -- the first FLASH
    raised_at   REAL NOT NULL,
    updated_at  REAL NOT NULL,
    revision    INTEGER NOT NULL,
    kind        TEXT NOT NULL,            -- raised, update, threat, retracked, closed
    closed      INTEGER NOT NULL DEFAULT 0,
    raw         BLOB NOT NULL             -- the latest AlertRaised / AlertUpdated, JSON
);
CREATE INDEX alerts_track ON alerts(track_id);
