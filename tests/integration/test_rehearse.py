"""Release rehearsal end to end on a real server: pre-flight checks, steps and
rollback on a clone (locks, rewrites, WAL), go/no-go, the clone dropped, the
record in the repository."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from typer.testing import CliRunner, Result

from pgwarden import pg
from pgwarden.alerts import store
from pgwarden.alerts.model import Alert
from pgwarden.cli.rehearse_cmd import app as rehearse_app
from pgwarden.cli.runtime import Runtime
from pgwarden.config import load_settings
from pgwarden.errors import ConfigurationError
from pgwarden.ops.rehearse.clone import CloneFailed
from pgwarden.ops.rehearse.guard import MARKER
from pgwarden.repository import migrate
from pgwarden.slowlog.store import ensure_target
from tests.cli_helpers import clean_env, pgwarden
from tests.conftest import TEMPLATE_DEMO, TestServer

HOSTILE_CLONE = 'rehearsal"; DROP DATABASE postgres; --'


def runtime_for(dsn: str) -> Runtime:
    return Runtime(load_settings(overrides={"dsn": dsn}), None, False)


def rehearse(dsn: str, *args: str) -> Result:
    return CliRunner().invoke(rehearse_app, list(args), obj=runtime_for(dsn))


def write_plan(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "release.toml"
    path.write_text(text)
    return path


def report_of(result: Result) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def rehearsal_databases(server: TestServer) -> list[str]:
    with server.admin() as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'pgwarden_rehearsal%'"
            " OR datname LIKE 'rehearsal%'"
        ).fetchall()
    return [r[0] for r in rows]


def approved_request(dsn: str) -> int:
    """A change request the board approved (the repository in the target)."""
    with pg.connect(dsn) as conn:
        migrate(conn)
        row = conn.execute(
            "INSERT INTO pgwarden.change_request (title, owner, status)"
            " VALUES ('score answers', 'dana', 'approved') RETURNING id"
        ).fetchone()
    assert row is not None
    return int(row[0])


@contextmanager
def blocked_session(dsn: str) -> Iterator[None]:
    """One session holds a lock in an open transaction; another waits on it."""
    holder = psycopg.connect(dsn)
    holder.execute('LOCK TABLE "Answer" IN ACCESS EXCLUSIVE MODE')
    waiter = psycopg.connect(dsn, autocommit=True)
    thread = threading.Thread(
        target=lambda: waiter.execute('SELECT count(*) FROM "Answer"'), daemon=True
    )
    thread.start()
    try:
        _wait_for_waiter(dsn)
        yield
    finally:
        holder.rollback()
        thread.join(timeout=10)
        holder.close()
        waiter.close()


def _wait_for_waiter(dsn: str) -> None:
    deadline = time.monotonic() + 10
    with psycopg.connect(dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE cardinality(pg_blocking_pids(pid)) > 0"
            ).fetchone()
            if row and row[0]:
                return
            time.sleep(0.05)
    raise AssertionError("the waiting session never blocked")


RELEASE = """
title = "Score answers"
change_request = {request}
window_minutes = 10
lock_timeout = "2s"
clone_name = '{clone}'
big_table_mb = 0

[checks]
skip = ["pg_stat_statements"]

[[step]]
name = "add score column with a volatile default"
sql_file = "sql/add_score.sql"

[[step]]
name = "widen score"
sql = 'ALTER TABLE "Answer" ALTER COLUMN score TYPE integer'

[[step]]
name = "index answers by score"
sql = 'CREATE INDEX CONCURRENTLY answer_score_idx ON "Answer" ("answerScore")'

[[step]]
name = "check the clone from a command"
command = ["{python}", "show_env.py"]

[[rollback]]
name = "drop the index"
sql = "DROP INDEX CONCURRENTLY IF EXISTS answer_score_idx"

