-- The PostgreSQL role `vault serve` connects as in production (with
-- database_migrate = false): it reads and writes metadata, but may only INSERT and
-- SELECT the audit log (the append-only trigger is a second guard, and the hash
-- chain a third). Migrations run as the schema owner, with `vault setup`.
--
-- Apply as the schema owner after `vault setup`, then give the role a password (or
-- IAM authentication) outside this file:
--   psql "$OWNER_URL" -f vault-server/sql/postgres-service-role.sql
--   psql "$OWNER_URL" -c "ALTER ROLE vault_service PASSWORD '…'"
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'vault_service') THEN
        CREATE ROLE vault_service LOGIN;
    END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO vault_service;
-- Every table but the audit log, each named: a table added by a later migration
-- must be added here too (tests/tests/aws.rs compares this list with the schema and
-- runs every background job as this role).
GRANT SELECT, INSERT, UPDATE, DELETE
    ON families, members, recordings, uploads, upload_parts, replication_outbox, scrub_runs, scrub_findings,
       invitations, share_links, share_link_items, share_views, studios, studio_staff, deliveries, job_leases,
       export_links, studio_invitations
    TO vault_service;
GRANT SELECT, INSERT ON audit_log TO vault_service;
GRANT SELECT ON _sqlx_migrations TO vault_service;
