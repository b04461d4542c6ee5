-- A family that has a vault already invites a studio to deliver into it: the studio
-- redeems the invitation's secret once (only its SHA-256 is kept), and its delivery
-- starts accepted, in the family's own vault with the family's key, until the
-- hand-off date (or until the family ends it).
CREATE TABLE studio_invitations (
    id             TEXT PRIMARY KEY,
    family_id      TEXT NOT NULL REFERENCES families (id),
    secret_sha256  TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,      -- the studio, as the family named it
    created_by     TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT,
    delivery_id    TEXT,               -- the delivery it started
    revoked_at     BIGINT
);
CREATE INDEX studio_invitations_by_family ON studio_invitations (family_id, created_at);

-- A family may now hold several deliveries (one per studio session).
ALTER TABLE deliveries DROP CONSTRAINT deliveries_family_id_key;
ALTER TABLE deliveries ADD COLUMN studio_invitation_id TEXT;  -- set when the family invited the studio in
CREATE INDEX deliveries_by_family ON deliveries (family_id);

-- The delivery a studio's recording came in: a contributor sees only its delivery's
-- recordings (a studio invited back for a new session does not see the last one's).
ALTER TABLE recordings ADD COLUMN delivery_id TEXT;
UPDATE recordings SET delivery_id = (SELECT d.id FROM deliveries d
    WHERE d.family_id = recordings.family_id AND d.studio_id = recordings.studio_id)
WHERE studio_id IS NOT NULL;