[[rollback]]
name = "narrow score and drop answerScore"
sql = '''
ALTER TABLE "Answer" ALTER COLUMN score TYPE smallint;
ALTER TABLE "Answer" DROP COLUMN IF EXISTS "answerScore";
'''
"""


SHOW_ENV = """import os
print("db", os.environ["PGDATABASE"], os.environ["PGWARDEN_REHEARSAL_DSN"] != "")
"""


def test_rehearsal_measures_steps_and_rollback_and_drops_the_clone(
    pg_server: TestServer, demo_dsn: str, tmp_path: Path
) -> None:
    request = approved_request(demo_dsn)
    (tmp_path / "sql").mkdir()
    (tmp_path / "sql" / "add_score.sql").write_text(
        'ALTER TABLE "Answer" ADD COLUMN "answerScore" double precision'
        " DEFAULT random();\n"
    )
    (tmp_path / "show_env.py").write_text(SHOW_ENV)
    plan = write_plan(
        tmp_path,
        RELEASE.format(request=request, clone=HOSTILE_CLONE, python=sys.executable),
    )
    result = rehearse(demo_dsn, "run", "--plan", str(plan), "--format", "json")
    assert result.exit_code == 0, (result.output, result.exception)
    report = report_of(result)
    assert report["verdict"] == "go", report["problems"]
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["change_request"]["status"] == "pass"
    assert checks["blocking_locks"]["status"] == "pass"
    assert checks["pg_stat_statements"]["status"] == "skip"
    assert checks["firing_alerts"]["status"] == "skip"  # never collected

    add, widen, index, command = report["timeline"][:4]
    for step in (add, widen):
        assert step["status"] == "ok" and step["mode"] == "transaction"
        assert step["rewrites"][0]["relation"] == 'public."Answer"'
        exclusive = [lk for lk in step["locks"] if lk["mode"] == "AccessExclusiveLock"]
        assert exclusive[0]["relation"] == 'public."Answer"' and exclusive[0]["big"]
        assert step["wal_bytes"] > 0
    assert index["mode"] == "autocommit" and index["status"] == "ok"
    assert index["rewrites"] == []
    assert command["mode"] == "command" and command["status"] == "ok"
    assert f"db {HOSTILE_CLONE} True" in command["output"]
    assert [s["status"] for s in report["timeline"][4:]] == ["ok", "ok"]
    texts = [p["text"] for p in report["problems"]]
    assert any("ACCESS EXCLUSIVE on big table" in t for t in texts)
    assert not any("does not restore the schema" in t for t in texts)
    assert any('rewrites public."Answer"' in lesson for lesson in report["lessons"])

    assert rehearsal_databases(pg_server) == []
    with pg_server.admin() as conn:
        assert conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = 'postgres'"
        ).fetchone()
    with psycopg.connect(demo_dsn) as conn:
        columns = conn.execute(
            "SELECT 1 FROM information_schema.columns"
            " WHERE table_name = 'Answer' AND column_name = 'answerScore'"
        ).fetchall()
        log = conn.execute(
            "SELECT detail FROM pgwarden.ccb_decision_log WHERE kind = 'rehearsal'"
        ).fetchall()
    assert columns == []  # the target itself is untouched
    assert log[0][0]["verdict"] == "go"

    listed = rehearse(demo_dsn, "list", "--format", "json")
    assert json.loads(listed.stdout)[0]["verdict"] == "go"
    shown = rehearse(demo_dsn, "show", str(json.loads(listed.stdout)[0]["id"]))
    assert "**Verdict: GO**" in shown.stdout
    assert "| check | status | observed | threshold | fix |" in shown.stdout


def test_failing_step_is_no_go_and_the_rollback_runs(
    pg_server: TestServer, demo_dsn: str, tmp_path: Path
) -> None:
    plan = write_plan(
        tmp_path,
        """
