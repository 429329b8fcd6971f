"""``pgwarden partitions advise`` on real tables: keys, DDL that runs, the plan."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest
import typer
from psycopg import sql
from pydantic import SecretStr
from typer.testing import CliRunner

from pgwarden.cli import partitions_cmd
from pgwarden.cli.runtime import Runtime
from pgwarden.config import Settings
from tests.integration.test_capacity_cli import collect

HOSTILE_SCHEMA = 'we"ird schema'
HOSTILE_TABLE = 'Audit "Log"; DROP TABLE x; -- ' + "é" * 15
HOSTILE_TIME = 'created "at"'


def cli(dsn: str) -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root(ctx: typer.Context) -> None:
        ctx.obj = Runtime(Settings(dsn=SecretStr(dsn)), None, False)

    app.add_typer(partitions_cmd.app, name="partitions")
    return app


def advise(dsn: str, *args: str) -> dict[str, Any]:
    argv = ["partitions", "advise", "--format", "json", *args]
    result = CliRunner().invoke(cli(dsn), argv)
    assert result.exit_code == 0, (result.output, result.exception)
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def run_steps(dsn: str, steps: list[dict[str, Any]]) -> None:
    """Execute every statement of a migration plan, in order, on the real server."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for step in steps:
            for statement in step["sql"]:
                if not statement.startswith("--"):
                    conn.execute(statement.encode())


def partitions_of(dsn: str, schema: str, table: str) -> tuple[str, int, int]:
    """relkind, partition count and rows of ``schema.table``."""
    with psycopg.connect(dsn) as conn:
        relid = conn.execute(
            "SELECT %s::regclass::oid",
            [sql.Identifier(schema, table).as_string(conn)],
        ).fetchone()
        assert relid is not None
        kind = conn.execute("SELECT relkind FROM pg_class WHERE oid = %s", relid)
        count = conn.execute(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = %s", relid
        )
        rows = conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, table))
        )
        return (
            (kind.fetchone() or [""])[0],
            (count.fetchone() or [0])[0],
            (rows.fetchone() or [0])[0],
        )


@pytest.fixture
def collected(demo_dsn: str) -> str:
    collect(demo_dsn)
    with psycopg.connect(demo_dsn, autocommit=True) as conn:
        conn.execute(  # an audit trail: appended to, never changed
            'INSERT INTO "AuditLog" ("tenantId", action, "entityType", "entityId") '
            "SELECT 1 + g % 12, 'view', 'Assessment', g FROM generate_series(1, 300) g"
        )
        conn.execute("SELECT pg_stat_force_next_flush()")
        conn.execute("ANALYZE")
    return demo_dsn


def test_reference_tables_get_range_and_hash(collected: str) -> None:
    data = advise(collected, "--min-rows", "5000")
    advised = {a["table"]: a for a in data["advised"]}
    assert set(advised) == {"AuditLog", "Answer"}, list(advised)
    audit = advised["AuditLog"]
    assert audit["access_pattern"] == "time series"
    assert (audit["key"]["strategy"], audit["key"]["column"]) == ("RANGE", "createdAt")
    assert audit["key"]["interval"] and audit["key"]["count"] >= 2
    assert audit["predicates"]["createdAt"] > 0.5
    assert '("id", "createdAt")' in audit["implications"][0]
    assert "DROP" in audit["retention"] or "drops" in audit["retention"]
    answer = advised["Answer"]
    assert answer["access_pattern"] == "tenant-scoped"
    assert (answer["key"]["strategy"], answer["key"]["column"]) == ("HASH", "tenantId")
    assert answer["key"]["tenants"] == 12
    fks = " ".join(answer["implications"])
    assert "Comment_answerId_fkey" in fks and "EvidenceFile_answerId_fkey" in fks
    assert set(answer["migration"]) == {"offline_batch_copy", "online"}
    locks = [s["lock"] for s in audit["migration"]["online"]]
    assert any("ACCESS EXCLUSIVE" in lock for lock in locks)
    wal = [s["note"] for s in audit["migration"]["offline_batch_copy"] if s["note"]]
    assert any("expected WAL" in note for note in wal)
    assert audit["pg_partman"] is None and data["pg_partman"] is None
    small = {a["table"]: a["reason"] for a in data["not_advised"]}
    assert "below partitioning.min_rows (5,000)" in small["Tenant"]
    online_range(collected, audit)
    online_hash(collected, answer)


