-- The repository's bookkeeping and the monitored targets.
CREATE SCHEMA pgwarden;

CREATE TABLE pgwarden.schema_version (
    version int PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE pgwarden.target (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text UNIQUE NOT NULL,
    system_identifier text,
    server_version_num int,
    first_seen timestamptz NOT NULL DEFAULT now(),
    last_seen timestamptz
);
