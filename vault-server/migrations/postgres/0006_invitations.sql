-- Invitation links: a relative opens the link, signs in, and joins with the role and
-- name the inviter chose. Only the SHA-256 of the link's 256-bit secret is kept, so a
-- copy of this table opens nothing. A link works once, until `expires_at`.
CREATE TABLE invitations (
    id              TEXT PRIMARY KEY,
    family_id       TEXT NOT NULL REFERENCES families (id),
    secret_sha256   TEXT NOT NULL UNIQUE,
    role            TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    display_name    TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    accepted_at     BIGINT,
    accepted_by     TEXT,
    revoked_at      BIGINT
);
CREATE INDEX invitations_by_family ON invitations (family_id, created_at);

-- The name a family knows a member by ("Grandpa Joe"), shown beside the user id.
ALTER TABLE members ADD COLUMN display_name TEXT;
