-- Share links: a view-only link to some recordings for someone without an account.
-- The link's 256-bit secret lives only in the URL's fragment; the server keeps each
-- recording's data key sealed under a key derived from it (`sealed`, base64 of a small
-- ESDK message made in the browser), so a copy of these tables opens nothing. Limits
-- are enforced here on every read: expiry, revocation, a number of views.
CREATE TABLE share_links (
    id              TEXT PRIMARY KEY,      -- 128 random bits, base64url: names the link, opens nothing
    family_id       TEXT NOT NULL REFERENCES families (id),
    name            TEXT NOT NULL,         -- who it is for ("for Grandpa Joe")
    created_by      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    max_views       BIGINT,                -- NULL: no limit
    views           BIGINT NOT NULL DEFAULT 0,
    allow_download  INTEGER NOT NULL,      -- 0 or 1
    passphrase      TEXT,                  -- the KDF's public parameters (JSON) when it asks for one
    revoked_at      BIGINT
);
CREATE INDEX share_links_by_family ON share_links (family_id, created_at);

-- What a link shows, in order. Deleted with the recording's wrapped keys (erasure).
CREATE TABLE share_link_items (
    link_id         TEXT NOT NULL REFERENCES share_links (id),
    recording_id    TEXT NOT NULL,
    position        BIGINT NOT NULL,
    sealed          TEXT NOT NULL,
    PRIMARY KEY (link_id, recording_id)
);
CREATE INDEX share_link_items_by_recording ON share_link_items (recording_id);

-- One opening of a link: the viewer's reads carry its token (kept by its SHA-256).
CREATE TABLE share_views (
    token_sha256    TEXT PRIMARY KEY,
    link_id         TEXT NOT NULL REFERENCES share_links (id),
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL
);
CREATE INDEX share_views_by_link ON share_views (link_id);

-- A link's openings are read from the audit log by target.
CREATE INDEX audit_log_by_target ON audit_log (tenant, target);
