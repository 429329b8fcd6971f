-- Reads of the dashboard's fleet (pgwarden/web/fleet.py): every target the
-- repository knows, registered or only seen by a command, and its last collection.

-- name: members
SELECT t.id, t.name, t.address,
       (SELECT max(c.ts) FROM pgwarden.collect_cycle c
        WHERE c.target_id = t.id) AS last_collected_at
FROM pgwarden.target t
ORDER BY t.name;
