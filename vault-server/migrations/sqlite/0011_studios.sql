-- Studios: keepsake-ultrasound studios that deliver recordings to their customers'
-- families. A studio is a tenant of its own, named (like a family) by the token's
-- organisation claim; an id is a family's or a studio's, never both.
CREATE TABLE studios (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    created_by      TEXT NOT NULL,
    -- The studio's retention policy: days a delivery whose invitation expired
    -- unaccepted is kept (for a re-sent invitation) before it is erased.
    unclaimed_days  BIGINT NOT NULL DEFAULT 30
);

-- A studio's people: admins manage staff and read the studio's log; staff deliver.
CREATE TABLE studio_staff (
    studio_id   TEXT NOT NULL REFERENCES studios (id),
    issuer      TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('admin', 'staff')),
    added_at    BIGINT NOT NULL,
    added_by    TEXT NOT NULL,
    PRIMARY KEY (studio_id, issuer, user_id)
);

-- A delivery: a family vault the studio made for a customer, contributes to until
-- the hand-off, and then no longer reaches.
CREATE TABLE deliveries (
    id                TEXT PRIMARY KEY,
    studio_id         TEXT NOT NULL REFERENCES studios (id),
    family_id         TEXT NOT NULL UNIQUE REFERENCES families (id),
    customer          TEXT NOT NULL,
    created_by        TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    invitation_id     TEXT,             -- the parents' newest invitation, once sent
    invited_until     BIGINT,           -- when that invitation expires
    contribute_until  BIGINT,           -- the studio's hand-off date, if later than acceptance
    accepted_at       BIGINT,
    handed_off_at     BIGINT,
    expired_at        BIGINT,           -- when the studio was told its invitation expired unaccepted
    erased_at         BIGINT
);
CREATE INDEX deliveries_by_studio ON deliveries (studio_id, created_at);

-- The studio that contributed a recording (its contributors see only these).
ALTER TABLE recordings ADD COLUMN studio_id TEXT;
