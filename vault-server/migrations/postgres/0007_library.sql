-- The family library: each recording's details (title, "recorded on" date, note) and
-- poster are encrypted in the browser as small ESDK messages under the family's
-- library key, whose wrapped copies live here (one data key per family, wrapped by
-- the family's customer key). The server stores ciphertext only; erasure clears them.
ALTER TABLE families ADD COLUMN library_edks TEXT;
ALTER TABLE recordings ADD COLUMN details TEXT;        -- base64 of an ESDK message
ALTER TABLE recordings ADD COLUMN poster TEXT;         -- base64 of an ESDK message
ALTER TABLE recordings ADD COLUMN poster_size BIGINT;  -- its length, so lists need not read it
