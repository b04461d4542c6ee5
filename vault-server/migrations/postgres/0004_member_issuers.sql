-- A member is an identity of one issuer, (issuer, subject): a token of another issuer
-- with the same `sub` is somebody else. Rows from before have issuer '' and are bound,
-- at the next start, to the one issuer the service then trusts (it trusts exactly one).
ALTER TABLE members ADD COLUMN issuer TEXT NOT NULL DEFAULT '';
ALTER TABLE members DROP CONSTRAINT members_pkey;
ALTER TABLE members ADD PRIMARY KEY (family_id, issuer, user_id);
