-- A member is an identity of one issuer, (issuer, subject): a token of another issuer
-- with the same `sub` is somebody else. Rows from before have issuer '' and are bound,
-- at the next start, to the one issuer the service then trusts (it trusts exactly one).
CREATE TABLE members_by_issuer (
    family_id   TEXT NOT NULL REFERENCES families (id),
    issuer      TEXT NOT NULL,               -- the token's `iss`
    user_id     TEXT NOT NULL,               -- the token's `sub`
    role        TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    added_at    BIGINT NOT NULL,
    added_by    TEXT NOT NULL,
    PRIMARY KEY (family_id, issuer, user_id)
);
INSERT INTO members_by_issuer (family_id, issuer, user_id, role, added_at, added_by)
    SELECT family_id, '', user_id, role, added_at, added_by FROM members;
DROP TABLE members;
ALTER TABLE members_by_issuer RENAME TO members;
