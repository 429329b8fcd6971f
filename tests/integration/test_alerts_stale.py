"""An alert whose target nobody evaluates any more does not stay firing forever."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg

from pgwarden import pg
from pgwarden.alerts import Retry, evaluate_once, store
from pgwarden.config import load_settings
from pgwarden.repository import migrate

ALERT = """
INSERT INTO pgwarden.alert (target_id, fingerprint, rule, severity, state, summary,
                            description, runbook, group_key, started_at, fired_at,
                            last_seen_at)
SELECT id, 'fp', 'cache_hit_ratio', 'warning', 'firing', 's', 'd', 'rb', 'g',
       now() - %(age)s * interval '1 minute', now() - %(age)s * interval '1 minute',
       now() - %(age)s * interval '1 minute'
FROM pgwarden.target WHERE name = %(name)s
"""
TARGET = """
INSERT INTO pgwarden.target (name, first_seen, last_seen)
VALUES (%(name)s, now() - interval '1 day', now() - %(age)s * interval '1 minute')
"""


def test_alerts_of_a_target_no_longer_seen_are_resolved_as_stale(
    empty_dsn: str,
) -> None:
    with psycopg.connect(empty_dsn, autocommit=True) as conn:
        migrate(conn)
        for name, age in [("127.0.0.1:5001/gone", 120), ("127.0.0.1:5002/quiet", 10)]:
            conn.execute(TARGET, {"name": name, "age": age})
            conn.execute(ALERT, {"name": name, "age": age})
    settings = load_settings(
        overrides={"alerts": {"stale_after_minutes": 60,
                              "disabled_rules": ["collector_silent"]}}
    )  # fmt: skip
    with pg.connect(empty_dsn) as repo, pg.connect(empty_dsn) as target:
        done = evaluate_once(
            repo, "evaluated", settings, datetime.now(UTC), target_conn=target,
            channels=[], retry=Retry(0, 0),
        )  # fmt: skip
        alerts = store.list_alerts(repo, None, datetime(2000, 1, 1, tzinfo=UTC))
    by_target = {a.target: a for a in alerts}
    gone = by_target["127.0.0.1:5001/gone"]
    assert (gone.state, gone.resolved_by) == ("resolved", "stale")
    assert by_target["127.0.0.1:5002/quiet"].state == "firing"
    assert any("127.0.0.1:5001/gone resolved as stale" in n for n in done.notes)
