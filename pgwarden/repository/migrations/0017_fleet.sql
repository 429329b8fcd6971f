-- Fleet (0017): a target registered for the workers to serve. A registered target
-- has a connection string (dsn, never with a password: the password comes from the
-- environment variable named in password_env, or from libpq's password file or
-- service file); targets only seen by a one-off command keep dsn NULL. The status
-- is the outcome of the last cycle a worker ran for it. A discovered target keeps
-- the server it came from (its DSN without password) and the patterns discovery
-- left out, so the worker runs discovery again; removed from the fleet, it keeps
-- discovered_from and is not added back by that rediscovery.
ALTER TABLE pgwarden.target
    ADD COLUMN group_name text,
    ADD COLUMN dsn text,
    ADD COLUMN password_env text
        CHECK (password_env ~ '^[A-Za-z_][A-Za-z0-9_]*$'),
    ADD COLUMN interval_s integer CHECK (interval_s > 0),
    ADD COLUMN paused boolean NOT NULL DEFAULT false,
    ADD COLUMN discovered_from text,
    ADD COLUMN discover_exclude text[],
    ADD COLUMN status text CHECK (status IN ('ok', 'failing')),
    ADD COLUMN status_reason text,
    ADD COLUMN status_at timestamptz;

CREATE INDEX target_registered_idx
    ON pgwarden.target (group_name, name) WHERE dsn IS NOT NULL;
