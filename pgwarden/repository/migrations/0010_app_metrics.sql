-- What applications report about themselves (POST /api/ingest/app-metrics and
-- /app-cache): the latest connection pool and cache counters per source.
CREATE TABLE pgwarden.app_metrics (
    target_id bigint NOT NULL REFERENCES pgwarden.target (id) ON DELETE CASCADE,
    source text NOT NULL,
    pool_size int CHECK (pool_size >= 0),
    pool_in_use int CHECK (pool_in_use >= 0),
    pool_waiting int CHECK (pool_waiting >= 0),
    pool_reported_at timestamptz,
    cache_hits bigint CHECK (cache_hits >= 0),
    cache_misses bigint CHECK (cache_misses >= 0),
    cache_reported_at timestamptz,
    PRIMARY KEY (target_id, source)
);
