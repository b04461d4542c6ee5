-- A studio's records deleted on its request: its staff and its customers' names go;
-- the row stays (the id stays taken, and its audit chain, which is append-only, keeps
-- the evidence of what the studio did).
ALTER TABLE studios ADD COLUMN erased_at BIGINT;