title = "Broken release"
window_minutes = 5
[[step]]
name = "create notes"
sql = "CREATE TABLE notes (id int)"
[[step]]
name = "divide by zero"
sql = "SELECT 1 / 0"
[[step]]
name = "never reached"
sql = "SELECT 1"
[[rollback]]
name = "drop notes"
sql = "DROP TABLE IF EXISTS notes"
""",
    )
    result = rehearse(demo_dsn, "--plan", str(plan), "--format", "md")
    assert result.exit_code == 1
    md = result.stdout
    assert "**Verdict: NO-GO**" in md
    assert "| 2 | release | divide by zero | transaction |" in md
    assert "failed: 22012: division by zero" in md
    assert "| 3 | release | never reached | transaction |" in md and "not run" in md
    assert "| 1 | rollback | drop notes | transaction |" in md
    assert "**blocking**: release step 2 (divide by zero) failed" in md
    assert rehearsal_databases(pg_server) == []


def test_step_exceeding_lock_timeout_fails_cleanly_on_an_existing_copy(
    pg_server: TestServer, demo_dsn: str, tmp_path: Path
) -> None:
    copy = pg_server.clone(TEMPLATE_DEMO)
    try:
        with pg_server.admin() as conn:  # a restored copy, marked as one
            conn.execute(
                sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                    sql.Identifier(copy), sql.Literal(f"{MARKER} restored by hand")
                )
            )
        copy_dsn = pg_server.dsn(copy)
        plan = write_plan(
            tmp_path,
            f"""
title = "Blocked release"
window_minutes = 5
lock_timeout = "300ms"
rehearsal_dsn = "{copy_dsn}"
[[step]]
name = "add a column"
sql = 'ALTER TABLE "Answer" ADD COLUMN note text'
[[rollback]]
name = "drop it"
sql = 'ALTER TABLE "Answer" DROP COLUMN IF EXISTS note'
""",
        )
        with psycopg.connect(copy_dsn) as reader:
            reader.execute('SELECT count(*) FROM "Answer"')  # holds ACCESS SHARE
            result = rehearse(demo_dsn, "run", "--plan", str(plan), "--format", "json")
            reader.rollback()
        assert result.exit_code == 1
        report = report_of(result)
        step = report["timeline"][0]
        assert step["status"] == "failed"
        assert step["error"].startswith("lock_timeout (300ms) exceeded")
        rollback = report["timeline"][1]
        assert rollback["phase"] == "rollback"  # it ran, and met the same lock
        assert rollback["error"].startswith("lock_timeout (300ms) exceeded")
        assert conninfo_to_dict(copy_dsn)["password"] not in result.stdout
        assert report["clone"]["method"] == "existing copy"
        with pg_server.admin() as conn:  # an existing copy is never dropped
            assert conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [copy]
            ).fetchone()
    finally:
        pg_server.drop(copy)


PREFLIGHT = """
title = "Pre-flight"
change_request = 999
window_minutes = 5
[checks]
idle_in_transaction_warn_s = 0.5
[[step]]
name = "noop"
sql = "SELECT 1"
"""


def test_preflight_blocking_lock_fails_and_idle_transaction_warns(
    demo_dsn: str, tmp_path: Path
) -> None:
    plan = write_plan(tmp_path, PREFLIGHT)
    with blocked_session(demo_dsn):
        time.sleep(0.6)
        result = rehearse(
            demo_dsn, "run", "--plan", str(plan), "--checks-only", "--format", "json"
        )
    assert result.exit_code == 1
    report = report_of(result)
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["blocking_locks"]["status"] == "fail"
    assert "1 session(s) waiting" in checks["blocking_locks"]["observed"]
    assert checks["idle_in_transaction"]["status"] == "warn"
    assert checks["long_running"]["status"] == "pass"
    assert checks["firing_alerts"]["status"] == "skip"
    assert "not initialised" in checks["firing_alerts"]["observed"]
    assert checks["change_request"]["status"] == "skip"
    assert checks["wraparound"]["status"] == "pass"
    assert report["verdict"] == "no-go" and report["timeline"] == []
    assert report["reason"].startswith("pre-flight blocking_locks")


def test_firing_critical_alert_and_unapproved_request_block(
    demo_dsn: str, tmp_path: Path
) -> None:
    with pg.connect(demo_dsn) as conn:
        migrate(conn)
        target = pg.describe(demo_dsn)
        now = datetime.now(UTC)
        store.save(conn, ensure_target(conn, target), [Alert(
            target=target, fingerprint="f", rule="replication_lag",
            severity="critical", state="firing", labels={}, value=99.0,
            summary="replica behind", description="", runbook="", group_key="g",
            started_at=now, last_seen_at=now, fired_at=now,
        )])  # fmt: skip
        conn.execute(
            "INSERT INTO pgwarden.change_request (title, owner, status)"
            " OVERRIDING SYSTEM VALUE VALUES ('x', 'dana', 'submitted')"
        )
    plan = write_plan(tmp_path, PREFLIGHT.replace("999", "1"))
    result = rehearse(
        demo_dsn, "--plan", str(plan), "--checks-only", "--format", "json"
    )
    assert result.exit_code == 1
    checks = {c["name"]: c for c in report_of(result)["checks"]}
    assert checks["firing_alerts"]["status"] == "fail"
    assert "replication_lag (critical)" in checks["firing_alerts"]["observed"]
    assert checks["change_request"] == {
        "name": "change_request",
        "status": "fail",
        "observed": "request 1 is submitted",
        "threshold": "status approved or scheduled",
        "fix": "the board must approve it first: pgwarden ccb request show 1",
    }


def test_clone_of_a_busy_database_says_what_to_do(
    pg_server: TestServer, demo_dsn: str, tmp_path: Path
) -> None:
    plan = write_plan(
        tmp_path,
        'title = "t"\nwindow_minutes = 5\n[[step]]\nname = "s"\nsql = "SELECT 1"\n',
    )
    with psycopg.connect(demo_dsn):
        result = rehearse(demo_dsn, "run", "--plan", str(plan))
    assert isinstance(result.exception, CloneFailed)
    message = str(result.exception)
    # ours at least; a closing session of an earlier test may still count
    assert re.search(r"\b[1-9]\d* other session\(s\) use it", message), message
    assert "rehearsal_dsn" in message and 'clone = "dump"' in message
    assert "\n" not in message and result.exception.exit_code == 3
    assert rehearsal_databases(pg_server) == []


def test_dump_clone_works_while_the_source_is_busy(
    pg_server: TestServer, demo_dsn: str, tmp_path: Path
) -> None:
    plan = write_plan(
        tmp_path,
        """
