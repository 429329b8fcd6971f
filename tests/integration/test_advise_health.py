"""Index health against a real PostgreSQL: bloat, unused, duplicates, structure."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from pgwarden import pg
from pgwarden.advise.health.assess import index_health
from pgwarden.advise.health.report import run_scheduled
from pgwarden.collect import Collector
from pgwarden.config import Settings
from pgwarden.repository import migrate
from tests.cli_helpers import pgwarden

SCHEMA = 'Odd "Schema"'
S = '"Odd ""Schema"""'
HOSTILE = f'''
CREATE SCHEMA {S};
CREATE TABLE {S}."Tenant" (id int PRIMARY KEY);
INSERT INTO {S}."Tenant" SELECT g FROM generate_series(1, 10) g;
CREATE TABLE {S}."Answer Log" (
    "answerId" int NOT NULL,
    "tenantId" int REFERENCES {S}."Tenant" (id),
    note text,
    "deletedAt" timestamptz,
    CONSTRAINT "Answer Log key" UNIQUE ("answerId")
);
INSERT INTO {S}."Answer Log"
SELECT g, 1 + g % 10, 'note ' || (g % 50),
       CASE WHEN g % 20 = 0 THEN now() END
FROM generate_series(1, 3000) g;
CREATE INDEX "dup ""A""" ON {S}."Answer Log" ("answerId");
CREATE INDEX "note idx" ON {S}."Answer Log" (note);
CREATE INDEX "note, deleted" ON {S}."Answer Log" (note, "deletedAt");
CREATE INDEX "Deleted At" ON {S}."Answer Log" ("deletedAt");
ANALYZE;
'''


def settings(**index_health: Any) -> Settings:
    values = {"bloat_min_bytes": 0, **index_health}
    return Settings(index_health=values)  # type: ignore[arg-type]


def run_health(dsn: str, repo: bool = False, **kw: Any) -> list[dict[str, Any]]:
    with pg.connect(dsn) as target:
        repo_conn = pg.connect(dsn) if repo else None
        try:
            result = index_health(target, repo_conn, pg.describe(dsn), settings(**kw),
                                  datetime.now(UTC))  # fmt: skip
        finally:
            if repo_conn is not None:
                repo_conn.close()
    return [f.as_dict() for f in result.findings]


