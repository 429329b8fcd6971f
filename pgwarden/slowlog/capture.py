"""One round of slow query capture: new server log lines and an activity sample."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from pgwarden.config import SlowQuerySettings
from pgwarden.slowlog.activity import sample_activity
from pgwarden.slowlog.serverlog import ingest_server_log
from pgwarden.slowlog.severity import Thresholds
from pgwarden.slowlog.store import ensure_target


@dataclass(frozen=True)
class Capture:
    from_log: int
    from_activity: int


def capture(
    target_conn: psycopg.Connection[Any],
    repo_conn: psycopg.Connection[Any],
    target_name: str,
    settings: SlowQuerySettings,
    log_dir: Path | None = None,
) -> Capture:
    """Store the slow statements seen since the last round (log, then activity)."""
    thresholds = Thresholds.from_settings(settings)
    target_id = ensure_target(repo_conn, target_name)
    logged = 0
    if log_dir is not None:
        logged = ingest_server_log(
            repo_conn, target_id, log_dir, thresholds=thresholds
        ).stored
    sampled = sample_activity(
        target_conn, repo_conn, target_id, thresholds.warning_ms, thresholds=thresholds
    )
    return Capture(logged, sampled)
