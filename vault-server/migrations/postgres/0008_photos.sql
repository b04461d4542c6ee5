-- Photos become a kind of their own (they were stored as letters).
ALTER TABLE recordings DROP CONSTRAINT recordings_kind_check;
ALTER TABLE recordings ADD CONSTRAINT recordings_kind_check CHECK (kind IN ('audio', 'video', 'letter', 'photo'));
UPDATE recordings SET kind = 'photo' WHERE kind = 'letter' AND content_type LIKE 'image/%';