def by_kind(findings: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [f for f in findings if f["kind"] == kind]


@pytest.fixture
def hostile(empty_dsn: str) -> str:
    with psycopg.connect(empty_dsn, autocommit=True) as conn:
        conn.execute(HOSTILE)
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(
                'CREATE UNIQUE INDEX CONCURRENTLY "uniq note" '
                f'ON {S}."Answer Log" (note)'
            )
    return empty_dsn


def test_bloated_index_found_with_both_numbers_fresh_one_not(
    pg_server: Any, empty_dsn: str
) -> None:
    if not pg_server.has_extension("pgstattuple"):
        pytest.skip("pgstattuple is not available")
    with psycopg.connect(empty_dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION pgstattuple")
        for name in ("Fresh One", "Bloated One"):
            ident = psycopg.sql.Identifier(name)
            conn.execute(psycopg.sql.SQL(
                "CREATE TABLE {} (id int PRIMARY KEY, v int NOT NULL, pad text); "
                "INSERT INTO {} SELECT g, g * 7 % 1000, md5(g::text) "
                "FROM generate_series(1, 60000) g").format(ident, ident))  # fmt: skip
        bloated = psycopg.sql.Identifier("Bloated One")
        delete = psycopg.sql.SQL("DELETE FROM {} WHERE id % 10 < 6")
        conn.execute(delete.format(bloated))
        conn.execute("VACUUM ANALYZE")
    found = by_kind(run_health(empty_dsn), "bloat")
    flagged = {(f["table"], f["index"]) for f in found}
    assert ("Bloated One", "Bloated One_pkey") in flagged, found
    assert ("Bloated One", None) in flagged
    assert not [f for f in found if f["table"] == "Fresh One"], found
    index = next(f for f in found if f["index"] == "Bloated One_pkey")
    evidence = index["evidence"]
    assert evidence["measured_by"] == "pgstatindex"
    assert 45 < evidence["estimated_pct"] < 75 and 45 < evidence["measured_pct"] < 75
    assert index["ddl"] == 'REINDEX INDEX CONCURRENTLY "public"."Bloated One_pkey";'
    with psycopg.connect(empty_dsn, autocommit=True) as conn:
        conn.execute(index["ddl"])
    after = by_kind(run_health(empty_dsn), "bloat")
    assert not [f for f in after if f["index"] == "Bloated One_pkey"]


def test_structure_findings_and_their_ddl_runs(hostile: str) -> None:
    found = run_health(hostile)
    assert found[0]["severity"] == "critical"  # most severe first
    dup = by_kind(found, "duplicate")
    assert [(f["index"], f["evidence"]["duplicate_of"]) for f in dup] == [
        ('dup "A"', "Answer Log key")
    ]
    red = by_kind(found, "redundant")
    assert [(f["index"], f["evidence"]["covered_by"]) for f in red] == [
        ("note idx", "note, deleted")
    ]
    (invalid,) = by_kind(found, "invalid")
    assert invalid["index"] == "uniq note" and invalid["severity"] == "critical"
    (fk,) = by_kind(found, "fk_without_index")
    assert fk["table"] == "Answer Log" and fk["evidence"]["columns"] == ['"tenantId"']
    no_pk = {f["table"] for f in by_kind(found, "no_primary_key")}
    assert no_pk == {"Answer Log"}
    (null,) = by_kind(found, "mostly_null")
    assert null["index"] == "Deleted At" and null["evidence"]["null_frac"] > 0.9
    with psycopg.connect(hostile, autocommit=True) as conn:
        for f in [*dup, *red, invalid, fk, null]:
            for statement in f["ddl"].splitlines():
                conn.execute(statement)
    after = run_health(hostile)
    kinds = {f["kind"] for f in after}
    assert not kinds & {"duplicate", "redundant", "invalid", "fk_without_index",
                        "mostly_null"}, after  # fmt: skip
    with psycopg.connect(hostile) as conn:
        query = "SELECT indexname FROM pg_indexes WHERE schemaname = %s"
        names = {r[0] for r in conn.execute(query, [SCHEMA])}
    assert "Answer Log key" in names and 'dup "A"' not in names
    assert any("tenantId" in n for n in names) and any("notnull" in n for n in names)


def _use(dsn: str, value: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET enable_seqscan = off")
        conn.execute("SELECT * FROM t WHERE used = %s", [value]).fetchall()
        conn.execute("SELECT pg_stat_force_next_flush()")


def test_unused_from_history_survives_a_stats_reset(empty_dsn: str) -> None:
    with pg.connect(empty_dsn, autocommit=False, statement_timeout_ms=None) as conn:
        migrate(conn)
    with psycopg.connect(empty_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY, used int, idle int)")
        conn.execute("INSERT INTO t SELECT g, g, g FROM generate_series(1, 500) g")
        conn.execute("CREATE INDEX t_used ON t (used)")
        conn.execute("CREATE INDEX t_idle ON t (idle)")
        conn.execute("ANALYZE t")
    with Collector(empty_dsn, empty_dsn, pg.describe(empty_dsn)) as collector:
        collector.cycle()
        _use(empty_dsn, 7)
        with psycopg.connect(empty_dsn, autocommit=True) as conn:
            for _ in range(3):
                conn.execute("SELECT count(*) FROM t WHERE used + idle > 0")
            conn.execute("SELECT pg_stat_force_next_flush()")
        collector.cycle()
        with psycopg.connect(empty_dsn, autocommit=True) as conn:
            conn.execute("SELECT pg_stat_reset()")
            conn.execute("SELECT pg_stat_force_next_flush()")
        reset = collector.cycle()
        collector.cycle()
    assert reset.gaps, reset.summary()
    with psycopg.connect(empty_dsn) as conn:
        live = conn.execute(
            "SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = 't_used'"
        ).fetchone()
    assert live == (0,)  # the live counter alone would call it unused
    found = run_health(
        empty_dsn, repo=True, seq_scan_min_scans=3, seq_scan_min_rows=400
    )
    unused = {f["index"]: f for f in by_kind(found, "unused")}
    (seq,) = by_kind(found, "seq_scan")
    assert seq["table"] == "t" and seq["evidence"]["source"] == "history"
    assert seq["evidence"]["seq_scan"] >= 3
    assert set(unused) == {"t_idle"}, unused
    idle = unused["t_idle"]
    assert idle["provisional"] and "history covers only" in idle["recommendation"]
    assert "replica" in idle["recommendation"]
    assert idle["ddl"] == 'DROP INDEX CONCURRENTLY IF EXISTS "public"."t_idle";'


def test_cli_fail_on_and_json(hostile: str) -> None:
    done = pgwarden("--dsn", hostile, "indexes", "health", "--format", "json",
                    "--fail-on", "critical")  # fmt: skip
    assert done.returncode == 1, done.stderr
    findings = json.loads(done.stdout)
    assert {"kind", "table", "index", "size_bytes", "severity", "evidence",
            "recommendation", "ddl"} <= set(findings[0])  # fmt: skip
    assert findings[0]["severity"] == "critical"
    bad = pgwarden("--dsn", hostile, "indexes", "health", "--fail-on", "bogus")
    assert bad.returncode == 2 and "--fail-on" in bad.stderr


def test_report_stored_listed_and_trend(hostile: str, tmp_path: Path) -> None:
    with pg.connect(hostile, autocommit=False, statement_timeout_ms=None) as conn:
        migrate(conn)
    first = run_scheduled(settings(report_dir=tmp_path), hostile, hostile)
    assert "findings" in first and str(tmp_path) in first
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".html", ".json", ".md"]
    md = pgwarden("--dsn", hostile, "report", "index-health", "--store")
    assert md.returncode == 0, md.stderr
    assert "## Findings by severity" in md.stdout and "Previous report" in md.stdout
    assert "DROP INDEX CONCURRENTLY" in md.stdout
    listed = pgwarden("--dsn", hostile, "report", "list", "--format", "json")
    rows = json.loads(listed.stdout)
    assert [r["kind"] for r in rows] == ["index-health", "index-health"]
    html = next(p for p in tmp_path.iterdir() if p.suffix == ".html").read_text()
    assert "<h2>DDL to act on</h2>" in html and "Answer Log" in html
