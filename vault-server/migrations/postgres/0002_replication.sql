-- Cross-region replication: the replica's version and checksum per recording, and a
-- durable outbox of copies still to make (written in the commit's transaction, so a
-- crash between the primary write and the copy loses nothing).
ALTER TABLE recordings ADD COLUMN replica_version TEXT;
ALTER TABLE recordings ADD COLUMN replica_sha256 TEXT;
ALTER TABLE recordings ADD COLUMN replicated_at BIGINT;

CREATE TABLE replication_outbox (
    recording_id    TEXT PRIMARY KEY REFERENCES recordings (id),
    family_id       TEXT NOT NULL,
    object_key      TEXT NOT NULL,
    sha256          TEXT NOT NULL,           -- of the primary copy; the replica must match
    retain_until    BIGINT NOT NULL,
    attempts        BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_error      TEXT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX replication_outbox_due ON replication_outbox (next_attempt_at);
