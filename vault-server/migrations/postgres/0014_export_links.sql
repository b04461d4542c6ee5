-- Export links: an owner's one-time download link, answered by whichever instance the
-- load balancer picks. The link's token (256 random bits) is kept by its SHA-256; the
-- export's recovery key is kept sealed under a key derived from the token (`sealed`,
-- base64 of a small ESDK message), so a copy of this table opens no export. One link
-- per family at a time; a link is deleted when used, and when it expires.
CREATE TABLE export_links (
    token_sha256    TEXT PRIMARY KEY,
    family_id       TEXT NOT NULL UNIQUE REFERENCES families (id),
    issuer          TEXT NOT NULL,         -- who asked (an owner then; checked again at the download)
    actor           TEXT NOT NULL,
    export_id       TEXT NOT NULL,
    sealed          TEXT NOT NULL,
    expires_at      BIGINT NOT NULL
);
