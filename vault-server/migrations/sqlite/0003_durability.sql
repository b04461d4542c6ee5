-- Integrity scrub: one row per run. `cursor` (the last recording id checked) and
-- `heartbeat_at` let a crashed run resume where it stopped, and keep two servers
-- from scrubbing at once.
CREATE TABLE scrub_runs (
    id              TEXT PRIMARY KEY,
    started_at      BIGINT NOT NULL,
    heartbeat_at    BIGINT NOT NULL,
    finished_at     BIGINT,
    cursor          TEXT NOT NULL,
    checked         BIGINT NOT NULL,
    healthy         BIGINT NOT NULL,
    repaired        BIGINT NOT NULL,
    failed          BIGINT NOT NULL,
    bytes_read      BIGINT NOT NULL,
    report          TEXT                     -- the signed report, once finished
);

-- What a run found wrong, one row per recording and region (bounded by the damage,
-- not by the store's size).
CREATE TABLE scrub_findings (
    run_id          TEXT NOT NULL,
    recording_id    TEXT NOT NULL,
    family_id       TEXT NOT NULL,
    region          TEXT NOT NULL,
    problem         TEXT NOT NULL,           -- missing | mismatch | unreadable
    action          TEXT NOT NULL,           -- repaired | unrepairable | retry
    detail          TEXT NOT NULL,
    at              BIGINT NOT NULL,
    PRIMARY KEY (run_id, recording_id, region)
);

-- Erasure: a deleted recording's wrapped keys are destroyed at once (edks = '[]');
-- the purge job deletes its object versions once retention allows.
ALTER TABLE recordings ADD COLUMN purged_at BIGINT;
-- A family erased on request: its customer key is destroyed; rows stay for the audit.
ALTER TABLE families ADD COLUMN erased_at BIGINT;
ALTER TABLE families ADD COLUMN key_deletion TEXT;

-- At most one unfinished scrub run: two servers starting at once cannot both claim one.
CREATE UNIQUE INDEX scrub_runs_one_open ON scrub_runs ((finished_at IS NULL)) WHERE finished_at IS NULL;
