-- Target identity (0015): a target is the database it is, the server's system
-- identifier plus the database's oid, whatever address reaches it. The address
-- (host:port/dbname) becomes an attribute, updated when the database is seen
-- elsewhere; the name stays the one first registered.
ALTER TABLE pgwarden.target
    ADD COLUMN address text,
    ADD COLUMN database_oid bigint,
    ADD COLUMN database_name text;

UPDATE pgwarden.target
SET address = name,
    database_name = nullif(substring(name FROM ':[0-9,]+/(.*)$'), 'default database');

CREATE UNIQUE INDEX target_identity_idx
    ON pgwarden.target (system_identifier, database_oid)
    WHERE system_identifier IS NOT NULL AND database_oid IS NOT NULL;

-- Move every row of target "gone" to target "keep" and drop "gone". A row of "gone"
-- that would collide with one of "keep" under a unique index is dropped ("keep"
-- wins); of the collector's kept snapshot only the newer one stays.
CREATE FUNCTION pgwarden.merge_target(keep bigint, gone bigint) RETURNS void
LANGUAGE plpgsql AS $merge$
DECLARE
    t record;
    u record;
    newer bigint;
    same text;
BEGIN
    IF keep = gone THEN
        RETURN;
    END IF;
    SELECT s.target_id INTO newer FROM pgwarden.collect_state s
    WHERE s.target_id IN (keep, gone) ORDER BY s.ts DESC, s.target_id LIMIT 1;
    DELETE FROM pgwarden.collect_state s
    WHERE s.target_id IN (keep, gone) AND s.target_id <> newer;
    DELETE FROM pgwarden.collect_last l
    WHERE l.target_id IN (keep, gone) AND l.target_id <> newer;
    FOR t IN
        SELECT c.oid, c.relname
        FROM pg_catalog.pg_class c
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_catalog.pg_attribute a
          ON a.attrelid = c.oid AND a.attname = 'target_id' AND NOT a.attisdropped
        WHERE n.nspname = 'pgwarden' AND c.relkind IN ('r', 'p')
          AND NOT c.relispartition
        ORDER BY c.relname
    LOOP
        FOR u IN
            SELECT pg_catalog.pg_get_expr(i.indpred, i.indrelid) AS pred,
                   coalesce(array_agg(a.attname::text ORDER BY a.attnum)
                            FILTER (WHERE a.attname <> 'target_id'),
                            '{}') AS cols
            FROM pg_catalog.pg_index i
            JOIN pg_catalog.pg_attribute a
              ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
            WHERE i.indrelid = t.oid AND i.indisunique
            GROUP BY i.indexrelid, i.indpred, i.indrelid
            HAVING bool_or(a.attname = 'target_id')
        LOOP
            SELECT coalesce(string_agg(format(' AND k.%1$I = d.%1$I', c), ''), '')
            INTO same FROM unnest(u.cols) AS c;
            EXECUTE format(
                'DELETE FROM pgwarden.%1$I d WHERE d.target_id = $2 AND (%2$s) '
                'AND EXISTS (SELECT FROM pgwarden.%1$I k '
                'WHERE k.target_id = $1 AND (%2$s)%3$s)',
                t.relname, coalesce(u.pred, 'true'), same
            ) USING keep, gone;
        END LOOP;
        EXECUTE format('UPDATE pgwarden.%I SET target_id = $1 WHERE target_id = $2',
                       t.relname) USING keep, gone;
    END LOOP;
    DELETE FROM pgwarden.target WHERE id = gone;
END
$merge$;

-- Rows of one database (same system identifier and database name) made at
-- different addresses become the oldest of them.
DO $dedupe$
DECLARE
    dup record;
BEGIN
    FOR dup IN
        SELECT id, first_value(id) OVER same_database AS keep
        FROM pgwarden.target
        WHERE system_identifier IS NOT NULL AND database_name IS NOT NULL
        WINDOW same_database AS (PARTITION BY system_identifier, database_name
                                 ORDER BY first_seen, id)
    LOOP
        PERFORM pgwarden.merge_target(dup.keep, dup.id);
    END LOOP;
END
$dedupe$;
