-- Errors by class, per minute (0019). The server log's ERROR, FATAL and PANIC
-- records are counted by the collector as it reads the log, in the transaction that
-- moves its position in the file (a record is counted once however often the log is
-- read); applications report their calls and errors per class
-- (POST /api/ingest/app-metrics, counts since their previous report). origin is ''
-- for the server log and the reporting application's source otherwise.
CREATE TABLE pgwarden.error_count (
    target_id bigint NOT NULL REFERENCES pgwarden.target (id) ON DELETE CASCADE,
    minute timestamptz NOT NULL,
    source text NOT NULL CHECK (source IN ('server_log', 'application')),
    origin text NOT NULL DEFAULT '',
    class text NOT NULL CHECK (class ~ '^[a-z][a-z0-9_]{0,62}$'),
    errors bigint NOT NULL CHECK (errors >= 0),
    PRIMARY KEY (target_id, minute, source, origin, class)
);

CREATE TABLE pgwarden.error_calls (
    target_id bigint NOT NULL REFERENCES pgwarden.target (id) ON DELETE CASCADE,
    minute timestamptz NOT NULL,
    origin text NOT NULL,
    calls bigint NOT NULL CHECK (calls >= 0),
    PRIMARY KEY (target_id, minute, origin)
);

-- When each source was read (the server log) or reported (an application): from
-- first_at to last_at its silence means no errors, before and after it means
-- "not recorded".
CREATE TABLE pgwarden.error_source (
    target_id bigint NOT NULL REFERENCES pgwarden.target (id) ON DELETE CASCADE,
    source text NOT NULL CHECK (source IN ('server_log', 'application')),
    origin text NOT NULL DEFAULT '',
    first_at timestamptz NOT NULL,
    last_at timestamptz NOT NULL,
    PRIMARY KEY (target_id, source, origin)
);
