"""Bad input at the command line and in settings: one line on stderr and exit 2,
never a traceback; and same-named tables in two schemas are two tables.

Run against a real PostgreSQL, so every command gets as far as its input allows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from pgwarden import pg
from pgwarden.collect import Collector
from pgwarden.repository import migrate
from tests.cli_helpers import pgwarden


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def _usage_error(result: Any) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr)
    return _one_error_line(result.stderr)


def test_a_settings_file_that_is_not_utf8(tmp_path: Path, empty_dsn: str) -> None:
    (tmp_path / "pgwarden.toml").write_bytes(b'timezone = "Europe/Z\xfcrich"\n')
    found = pgwarden("--dsn", empty_dsn, "doctor", cwd=tmp_path)
    assert "pgwarden.toml: not UTF-8" in _usage_error(found)
    given = tmp_path / "latin1.toml"
    given.write_bytes(b"# r\xe9glages\n[alerts]\n")
    named = pgwarden("--config", str(given), "--dsn", empty_dsn, "doctor")
    assert f"{given}: not UTF-8" in _usage_error(named)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PGWARDEN_ALERTS__CHANNELS", '[{"kind": "slack", "url": "https://h/T0k3n"'),
        ("PGWARDEN_ALERTS", "{T0k3n"),
        ("PGWARDEN_MAINTENANCE__HOT_TABLES", "User,T0k3n"),
        ("PGWARDEN_ALERTS__FOR_MINUTES", "slow_query=T0k3n"),
    ],
)
def test_invalid_json_in_an_environment_variable(
    empty_dsn: str, name: str, value: str
) -> None:
    line = _usage_error(pgwarden("--dsn", empty_dsn, "doctor", **{name: value}))
    assert line.startswith(f"error: {name}: not valid JSON"), line
    assert "T0k3n" not in line


@pytest.mark.parametrize(
    "args",
    [
        ("slow-queries", "--since", "999999999d"),
        ("slow-queries", "--since", "1e400d"),
        ("slow-queries", "--since", "nand"),
        ("slow-queries", "--since", "[/red]"),
        ("maintain", "history", "--since", "999999999d"),
        ("alerts", "list", "--since", "-1d"),
        ("alerts", "stats", "--since", "99999999999999999999w"),
        ("alerts", "silence", "--comment", "c", "--for", "0m"),
        ("ccb", "dora", "--since", "12 parsecs"),
        ("collect", "--once", "--duration", "1e300"),
        ("collect", "--once", "--interval", "99999999999999999999"),
        ("worker", "--once", "--duration", "inf"),
    ],
)
def test_durations_out_of_range_or_garbage(
    empty_dsn: str, args: tuple[str, ...]
) -> None:
    with psycopg.connect(empty_dsn, autocommit=True) as conn:
        migrate(conn)
    line = _usage_error(pgwarden("--dsn", empty_dsn, *args))
    assert line.startswith("error: --"), line


@pytest.mark.parametrize("port", ["70000", "0", "-1", "99999999999999999999"])
def test_serve_refuses_a_port_it_cannot_listen_on(empty_dsn: str, port: str) -> None:
    found = pgwarden("--dsn", empty_dsn, "serve", f"--port={port}", timeout=60)
    line = _usage_error(found)
    assert f"--port: {port} is not a port" in line


def test_serve_refuses_a_configured_port_of_zero(empty_dsn: str) -> None:
    found = pgwarden(
        "--dsn", empty_dsn, "serve", timeout=60, PGWARDEN_DASHBOARD__PORT="0"
    )
    assert "dashboard.port: 0 is not a port" in _usage_error(found)


def test_settings_out_of_range_are_refused(empty_dsn: str) -> None:
    for name, value, expected in [
        ("PGWARDEN_MAINTENANCE__VACUUM_SCHEDULE", "99999999999d", "at most 100 years"),
        ("PGWARDEN_COLLECT__INTERVAL_SECONDS", "99999999999999", "at most 100 years"),
        ("PGWARDEN_STATEMENT_TIMEOUT_MS", "99999999999", "PostgreSQL's limit"),
        ("PGWARDEN_ALERTS__CACHE_HIT_RATIO_PCT", "nan", "finite number"),
    ]:
        line = _usage_error(pgwarden("--dsn", empty_dsn, "doctor", **{name: value}))
        assert line.startswith(f"error: {name}: ") and expected in line, line


# -- the same table name in two schemas -----------------------------------------------


def _two_schemas(dsn: str) -> None:
    """shop.events: an append-only time series; crm.events: tenant-scoped, updated."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for schema in ("shop", "crm"):
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
            conn.execute(
                sql.SQL(
                    "CREATE TABLE {}.events (id bigint PRIMARY KEY, tenant_id int NOT "
                    "NULL, created_at timestamptz NOT NULL, note text)"
                ).format(sql.Identifier(schema))
            )
        conn.execute(
            "INSERT INTO shop.events SELECT g, 1, timestamptz '2026-01-01' + g * "
            "interval '1 hour', 'x' FROM generate_series(1, 3000) g"
        )
        conn.execute(
            "INSERT INTO crm.events SELECT g, 1 + g % 12, timestamptz '2026-01-01' + "
            "(g * 7919 % 3000) * interval '1 hour', 'x' FROM generate_series(1, 3000) g"
        )
        conn.execute("UPDATE crm.events SET note = 'y' WHERE id % 2 = 0")
        conn.execute("SELECT pg_stat_force_next_flush()")
        conn.execute("ANALYZE")


def _workload(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for n in range(20):
            conn.execute("SELECT count(*) FROM crm.events WHERE tenant_id = %s", [n])
            conn.execute(
                "SELECT note FROM shop.events e WHERE e.created_at > now() - "
                "make_interval(days => %s)",
                [n],
            )
        conn.execute("SELECT pg_stat_force_next_flush()")


def test_same_table_names_in_two_schemas_are_advised_apart(empty_dsn: str) -> None:
    _two_schemas(empty_dsn)
    with pg.connect(empty_dsn, autocommit=False, statement_timeout_ms=None) as conn:
        migrate(conn)
    with Collector(empty_dsn, empty_dsn, pg.describe(empty_dsn)) as collector:
        collector.cycle()
        _workload(empty_dsn)
        collector.cycle()
    result = pgwarden(
        "--dsn", empty_dsn, "partitions", "advise", "--min-rows", "1000", "--format",
        "json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    advised = {(a["schema"], a["table"]): a for a in data["advised"]}
    assert set(advised) == {("shop", "events"), ("crm", "events")}, advised.keys()
    shop, crm = advised["shop", "events"], advised["crm", "events"]
    assert shop["oid"] != crm["oid"]
    assert (shop["key"]["strategy"], shop["key"]["column"]) == ("RANGE", "created_at")
    assert crm["access_pattern"] == "tenant-scoped"
    assert crm["key"]["column"] == "tenant_id"
    # each table's own statements: neither sees the other's filters
    assert (
        crm["predicates"]["tenant_id"] > 0.5 and "created_at" not in crm["predicates"]
    )
    assert set(shop["predicates"]) == {"created_at"}
    assert all('"crm"' not in line for line in shop["ddl"])
    assert all('"shop"' not in line for line in crm["ddl"])
    assert data["not_advised"] == []
