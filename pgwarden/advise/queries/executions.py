"""Read the slow query log's executions for N+1 detection (repository side)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from pgwarden import pg
from pgwarden.advise.gather import target_id
from pgwarden.advise.queries.sequence import Execution, execution
from pgwarden.advise.workload import Statement
from pgwarden.errors import ConnectionFailed, MissingCapability
from pgwarden.sqltext import normalise

logger = logging.getLogger(__name__)

GROUP = "n_plus_one"
#: the newest executions read; older ones are left out
MAX_EXECUTIONS = 50_000


def executions(
    repo: psycopg.Connection[Any],
    target_id: int,
    statements: Sequence[Statement],
    since: datetime,
    until: datetime,
    datname: str | None = None,
) -> list[Execution]:
    """The logged executions of ``[since, until)``, each tied to its statement."""
    params = {"target": target_id, "since": since, "until": until,
              "datname": datname, "limit": MAX_EXECUTIONS}  # fmt: skip
    try:
        with (
            pg.guarded("slow query log"),
            repo.cursor(row_factory=psycopg.rows.dict_row) as cur,
        ):
            rows = cur.execute(pg.query(GROUP, "executions"), params).fetchall()
    except MissingCapability as exc:
        logger.info("N+1 without the slow query log", extra={"reason": str(exc)})
        return []
    which = statement_index(statements)
    return [execution(row, statement_of(row, which)) for row in rows]


def statement_index(statements: Sequence[Statement]) -> dict[Any, int]:
    """The workload's statements by queryid and by fingerprint of their text."""
    out: dict[Any, int] = {}
    for s in statements:
        out.setdefault(("fingerprint", normalise(s.text).fingerprint), s.queryid)
        out[("queryid", s.queryid)] = s.queryid
    return out


def statement_of(row: dict[str, Any], index: dict[Any, int]) -> int | None:
    """The queryid of the workload statement a logged execution ran, if any."""
    if row["queryid"] is not None and ("queryid", row["queryid"]) in index:
        return index[("queryid", row["queryid"])]
    return index.get(("fingerprint", row["fingerprint"]))


def for_target(
    target: psycopg.Connection[Any],
    repository_dsn: str | None,
    name: str,
    statements: Sequence[Statement],
    days: float,
    now: datetime | None = None,
) -> list[Execution]:
    """The target's logged executions of the last ``days`` (none without a repo)."""
    if not repository_dsn:
        return []
    now = now or datetime.now(UTC)
    datname = pg.fetch_one(target, "SELECT current_database() AS d")
    try:
        with pg.connect(repository_dsn) as repo:
            found = target_id(repo, name)
            if found is None:
                return []
            return executions(repo, found, statements, now - timedelta(days=days),
                              now, datname["d"] if datname else None)  # fmt: skip
    except (ConnectionFailed, psycopg.Error) as exc:
        logger.info("N+1 without the slow query log", extra={"reason": str(exc)})
        return []
