"""``pgwarden capacity``: real history from the collector plus older synthetic days."""

from __future__ import annotations

import json
import math
import re
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import typer
from openpyxl import load_workbook  # type: ignore[import-untyped, unused-ignore]
from psycopg import sql
from psycopg.conninfo import make_conninfo
from pydantic import SecretStr
from typer.testing import CliRunner

from pgwarden import pg
from pgwarden.cli import capacity_cmd
from pgwarden.cli import main as cli_main
from pgwarden.cli.runtime import Runtime
from pgwarden.collect import Collector
from pgwarden.collect.kinds import DATABASE, TABLE
from pgwarden.collect.pack import pack
from pgwarden.collect.store import save_samples
from pgwarden.config import Settings
from pgwarden.plan import xlsx
from pgwarden.repository import migrate
from tests.conftest import TEMPLATE_DEMO, TestServer

DAYS = 20
DB_GROWTH = 50 * 1024
AUDIT_GROWTH = 20 * 1024
AUDIT_ROWS = 100


def workload(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for n in range(20):
            conn.execute(
                'SELECT count(*) FROM "AuditLog" WHERE "createdAt" > '
                "now() - make_interval(days => %s)",
                [n],
            )
            conn.execute(
                'SELECT id FROM "Answer" a WHERE a."tenantId" = %s AND a.status = %s',
                [n % 12 + 1, "DRAFT"],
            )
        conn.execute("SELECT pg_stat_force_next_flush()")


def collect(dsn: str, cycles: int = 2, demo: bool = True) -> int:
    """Install the repository and run the real collector ``cycles`` times."""
    with pg.connect(dsn, autocommit=False, statement_timeout_ms=None) as conn:
        migrate(conn)
    with Collector(dsn, dsn, pg.describe(dsn)) as collector:
        result = collector.cycle()
        for _ in range(cycles - 1):
            if demo:
                workload(dsn)
            result = collector.cycle()
    return result.target_id


def add_history(dsn: str, target_id: int, days: int = DAYS) -> None:
    """Older days before the collected ones, written through the collector's store.

    The database grows ``DB_GROWTH`` and "AuditLog" ``AUDIT_GROWTH`` bytes and
    ``AUDIT_ROWS`` rows a day; every other table keeps its size (reference data).
    """
    now = datetime.now(UTC)
    with pg.connect(dsn, statement_timeout_ms=None) as repo:
        db = pg.fetch_one(
            repo, "SELECT * FROM pgwarden.database_current ORDER BY ts DESC LIMIT 1"
        )
        tables = pg.fetch_all(
            repo,
            "SELECT DISTINCT ON (c.relid) c.*, r.rel_name FROM pgwarden.table_current c"
            " JOIN pgwarden.relation r ON r.target_id = c.target_id AND r.kind = "
            "'table' AND r.relid = c.relid ORDER BY c.relid, c.ts DESC",
        )
        assert db is not None and tables
        for day in range(days, 0, -1):
            ts = (now - timedelta(days=day)).replace(minute=0, second=0, microsecond=0)
            values = {n: db[n] for n in DATABASE.value_names}
            values["size_bytes"] = db["size_bytes"] - day * DB_GROWTH
            save_samples(repo, DATABASE, target_id, ts, 60.0, {(db["datid"],): values})
            rows = {}
            for t in tables:
                v = {n: t[n] for n in TABLE.value_names}
                v.update(n_tup_ins=0, n_tup_upd=0, n_tup_del=0)
                if t["rel_name"] == "AuditLog":
                    v["total_size_bytes"] = t["total_size_bytes"] - day * AUDIT_GROWTH
                    v["n_live_tup"] = t["n_live_tup"] - day * AUDIT_ROWS
                    v["n_tup_ins"] = AUDIT_ROWS
                rows[(t["relid"],)] = v
            save_samples(repo, TABLE, target_id, ts, 60.0, rows)
        pack(repo, target_id, now)


def cli(dsn: str, **settings: Any) -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root(ctx: typer.Context) -> None:
        ctx.obj = Runtime(Settings(dsn=SecretStr(dsn), **settings), None, False)

    app.add_typer(capacity_cmd.app, name="capacity")
    return app


def run(dsn: str, *args: str, **settings: Any) -> dict[str, Any]:
    result = CliRunner().invoke(cli(dsn, **settings), ["capacity", *args])
    assert result.exit_code == 0, (result.output, result.exception)
    data: dict[str, Any] = json.loads(result.stdout)
    return data


@pytest.fixture(scope="module")
def history_dsn(pg_server: TestServer) -> Iterator[str]:
    """One reference database with collected and synthetic history (read only)."""
    dbname = pg_server.clone(TEMPLATE_DEMO)
    dsn = pg_server.dsn(dbname)
    add_history(dsn, collect(dsn))
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_buffercache")
        conn.execute('SELECT count(*) FROM "AuditLog"')
        conn.execute('SELECT count(*) FROM "AuditLog"')
    yield dsn
    pg_server.drop(dbname)


def test_baseline_regresses_over_the_daily_history(history_dsn: str) -> None:
    data = run(history_dsn, "baseline", "--format", "json")
    growth = data["database"]["growth"]
    assert growth["method"] == "regression", growth
    assert growth["span_days"] >= DAYS - 1
    assert growth["r2"] > 0.9
    assert growth["per_day"] == pytest.approx(DB_GROWTH, rel=0.1)
    audit = next(t for t in data["tables"] if t["table"] == "AuditLog")
    assert audit["size_growth"]["per_day"] == pytest.approx(AUDIT_GROWTH, rel=0.1)
    assert audit["row_growth"]["per_day"] == pytest.approx(AUDIT_ROWS, rel=0.1)
    assert audit["scales_with"] == "tenant"
    framework = next(t for t in data["tables"] if t["table"] == "Framework")
    assert framework["scales_with"] is None
    assert framework["size_growth"]["per_day"] == pytest.approx(0, abs=1)
    assert data["peak_qps"] > 0 and data["mean_statement_ms"] > 0
    assert 0 < data["connections"]["peak_utilisation"] < 1
    assert data["memory"]["shared_buffers_bytes"] > 0
    assert data["storage"]["index_bytes"] > 0 and data["storage"]["index_overhead"]
    assert data["users"] and data["tenants"] == 12
    assert not any(t["schema"].startswith("pgwarden") for t in data["tables"])


def test_working_set_from_pg_buffercache(history_dsn: str) -> None:
    memory = run(history_dsn, "baseline", "--format", "json")["memory"]
    assert memory["working_set_bytes"] and memory["working_set_bytes"] > 0
    assert memory["buffers_used_bytes"] >= memory["working_set_bytes"]


def demo_growth(dsn: str, days: int = 28) -> tuple[float, float, float]:
    """Bytes/day the demo data really gained over the last complete UTC days.

    Every table with a "createdAt" column: its rows per day times its bytes per row
    now; returned as (lowest day, mean, highest day) of the database's total.
    """
    until = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    since = until - timedelta(days=days)
    totals = dict.fromkeys(range(days), 0.0)
    with psycopg.connect(dsn) as conn:
        tables = conn.execute(
            "SELECT c.relname, pg_total_relation_size(c.oid)::float8"
            " / greatest(c.reltuples, s.n_live_tup, 1)"
            " FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid"
            " AND a.attname = 'createdAt'"
            " LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid"
            " WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace"
        ).fetchall()
        for name, per_row in tables:
            query = sql.SQL(
                'SELECT floor(extract(epoch FROM "createdAt" - %s) / 86400)::int,'
                ' count(*) FROM {} WHERE "createdAt" >= %s AND "createdAt" < %s'
                " GROUP BY 1"
            ).format(sql.Identifier(name))
            for day, n in conn.execute(query, [since, since, until]):
                totals[day] += n * per_row
    values = list(totals.values())
    return min(values), sum(values) / days, max(values)


def test_fresh_demo_projects_from_creation_timestamps(demo_dsn: str) -> None:
    """Minutes of history: growth comes from the rows' "createdAt", and says so."""
    collect(demo_dsn, cycles=3)
    data = run(demo_dsn, "project", "--months", "6,12", "--format", "json")
    growth = data["growth"]
    assert growth["method"] == "creation-timestamps", growth
    assert growth["span_days"] == 28 and growth["r2"] is None
    assert "creation timestamps of" in growth["note"]
    assert "pgwarden's history spans" in growth["note"]
    lowest, mean, highest = demo_growth(demo_dsn)
    assert 0 < lowest <= growth["per_day"] <= highest
    assert growth["low"] <= growth["per_day"] <= growth["high"] <= highest
    # the largest tables only: all of the demo's growth or a little less
    assert 0.8 * mean <= growth["per_day"] <= mean * 1.001
    base = run(demo_dsn, "baseline", "--format", "json")
    six = data["horizons"][0]
    assert six["database_bytes"] == pytest.approx(
        base["database"]["size_bytes"] + growth["per_day"] * 6 * 30.44, rel=1e-3
    )
    assert (
        six["database_bytes_low"] <= six["database_bytes"] <= six["database_bytes_high"]
    )
    for t in data["thresholds"]:
        assert t["crossed"] is (t["current"] >= t["limit"]), t
    audit = next(t for t in base["tables"] if t["table"] == "AuditLog")
    assert audit["size_growth"]["method"] == "creation-timestamps"
    assert "AuditLog.createdAt" in audit["size_growth"]["note"]
    md = CliRunner().invoke(cli(demo_dsn), ["capacity", "project"])
    assert "method **creation-timestamps**" in md.stdout
    assert "weekly averages" in md.stdout


def test_spreadsheet_of_a_fresh_demo_states_method_and_range(
    demo_dsn: str, tmp_path: Path
) -> None:
    collect(demo_dsn, cycles=2)
    path = tmp_path / "capacity.xlsx"
    data = run(demo_dsn, "project", "--xlsx", str(path), "--format", "json")
    wb = load_workbook(path)
    inputs = wb["Inputs"]
    assert inputs[xlsx.METHOD_CELL].value == "creation-timestamps"
    assert inputs[xlsx.EVIDENCE_CELL].value == data["growth"]["note"]
    low = inputs[xlsx.CELLS["database_growth_low_per_day"]].value
    high = inputs[xlsx.CELLS["database_growth_high_per_day"]].value
    growth = inputs[xlsx.CELLS["database_growth_per_day"]].value
    assert (low, high) == (
        pytest.approx(data["growth"]["low"]),
        pytest.approx(data["growth"]["high"]),
    )
    assert low < growth < high
    measured = {
        r[0].value: r[1].value for r in wb["Baseline"].iter_rows() if r[0].value
    }
    assert measured["Growth method"] == "creation-timestamps"
    assert measured["Days of evidence"] == 28
    database = wb["Database"]
    header = [c.value for c in database[1]]
    col = header.index("Database at the highest rate (bytes)")
    formula = database.cell(2, col + 1).value
    assert xlsx.ref("database_growth_high_per_day") in formula
    values = {
        f"Inputs!${c.column_letter}${c.row}": c.value
        for row in inputs.iter_rows()
        for c in row
        if isinstance(c.value, int | float)
    }
    assert evaluate(formula, values | {"A2": data["horizons"][0]["months"]}) == (
        pytest.approx(data["horizons"][0]["database_bytes_high"], rel=1e-6)
    )


def test_a_table_it_may_not_read_is_named_and_taken_as_flat(demo_dsn: str) -> None:
    """No SELECT on "AuditLog": the other tables' creation times still count."""
    collect(demo_dsn, cycles=2)
    role = f"pgwarden_capacity_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(demo_dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'reader'").format(
                sql.Identifier(role)
            )
        )
        for grant in (
            "GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}",
            'REVOKE SELECT ON "AuditLog" FROM {}',
        ):
            conn.execute(sql.SQL(grant).format(sql.Identifier(role)))
    reader = make_conninfo(demo_dsn, user=role, password="reader")
    try:
        data = run(reader, "baseline", "--format", "json", repository_dsn=demo_dsn)
    finally:
        with psycopg.connect(demo_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
    growth = data["database"]["growth"]
    assert growth["method"] == "creation-timestamps"
    assert "no rate from AuditLog" in growth["note"]
    audit = next(t for t in data["tables"] if t["table"] == "AuditLog")
    assert audit["size_growth"]["per_day"] is None
    assert "permission denied" in audit["size_growth"]["note"]
    answer = next(t for t in data["tables"] if t["table"] == "Answer")
    assert answer["size_growth"]["method"] == "creation-timestamps"


def test_no_evidence_of_growth_exits_3(
    empty_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Minutes of history of a database with no rows: nothing to project from."""
    collect(empty_dsn, cycles=3, demo=False)
    code, stderr = main(["--dsn", empty_dsn, "capacity", "project"], capsys)
    assert code == 3, stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert "cannot project" in stderr and "growth unknown" in stderr
    assert "after 24 h in at least 12 samples" in stderr
    sheet = tmp_path / "capacity.xlsx"
    args = ["--dsn", empty_dsn, "capacity", "project", "--xlsx", str(sheet)]
    code, stderr = main(args, capsys)
    assert code == 3 and not sheet.exists()
    baseline = run(empty_dsn, "baseline", "--format", "json")
    assert baseline["database"]["growth"]["per_day"] is None
    assert baseline["history"]["usable"] is False


def test_project_json_pool_memory_and_thresholds(
    history_dsn: str, tmp_path: Path
) -> None:
    report = tmp_path / "elasticity.json"
    report.write_text(
        json.dumps(
            {
                "pool": {
                    "recommended_pool_size": 2,
                    "usl": {
                        "sigma": 0.1,
                        "kappa": 0.05,
                        "lam": 10,
                        "n_star": 1.0,
                        "r2": 0.97,
                    },
                }
            }
        )
    )
    data = run(
        history_dsn,
        "project",
        "--months",
        "6,12",
        "--users-x",
        "10",
        "--load-report",
        str(report),
        "--format",
        "json",
    )
    six, twelve = data["horizons"]
    assert (six["months"], twelve["months"]) == (6, 12)
    assert twelve["database_bytes"] > six["database_bytes"]
    base = run(history_dsn, "baseline", "--format", "json")["database"]
    assert six["database_bytes"] == pytest.approx(
        base["size_bytes"] + base["growth"]["per_day"] * 6 * 30.44, rel=1e-6
    )
    audit = next(t for t in twelve["tables"] if t["table"] == "AuditLog")
    assert audit["bytes_at_users_x"] == pytest.approx(10 * audit["bytes"], rel=0.01)
    framework = next(t for t in twelve["tables"] if t["table"] == "Framework")
    assert framework["bytes_at_users_x"] == framework["bytes"]
    pool = data["pool"]
    busy = pool["peak_qps"] * pool["mean_statement_ms"] / 1000
    assert pool["busy_connections"] == pytest.approx(busy, rel=1e-3)
    assert pool["pool"] == max(1, math.ceil(busy * 1.3 - 1e-9))
    assert pool["peak_qps_at_users_x"] == pytest.approx(10 * pool["peak_qps"])
    assert "exceeds the USL peak" in pool["usl"]["note"] or pool["pool_at_users_x"] <= 1
    mem = data["memory"]
    assert mem["shared_buffers_25pct_bytes"] == round(mem["ram_bytes"] * 0.25)
    assert mem["work_mem_all_connections_bytes"] == (
        mem["work_mem_bytes"] * mem["work_mem_connections"]
    )
    names = [t["threshold"] for t in data["thresholds"]]
    assert "database larger than RAM" in names
    ram = next(
        t for t in data["thresholds"] if t["threshold"] == "database larger than RAM"
    )
    assert ram["crossed"] is False and ram["current"] < ram["limit"]
    days = (ram["limit"] - ram["current"]) / data["growth"]["per_day"]
    if days <= 12 * 30.44:
        assert ram["expected"] and ram["when"].startswith("projected ")
    else:
        assert (ram["expected"], ram["when"]) == (None, "not within 12 months")
    assert data["growth"]["method"] == "regression"


def test_spreadsheet_formulas_reference_the_inputs(
    history_dsn: str, tmp_path: Path
) -> None:
    path = tmp_path / "capacity.xlsx"
    data = run(
        history_dsn,
        "project",
        "--months",
        "6,12",
        "--users-x",
        "10",
        "--xlsx",
        str(path),
        "--format",
        "json",
    )
    wb = load_workbook(path)
    assert wb.sheetnames == list(xlsx.SHEETS)
    inputs = wb["Inputs"]
    assert inputs[xlsx.CELLS["users_x"]].value == 10
    assert [inputs.cell(xlsx.HORIZON_ROW, c).value for c in (2, 3)] == [6, 12]
    tables, database = wb["Tables"], wb["Database"]
    formulas = [c.value for row in tables.iter_rows(min_row=2) for c in row[1:]]
    assert formulas and all(str(f).startswith("=") for f in formulas)
    assert all("Inputs!$B$" in f and "Inputs!$C$" in f for f in formulas)
    users = re.compile(re.escape(xlsx.ref("users_x")) + r"(?!\d)")
    assert all(users.search(f) for f in formulas[1::2])
    assert not any(users.search(f) for f in formulas[0::2])
    assert (
        database["B2"].value.startswith("=")
        and xlsx.ref("database_growth_per_day") in database["B2"].value
    )
    assert database["A2"].value == "=" + xlsx.horizon_ref(0)
    assert len(tables._charts) == 1 and len(database._charts) == 1
    # the formulas recompute from the inputs: evaluate them here against the values
    values = {
        f"Inputs!${c.column_letter}${c.row}": c.value
        for row in inputs.iter_rows()
        for c in row
        if c.value is not None
    }
    on_trend = evaluate(database["B2"].value, values | {"A2": 6})
    assert on_trend == pytest.approx(data["horizons"][0]["database_bytes"], rel=1e-6)
    pool_cell = next(
        r
        for r in database.iter_rows()
        if r[0].value == "Pool at users x (Little's law)"
    )[1]
    assert evaluate(pool_cell.value, values) == data["pool"]["pool_at_users_x"]
    values[xlsx.ref("users_x")] = 20
    assert evaluate(pool_cell.value, values) >= data["pool"]["pool_at_users_x"]
    baseline = wb["Baseline"]
    days = [
        r[0].value
        for r in baseline.iter_rows()
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(r[0].value))
    ]
    assert len(days) >= DAYS


def evaluate(formula: str, values: dict[str, Any]) -> float:
    """A spreadsheet formula of cell references, MAX and ROUNDUP, in Python."""
    expr = formula.lstrip("=")
    for name in sorted(values, key=len, reverse=True):
        expr = expr.replace(name, repr(values[name]))
    expr = expr.replace("MAX(", "max(").replace("ROUNDUP(", "_roundup(")
    assert re.fullmatch(r"[\d\s.+\-*/(),e_a-z']+", expr), expr
    return float(eval(expr, {"max": max, "_roundup": lambda x, n: math.ceil(x)}))


BAD_INPUT = [
    (["--months", "six"], "--months: 'six' is not a whole number"),
    (["--months", "0"], "--months: '0' is not a whole number"),
    (["--load-report", "/nonexistent/report.json"], "--load-report"),
    (["--xlsx", "/nonexistent/dir/model.xlsx"], "does not exist"),
]


def main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """``pgwarden ARGV`` in this process: its exit code and its stderr."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sys, "argv", ["pgwarden", *argv])
        with pytest.raises(SystemExit) as exited:
            cli_main()
    code = exited.value.code
    return int(code) if isinstance(code, int) else 1, capsys.readouterr().err


def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Checked before any connection: the DSN leads nowhere."""
    bad = tmp_path / "report.json"
    bad.write_text("{not json")
    cases = [*BAD_INPUT, (["--load-report", str(bad)], "not JSON")]
    dsn = ["--dsn", "host=/nonexistent dbname=x"]
    for args, message in cases:
        code, stderr = main([*dsn, "capacity", "project", *args], capsys)
        assert code == 2, (args, stderr)
        assert message in stderr, (args, stderr)
        assert len(stderr.strip().splitlines()) == 1, stderr


def test_no_history_exits_3(empty_dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, stderr = main(["--dsn", empty_dsn, "capacity", "baseline"], capsys)
    assert code == 3, stderr
    assert "pgwarden collect" in stderr
    assert len(stderr.strip().splitlines()) <= 2
