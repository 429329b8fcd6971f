-- The current state of the pgwarden repository schema.
--
-- A fresh `pgwarden init` runs this file and records every migration as applied.
-- Keep it equal to applying migrations/*.sql in order: the migration test compares both.

CREATE SCHEMA pgwarden;

-- Which migrations the repository holds.
CREATE TABLE pgwarden.schema_version (
    version int PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- One row per monitored PostgreSQL server (many targets may share a repository).
CREATE TABLE pgwarden.target (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text UNIQUE NOT NULL,
    system_identifier text,
    server_version_num int,
    first_seen timestamptz NOT NULL DEFAULT now(),
    last_seen timestamptz
);
