-- Load runs and elasticity results kept in the repository (pgwarden.load.stored).

-- name: list
-- Newest first, without the per-second timeline.
SELECT id, kind, created_at, summary, data - 'timeline' AS data
FROM pgwarden.report
WHERE target_id = %(target_id)s AND kind = ANY(%(kinds)s)
ORDER BY created_at DESC, id DESC
LIMIT %(limit)s;

-- name: one
SELECT id, kind, created_at, summary, data
FROM pgwarden.report
WHERE id = %(id)s AND target_id = %(target_id)s AND kind = ANY(%(kinds)s);

-- name: insert
INSERT INTO pgwarden.report (target_id, kind, created_at, summary, data)
VALUES (%(target_id)s, %(kind)s, %(created_at)s, %(summary)s, %(data)s)
RETURNING id;

-- Shards of distributed load runs (pgwarden.load.distributed), table load_shard.

-- name: shard_clock
-- The repository's clock: the agreed start of a distributed run is on it.
SELECT extract(epoch FROM clock_timestamp())::float8 AS now_s;

-- name: shard_insert
INSERT INTO pgwarden.load_shard (run_id, shard, shards, target, spec, start_at,
                                 window_end)
VALUES (%(run_id)s, %(shard)s, %(shards)s, %(target)s, %(spec)s,
        to_timestamp(%(start_s)s), to_timestamp(%(window_end_s)s));

-- name: shard_job
UPDATE pgwarden.load_shard SET job_id = %(job_id)s
WHERE run_id = %(run_id)s AND shard = %(shard)s;

-- name: shard_claim
-- A worker takes a queued shard, once, before its window ends.
UPDATE pgwarden.load_shard
SET status = 'running', worker = %(worker)s, picked_at = clock_timestamp(),
    heartbeat_at = clock_timestamp()
WHERE run_id = %(run_id)s AND shard = %(shard)s AND status = 'queued'
  AND clock_timestamp() < window_end
RETURNING shards, target, spec, extract(epoch FROM start_at)::float8 AS start_s,
          extract(epoch FROM clock_timestamp())::float8 AS now_s;

-- name: shard_beat
UPDATE pgwarden.load_shard
SET heartbeat_at = clock_timestamp(),
    progress = coalesce(%(progress)s, progress),
    late_s = coalesce(%(late_s)s, late_s)
WHERE run_id = %(run_id)s AND shard = %(shard)s AND status = 'running'
RETURNING shard;

-- name: shard_finish
-- The shard's result, or the reason it failed; a shard marked lost stays lost.
UPDATE pgwarden.load_shard
SET status = %(status)s, result = %(result)s, reason = %(reason)s,
    late_s = coalesce(%(late_s)s, late_s), heartbeat_at = clock_timestamp()
WHERE run_id = %(run_id)s AND shard = %(shard)s AND status = 'running';

-- name: shard_states
-- What the coordinator follows; the result only once the shard is done.
SELECT shard, status, worker, job_id, late_s, progress, reason,
       extract(epoch FROM clock_timestamp() - heartbeat_at)::float8 AS silent_s,
       extract(epoch FROM clock_timestamp())::float8 AS now_s
FROM pgwarden.load_shard
WHERE run_id = %(run_id)s
ORDER BY shard;

-- name: shard_results
SELECT shard, result FROM pgwarden.load_shard
WHERE run_id = %(run_id)s AND status = 'done'
ORDER BY shard;

-- name: shard_lose
-- The coordinator gives up on a shard still queued or silent (the shard's worker,
-- if it still runs, sees it at its next heartbeat and stops).
UPDATE pgwarden.load_shard SET status = 'lost', reason = %(reason)s
WHERE run_id = %(run_id)s AND shard = %(shard)s
  AND status IN ('queued', 'running')
RETURNING shard;

-- name: shard_forget
-- The merged run's rows, and rows of runs whose coordinator never came back.
DELETE FROM pgwarden.load_shard
WHERE run_id = %(run_id)s OR created_at < now() - interval '7 days';