title = "Dump clone"
window_minutes = 5
clone = "dump"
[[step]]
name = "count"
sql = 'CREATE TABLE counted AS SELECT count(*) AS n FROM "Answer"'
[[rollback]]
name = "drop"
sql = "DROP TABLE counted"
""",
    )
    with psycopg.connect(demo_dsn):
        result = rehearse(demo_dsn, "run", "--plan", str(plan), "--format", "json")
    assert result.exception is None or isinstance(result.exception, SystemExit)
    report = report_of(result)
    assert report["clone"]["method"] == "dump"
    assert [s["status"] for s in report["timeline"]] == ["ok", "ok"]
    assert rehearsal_databases(pg_server) == []


@pytest.mark.parametrize(
    ("plan_text", "message"),
    [
        ('title = "t"\n[[step]]\nname = "s"\nsql = "SELECT 1"\n',
         "window_minutes: Field required"),
        ('title = "t"\nwindow_minutes = 5\n[[step]]\nname = "s"\n',
         "step[1]: give exactly one of sql, sql_file or command"),
        ('title = "t"\nwindow_minutes = 5\nlock_timeout = "soon"\n'
         '[[step]]\nname = "s"\nsql = "SELECT 1"\n',
         "lock_timeout: 'soon' is not a duration"),
    ],
)  # fmt: skip
def test_malformed_plan_exits_2_in_one_line(
    tmp_path: Path, plan_text: str, message: str
) -> None:
    plan = write_plan(tmp_path, plan_text)
    result = pgwarden(
        "rehearse", "run", "--plan", str(plan), PGWARDEN_DSN="host=/nonexistent"
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {plan}: ")
    assert message in lines[0]


def test_plan_with_a_subcommand_or_no_plan_exits_2(tmp_path: Path) -> None:
    plan = write_plan(tmp_path, 'title = "t"\nwindow_minutes = 5\n')
    mixed = pgwarden("rehearse", "--plan", str(plan), "list")
    bare = pgwarden("rehearse")
    assert mixed.returncode == 2
    assert mixed.stderr.strip() == (
        "error: --plan goes with rehearse (or rehearse run), not with rehearse list"
    )
    assert bare.returncode == 2 and "--plan" in bare.stdout


def test_unreachable_target_exits_3(tmp_path: Path) -> None:
    plan = write_plan(
        tmp_path,
        'title = "t"\nwindow_minutes = 5\n[[step]]\nname = "s"\nsql = "SELECT 1"\n',
    )
    result = pgwarden(
        "rehearse", "run", "--plan", str(plan),
        PGWARDEN_DSN="host=127.0.0.1 port=1 password=hunter2 connect_timeout=2",
    )  # fmt: skip
    assert result.returncode == 3
    assert "hunter2" not in result.stderr + result.stdout
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: cannot connect to 127.0.0.1:1/")


def test_ctrl_c_mid_step_still_drops_the_clone(
    pg_server: TestServer, demo_dsn: str, tmp_path: Path
) -> None:
    plan = write_plan(
        tmp_path,
        """
