-- Parameter values (0014): how often a statement compared a categorical column with
-- each of its most common values, per UTC day (pgwarden.slowlog.param_values).
-- Only values pg_stats already lists for a low-cardinality column are ever kept.
CREATE TABLE pgwarden.parameter_value (
    target_id bigint NOT NULL REFERENCES pgwarden.target (id) ON DELETE CASCADE,
    day date NOT NULL,
    fingerprint text NOT NULL,
    queryid bigint,
    schema_name text NOT NULL,
    relname text NOT NULL,
    attname text NOT NULL,
    value text NOT NULL,
    calls bigint NOT NULL CHECK (calls > 0),
    first_seen timestamptz NOT NULL,
    last_seen timestamptz NOT NULL,
    PRIMARY KEY (target_id, fingerprint, relname, attname, value, day)
);

CREATE INDEX parameter_value_day_idx ON pgwarden.parameter_value (target_id, day);
