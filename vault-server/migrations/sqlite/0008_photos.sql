-- Photos become a kind of their own (they were stored as letters). SQLite cannot alter
-- a CHECK constraint, so the recordings table is rebuilt (SQLite's documented
-- twelve-step procedure). Migrations run inside one transaction, where
-- `PRAGMA foreign_keys = OFF` has no effect, so the rows that refer to recordings
-- (uploads, their parts, the replication outbox) are set aside and put back after
-- the rebuild; the whole step commits or rolls back as one.
CREATE TEMP TABLE keep_upload_parts AS SELECT * FROM upload_parts;
CREATE TEMP TABLE keep_uploads AS SELECT * FROM uploads;
CREATE TEMP TABLE keep_replication_outbox AS SELECT * FROM replication_outbox;
DELETE FROM replication_outbox;
DELETE FROM upload_parts;
DELETE FROM uploads;

CREATE TABLE recordings_rebuilt (
    id              TEXT PRIMARY KEY,
    family_id       TEXT NOT NULL REFERENCES families (id),
    title           TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('audio', 'video', 'letter', 'photo')),
    content_type    TEXT NOT NULL,
    plaintext_size  BIGINT NOT NULL,
    encryption      TEXT NOT NULL CHECK (encryption IN ('client', 'server')),
    frame_length    BIGINT NOT NULL,
    part_frames     BIGINT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'committed', 'expired', 'deleted')),
    object_key      TEXT NOT NULL UNIQUE,
    edks            TEXT NOT NULL,           -- JSON: the wrapped data keys (never a plaintext key)
    created_by      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    committed_at    BIGINT,
    deleted_at      BIGINT,
    ciphertext_size BIGINT,
    sha256          TEXT,
    header_len      BIGINT,
    version         TEXT,
    retain_until    BIGINT,
    replica_version TEXT,
    replica_sha256  TEXT,
    replicated_at   BIGINT,
    purged_at       BIGINT,
    trashed_at      BIGINT,
    trashed_by      TEXT,
    trash_until     BIGINT,
    details         TEXT,                    -- base64 of an ESDK message
    poster          TEXT,                    -- base64 of an ESDK message
    poster_size     BIGINT                   -- its length, so lists need not read it
);
INSERT INTO recordings_rebuilt SELECT * FROM recordings;
-- Photos uploaded before this migration were stored as letters.
UPDATE recordings_rebuilt SET kind = 'photo' WHERE kind = 'letter' AND content_type LIKE 'image/%';
DROP TABLE recordings;
ALTER TABLE recordings_rebuilt RENAME TO recordings;
CREATE INDEX recordings_by_family ON recordings (family_id, status, created_at);
CREATE INDEX recordings_trash_due ON recordings (trash_until) WHERE trash_until IS NOT NULL;

INSERT INTO uploads SELECT * FROM keep_uploads;
INSERT INTO upload_parts SELECT * FROM keep_upload_parts;
INSERT INTO replication_outbox SELECT * FROM keep_replication_outbox;
DROP TABLE keep_upload_parts;
DROP TABLE keep_uploads;
DROP TABLE keep_replication_outbox;
