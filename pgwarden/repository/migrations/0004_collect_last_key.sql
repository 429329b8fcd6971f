-- The collector keeps its previous counters in memory between cycles and rewrites
-- only the entries that moved, so each entry of collect_last is addressed by its key.
DROP INDEX pgwarden.collect_last_part;
ALTER TABLE pgwarden.collect_last ADD PRIMARY KEY (target_id, part, key);
