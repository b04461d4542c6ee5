-- Scale-out: work one instance of `vault serve` at a time does. A singleton job's
-- round holds its lease (by name) until `expires_at`; a dead instance's lease lapses
-- and another instance takes the next round.
CREATE TABLE job_leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,             -- the instance id (`vault serve` logs it)
    expires_at  BIGINT NOT NULL
);

-- A copy to the replica region is claimed by one instance until `claimed_until`.
ALTER TABLE replication_outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE replication_outbox ADD COLUMN claimed_until BIGINT;
