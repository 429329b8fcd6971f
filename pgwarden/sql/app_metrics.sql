-- Application reports (connection pool, cache) in the repository.

-- name: record_pool
INSERT INTO pgwarden.app_metrics AS m
    (target_id, source, pool_size, pool_in_use, pool_waiting, pool_reported_at)
VALUES (%(target_id)s, %(source)s, %(pool_size)s, %(in_use)s, %(waiting)s,
        %(reported_at)s)
ON CONFLICT (target_id, source) DO UPDATE
SET pool_size = excluded.pool_size, pool_in_use = excluded.pool_in_use,
    pool_waiting = excluded.pool_waiting,
    pool_reported_at = excluded.pool_reported_at;

-- name: record_cache
INSERT INTO pgwarden.app_metrics AS m
    (target_id, source, cache_hits, cache_misses, cache_reported_at)
VALUES (%(target_id)s, %(source)s, %(hits)s, %(misses)s, %(reported_at)s)
ON CONFLICT (target_id, source) DO UPDATE
SET cache_hits = excluded.cache_hits, cache_misses = excluded.cache_misses,
    cache_reported_at = excluded.cache_reported_at;

-- name: fresh_pools
SELECT source, pool_size, pool_in_use, pool_waiting, pool_reported_at
FROM pgwarden.app_metrics
WHERE target_id = %(target_id)s AND pool_reported_at > %(since)s
ORDER BY source;
