"""``pgwarden.maintenance_runs``: one row per operation, running until finished."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any

import psycopg

from pgwarden import pg
from pgwarden.errors import MissingCapability
from pgwarden.repository import current_version

Conn = psycopg.Connection[Any]
GROUP = "maintain_repository"


@dataclass(frozen=True)
class Run:
    id: int
    target_id: int
    schema_name: str
    table_name: str
    table_oid: int | None
    index_name: str | None
    operation: str
    trigger: str
    status: str
    reason: str | None
    error: str | None
    started_at: datetime
    finished_at: datetime | None
    duration_ms: float | None
    attempts: int
    live_rows_before: int | None
    dead_rows_before: int | None
    size_before: int | None
    live_rows_after: int | None
    dead_rows_after: int | None
    size_after: int | None
    backend_pid: int | None
    worker: str | None
    heartbeat_at: datetime | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Run:
        return cls(**{f.name: row[f.name] for f in fields(cls)})

    def describe(self) -> str:
        name = f"{self.schema_name}.{self.table_name}"
        what = f"{name} index {self.index_name}" if self.index_name else name
        return f"{self.operation} {what}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _q(name: str) -> str:
    return pg.query(GROUP, name)


def require_schema(repo: Conn) -> None:
    if current_version(repo) is None:
        raise MissingCapability(
            "the pgwarden repository schema is not installed: run pgwarden init"
        )


def target_id(repo: Conn, name: str, create: bool = True) -> int | None:
    row = pg.fetch_one(repo, _q("target_id"), [name])
    if row is None and create:
        row = pg.fetch_one(repo, _q("add_target"), [name])
    return None if row is None else int(row["id"])


def insert(repo: Conn, values: dict[str, Any]) -> int:
    row = repo.execute(_q("insert_run"), values).fetchone()
    assert row is not None
    return int(row[0])


def finish(repo: Conn, values: dict[str, Any]) -> None:
    repo.execute(_q("finish_run"), values)


def heartbeat(repo: Conn, run_id: int) -> None:
    repo.execute(_q("heartbeat"), [run_id])


def running(repo: Conn, target: int) -> list[Run]:
    return [Run.from_row(r) for r in pg.fetch_all(repo, _q("running"), [target])]


def mark_failed(repo: Conn, run_id: int, reason: str) -> bool:
    cur = repo.execute(_q("mark_failed"), {"id": run_id, "reason": reason})
    return cur.rowcount == 1


def last_ok(repo: Conn, target: int) -> dict[tuple[str, str, str, str], datetime]:
    rows = pg.fetch_all(repo, _q("last_ok"), [target])
    return {
        (r["schema_name"], r["table_name"], r["index_name"], r["operation"]):
            r["finished_at"]
        for r in rows
    }  # fmt: skip


def history(repo: Conn, target: int, since: datetime) -> list[Run]:
    rows = pg.fetch_all(repo, _q("history"), [target, since])
    return [Run.from_row(r) for r in rows]


def active_runs(repository_conn: Conn, target: str) -> list[Run]:
    """Maintenance runs of ``target`` (``host:port/dbname``) recorded as running.

    For alert muting: sessions blocked behind, or long transactions of, a running
    maintenance operation are caused by it. Runs of workers that died are marked
    failed by the next maintenance run, so they drop out of this list then.
    """
    found = target_id(repository_conn, target, create=False)
    return [] if found is None else running(repository_conn, found)