title = "Interrupted"
window_minutes = 5
clone_name = "rehearsal_interrupted"
[[step]]
name = "slow"
sql = "SELECT pg_sleep(60)"
""",
    )
    with subprocess.Popen(
        [sys.executable, "-m", "pgwarden", "rehearse", "run", "--plan", str(plan)],
        env=clean_env(PGWARDEN_DSN=demo_dsn), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    ) as proc:  # fmt: skip
        _wait_for_sleep(pg_server.dsn("rehearsal_interrupted"))
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "clone 'rehearsal_interrupted' dropped" in stderr
    assert rehearsal_databases(pg_server) == []


def _wait_for_sleep(dsn: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(dsn, autocommit=True) as conn:
                row = conn.execute(
                    "SELECT 1 FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%'"
                    " AND pid <> pg_backend_pid()"
                ).fetchone()
            if row:
                return
        except psycopg.OperationalError:
            pass
        time.sleep(0.1)
    raise AssertionError("the slow step never started")


def test_hostile_table_names_are_quoted_in_the_report(
    pg_server: TestServer, empty_dsn: str, tmp_path: Path
) -> None:
    quoted = '"we|ird""; DROP DATABASE postgres; --"'
    plan = write_plan(
        tmp_path,
        f"""
title = "Hostile names"
window_minutes = 5
[[step]]
name = "create"
sql = '''CREATE TABLE {quoted} AS SELECT 1 AS x'''
[[step]]
name = "retype"
sql = '''ALTER TABLE {quoted} ALTER COLUMN x TYPE bigint'''
[[rollback]]
name = "drop"
sql = '''DROP TABLE {quoted}'''
""",
    )
    result = rehearse(empty_dsn, "run", "--plan", str(plan), "--format", "json")
    report = report_of(result)
    retype = report["timeline"][1]
    assert retype["status"] == "ok"
    assert retype["rewrites"][0]["relation"] == f"public.{quoted}"
    assert retype["locks"][0] == retype["locks"][0] | {
        "relation": f"public.{quoted}",
        "mode": "AccessExclusiveLock",
    }
    md = rehearse(empty_dsn, "run", "--plan", str(plan), "--no-store").stdout
    assert 'ACCESS EXCLUSIVE public."we\\|ird""; DROP DATABASE postgres; --"' in md
    with pg_server.admin() as conn:
        assert conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = 'postgres'"
        ).fetchone()
    assert rehearsal_databases(pg_server) == []


def test_keep_clone_leaves_it_for_inspection(
    pg_server: TestServer, empty_dsn: str, tmp_path: Path
) -> None:
    plan = write_plan(
        tmp_path,
        'title = "t"\nwindow_minutes = 5\nclone_name = "rehearsal_kept"\n'
        '[[step]]\nname = "s"\nsql = "CREATE TABLE kept (id int)"\n',
    )
    try:
        result = rehearse(empty_dsn, "run", "--plan", str(plan), "--keep-clone")
        assert "clone 'rehearsal_kept' kept (--keep-clone)" in result.output
        with psycopg.connect(pg_server.dsn("rehearsal_kept")) as conn:
            assert conn.execute("SELECT count(*) FROM kept").fetchone() == (0,)
        again = rehearse(empty_dsn, "run", "--plan", str(plan))
        assert isinstance(again.exception, ConfigurationError)
        assert "database 'rehearsal_kept' already exists" in str(again.exception)
        assert rehearsal_databases(pg_server) == ["rehearsal_kept"]
    finally:
        pg_server.drop("rehearsal_kept")