def online_range(dsn: str, audit: dict[str, Any]) -> None:
    """The online plan runs as written; the last step refuses an undrained default."""
    steps = audit["migration"]["online"]
    before = partitions_of(dsn, "public", "AuditLog")
    run_steps(dsn, steps[:-1])
    kind, count, rows = partitions_of(dsn, "public", "AuditLog")
    assert kind == "p" and count >= 3 and rows == before[2]
    with psycopg.connect(dsn, autocommit=True) as conn:
        drained = conn.execute(
            'SELECT count(*) FROM "AuditLog_default" WHERE "createdAt" < '
            "(SELECT min(r) FROM (SELECT %s::timestamptz AS r) b)",
            [steps[-2]["sql"][-1].split("TO ('")[1].split("'")[0]],
        ).fetchone()
        assert drained == (0,)
    with pytest.raises(psycopg.errors.CheckViolation):
        run_steps(dsn, steps[-1:])


def online_hash(dsn: str, answer: dict[str, Any]) -> None:
    """HASH: a sync trigger, a back-fill, then the swap; writes meanwhile are kept."""
    steps = answer["migration"]["online"]
    run_steps(dsn, steps[:2])
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("UPDATE \"Answer\" SET value = 'changed' WHERE id = 1")
        conn.execute('DELETE FROM "EvidenceFile" WHERE "answerId" = 2')
        conn.execute('DELETE FROM "Comment" WHERE "answerId" = 2')
        conn.execute('DELETE FROM "Answer" WHERE id = 2')
    before = partitions_of(dsn, "public", "Answer")[2]
    run_steps(dsn, steps[2:])
    assert partitions_of(dsn, "public", "Answer") == ("p", 4, before)
    with psycopg.connect(dsn) as conn:
        row = conn.execute('SELECT value FROM "Answer" WHERE id = 1').fetchone()
        assert row == ("changed",)


def test_below_the_default_threshold_nothing_is_advised(demo_dsn: str) -> None:
    data = advise(demo_dsn)
    assert data["advised"] == [] and data["min_rows"] == 10_000_000
    reasons = [a["reason"] for a in data["not_advised"]]
    assert all(r.startswith("not advised: ") for r in reasons)
    assert all("below partitioning.min_rows (10,000,000)" in r for r in reasons)


def test_hostile_identifiers_are_quoted_in_runnable_ddl(empty_dsn: str) -> None:
    table = sql.Identifier(HOSTILE_SCHEMA, HOSTILE_TABLE)
    with psycopg.connect(empty_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(HOSTILE_SCHEMA)))
        conn.execute(
            sql.SQL(
                "CREATE TABLE {} (id bigint GENERATED BY DEFAULT AS IDENTITY "
                "PRIMARY KEY, {} timestamptz NOT NULL, note text)"
            ).format(table, sql.Identifier(HOSTILE_TIME))
        )
        conn.execute(
            sql.SQL(
                "INSERT INTO {} ({}) SELECT timestamptz '2026-01-01' + g * interval "
                "'1 hour' FROM generate_series(1, 3000) g"
            ).format(table, sql.Identifier(HOSTILE_TIME))
        )
        conn.execute(
            sql.SQL("CREATE INDEX ON {} ({})").format(
                table, sql.Identifier(HOSTILE_TIME)
            )
        )
        conn.execute("SELECT pg_stat_force_next_flush()")
        conn.execute(sql.SQL("ANALYZE {}").format(table))
    data = advise(empty_dsn, "--min-rows", "1000")
    assert "no collected history" in data["notes"][0]
    advice = data["advised"][0]
    assert advice["table"] == HOSTILE_TABLE and advice["key"]["column"] == HOSTILE_TIME
    assert all(len(n.encode()) <= 63 for n in names_in(advice["ddl"]))
    run_steps(empty_dsn, advice["migration"]["offline_batch_copy"])
    kind, count, rows = partitions_of(empty_dsn, HOSTILE_SCHEMA, HOSTILE_TABLE)
    assert kind == "p" and count >= 2 and rows == 3000
    with psycopg.connect(empty_dsn) as conn:
        assert conn.execute("SELECT to_regclass('x')").fetchone() == (None,)


def names_in(ddl: list[str]) -> list[str]:
    """The partition names created by ``ddl`` (unquoted)."""
    found = []
    for statement in ddl:
        if " PARTITION OF " in statement:
            quoted = statement.split(" PARTITION OF ")[0].split(".", 1)[1]
            found.append(quoted.strip('"').replace('""', '"'))
    return found
