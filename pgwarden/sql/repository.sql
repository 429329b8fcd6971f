-- Queries of pgwarden's own schema (pgwarden/repository).

-- name: lock
SELECT pg_advisory_xact_lock(%s);

-- name: has_version_table
SELECT to_regclass('pgwarden.schema_version') IS NOT NULL AS present;

-- name: current_version
SELECT max(version) AS version FROM pgwarden.schema_version;

-- name: record_version
INSERT INTO pgwarden.schema_version (version, name) VALUES (%s, %s);
