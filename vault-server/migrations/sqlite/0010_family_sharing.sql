-- A family's rules for share links: whether members (not only owners and admins) may
-- make them, and the longest a link may work.
ALTER TABLE families ADD COLUMN members_may_share INTEGER NOT NULL DEFAULT 0;
ALTER TABLE families ADD COLUMN max_link_days INTEGER NOT NULL DEFAULT 30;
