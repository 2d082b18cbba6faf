-- hotline node store, schema 4: each consultation's own channel (docs/consultation.md).
-- Never edit: add 0005_*.sql for changes. A projection of `consultation_invoked` events
-- (store/channels.py): one row per consultation this node holds whose invocation opened its
-- own channel, `<layer>.<members>.<consultation id>`. The compact's channels are not stored
-- (they come from the compact); consultations invoked before this schema ran on them.
CREATE TABLE consultation_channels (
    id                 TEXT PRIMARY KEY,        -- nsa.usa-jpn-kor.c-usa-1a20542715b-fd8f9f12
    consultation_id    TEXT NOT NULL UNIQUE,
    layer              TEXT NOT NULL,
    members            TEXT NOT NULL,           -- party codes in compact order: USA,JPN,KOR
    max_classification TEXT NOT NULL,
    subject            TEXT NOT NULL DEFAULT '',
    opened_at          REAL NOT NULL            -- the invocation's time
);
CREATE INDEX consultation_channels_layer ON consultation_channels(layer, opened_at DESC);
