-- The trash: a recording moved there is hidden and refused like a deleted one, but
-- restorable until `trash_until`; then the trash job erases it as a deletion does
-- (wrapped keys destroyed, receipt signed). The end date is fixed when it is trashed.
ALTER TABLE recordings ADD COLUMN trashed_at BIGINT;
ALTER TABLE recordings ADD COLUMN trashed_by TEXT;
ALTER TABLE recordings ADD COLUMN trash_until BIGINT;
CREATE INDEX recordings_trash_due ON recordings (trash_until) WHERE trash_until IS NOT NULL;
