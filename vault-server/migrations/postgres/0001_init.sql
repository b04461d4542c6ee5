-- Vault metadata (PostgreSQL). Times are Unix milliseconds; ids are random UUIDs.
-- SQLite runs the same queries against migrations/sqlite.

CREATE TABLE families (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    key_id      TEXT NOT NULL,               -- the customer key (local:<id> or KMS ARNs)
    created_at  BIGINT NOT NULL,
    created_by  TEXT NOT NULL
);

CREATE TABLE members (
    family_id   TEXT NOT NULL REFERENCES families (id),
    user_id     TEXT NOT NULL,               -- the identity provider's `sub`
    role        TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    added_at    BIGINT NOT NULL,
    added_by    TEXT NOT NULL,
    PRIMARY KEY (family_id, user_id)
);

CREATE TABLE recordings (
    id              TEXT PRIMARY KEY,
    family_id       TEXT NOT NULL REFERENCES families (id),
    title           TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('audio', 'video', 'letter')),
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
    retain_until    BIGINT
);
CREATE INDEX recordings_by_family ON recordings (family_id, status, created_at);

CREATE TABLE uploads (
    recording_id    TEXT PRIMARY KEY REFERENCES recordings (id),
    family_id       TEXT NOT NULL,
    store_upload_id TEXT NOT NULL,
    header          TEXT,                    -- hex of the message header, once part 1 arrived
    expires_at      BIGINT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX uploads_by_expiry ON uploads (expires_at);

CREATE TABLE upload_parts (
    recording_id    TEXT NOT NULL REFERENCES uploads (recording_id) ON DELETE CASCADE,
    part_number     BIGINT NOT NULL,
    size            BIGINT NOT NULL,
    sha256          TEXT NOT NULL,
    etag            TEXT NOT NULL,
    next_sequence   BIGINT NOT NULL,         -- first frame sequence of the next part
    is_final        BIGINT NOT NULL,         -- 1 if this part holds the final frame
    plaintext_len   BIGINT NOT NULL,
    PRIMARY KEY (recording_id, part_number)
);

-- Append-only, hash-chained per tenant: see src/audit.rs.
CREATE TABLE audit_log (
    tenant      TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    ip          TEXT NOT NULL,
    user_agent  TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    metadata    TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL,
    PRIMARY KEY (tenant, seq)
);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log
FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
