"""Release rehearsal without a server: the plan file, the pre-flight judgement,
statement classification, rewrite and lock analysis, the verdict and the report."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pgwarden.errors import ConfigurationError
from pgwarden.ops.rehearse import checks, measure, report
from pgwarden.ops.rehearse.clone import clone_name, libpq_env, without_password
from pgwarden.ops.rehearse.guard import Identity, looks_like_conninfo
from pgwarden.ops.rehearse.plan import Checks, duration_ms, load
from pgwarden.ops.rehearse.sql import needs_autocommit, statements
from pgwarden.ops.rehearse.steps import Rehearsal, StepResult

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = 'title = "t"\nwindow_minutes = 5\n[[step]]\nname = "s"\nsql = "SELECT 1"\n'


def plan_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "release.toml"
    path.write_text(text)
    return path


def test_the_example_plan_is_valid() -> None:
    plan = load(ROOT / "examples" / "release.toml")
    assert plan.clone == "dump" and plan.change_request == 42
    assert plan.lock_timeout_ms == 3000
    assert plan.timeout_ms(plan.step[1]) == 20 * 60_000
    assert "ADD COLUMN" in plan.sql_of(plan.step[0])
    assert plan.step[3].kind == "command"


def test_defaults(tmp_path: Path) -> None:
    plan = load(plan_file(tmp_path, MINIMAL))
    assert plan.lock_timeout_ms == 5000 and plan.timeout_ms(plan.step[0]) == 1_800_000
    assert plan.checks.idle_in_transaction_warn_s == 30
    assert plan.clone == "template" and plan.rollback == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("title = ", "not valid TOML"),
        (MINIMAL + "colour = 'red'\n", "colour: Extra inputs are not permitted"),
        (MINIMAL.replace("5", "0"), "window_minutes: Input should be greater than 0"),
        (MINIMAL + 'sql_file = "x.sql"\n',
         "step[1]: give exactly one of sql, sql_file or command"),
        (MINIMAL.replace('sql = "SELECT 1"', 'sql_file = "missing.sql"'),
         "step[1].sql_file: cannot read missing.sql"),
        (MINIMAL + '[checks]\nskip = ["nap"]\n', "checks.skip: unknown check 'nap'"),
        ('clone_name = "' + "x" * 64 + '"\n' + MINIMAL,
         "clone_name: longer than 63 bytes"),
        (MINIMAL + '[[rollback]]\nname = "r"\ncommand = "x"\ntimeout = "1 week"\n',
         "rollback[1].timeout: '1 week' is not a duration"),
        ('window_minutes = 5\n[[step]]\nname = "s"\nsql = "SELECT 1"\n',
         "title: Field required"),
        ('clone_name = "dbname=app"\n' + MINIMAL,
         "clone_name: must not contain '='"),
        ('clone_name = "postgresql://prod/app"\n' + MINIMAL,
         "clone_name: must not contain '=' or start with postgres(ql)://"),
        ("allow_existing = true\n" + MINIMAL,
         "plan: allow_existing: goes with rehearsal_dsn"),
        ('rehearsal_dsn = "host=\'unclosed"\n' + MINIMAL,
         "rehearsal_dsn: not a valid libpq DSN or URI"),
    ],
)  # fmt: skip
def test_malformed_plans_name_file_and_key(
    tmp_path: Path, text: str, message: str
) -> None:
    path = plan_file(tmp_path, text)
    with pytest.raises(ConfigurationError) as caught:
        load(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_an_existing_copy_may_be_allowed_explicitly(tmp_path: Path) -> None:
    text = 'rehearsal_dsn = "dbname=copy"\nallow_existing = true\n' + MINIMAL
    plan = load(plan_file(tmp_path, text))
    assert plan.allow_existing and plan.rehearsal_dsn == "dbname=copy"
    assert not load(plan_file(tmp_path, MINIMAL)).allow_existing


def _identity(oid: int, system: str | None) -> Identity:
    return Identity(oid, "app", None, system)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (_identity(16384, "7001"), _identity(16384, "7001"), True),
        (_identity(16384, "7001"), _identity(16384, "7002"), False),
        (_identity(16384, "7001"), _identity(16385, "7001"), False),
        (_identity(16384, None), _identity(16384, "7001"), True),
        (_identity(16384, None), _identity(16385, None), False),
    ],
)
def test_same_database_unless_provably_different(
    a: Identity, b: Identity, same: bool
) -> None:
    assert a.same_database(b) is same and b.same_database(a) is same


@pytest.mark.parametrize(
    ("name", "expanded"),
    [("app", False), ("dbname=app", True), ("postgres://h/app", True),
     ("postgresql://h/app", True), ("we ird\"name", False)],
)  # fmt: skip
def test_names_libpq_would_read_as_a_connection_string(
    name: str, expanded: bool
) -> None:
    assert looks_like_conninfo(name) is expanded


def test_missing_plan_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read"):
        load(tmp_path / "nope.toml")


def test_durations() -> None:
    assert duration_ms("500ms") == 500
    assert duration_ms("2min") == 120_000
    assert duration_ms("1.5s") == 1500
    assert duration_ms(250) == 250
    with pytest.raises(ValueError):
        duration_ms("soon")


@pytest.mark.parametrize(
    ("text", "outside"),
    [
        ('CREATE INDEX CONCURRENTLY i ON "Answer" (x)', True),
        ("CREATE INDEX i ON t (x)", False),
        ("DROP INDEX CONCURRENTLY i", True),
        ("REINDEX TABLE CONCURRENTLY t", True),
        ("VACUUM (ANALYZE) t", True),
        ("ANALYZE t", False),
        ("BEGIN; UPDATE t SET x = 1; COMMIT;", True),
        ("ALTER TABLE p DETACH PARTITION p1 CONCURRENTLY", True),
        ("ALTER TABLE t ADD COLUMN c int", False),
        ("SELEC garbage CONCURRENTLY", True),
    ],
)
def test_steps_that_cannot_run_in_a_transaction(text: str, outside: bool) -> None:
    assert needs_autocommit(text) is outside


def test_statements_are_split() -> None:
    assert statements("SELECT 1; VACUUM t;\n") == ["SELECT 1", "VACUUM t"]


def test_clone_names_and_child_environment() -> None:
    plan = load(ROOT / "examples" / "release.toml")
    name = clone_name(plan, datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert name.startswith("pgwarden_rehearsal_20260102030405_")
    dsn = "host=db port=5433 dbname=x user=u password=secret"
    env = libpq_env(dsn)
    assert env["PGHOST"] == "db" and env["PGDATABASE"] == "x"
    assert env["PGPASSWORD"] == "secret"
    assert "secret" not in without_password(dsn)


def facts(**changes: Any) -> checks.Facts:
    base: dict[str, Any] = {
        "target": "db:5432/app",
        "connect_ms": 5.0,
        "server_version": 170002,
        "database": "app",
        "database_bytes": 10 * checks.GIB,
        "standby": False,
        "xid_age": 1000,
        "statements": {"installed": True, "track": "top", "count": 10},
        "repository": True,
        "target_known": True,
        "change_request": {"id": 7, "status": "approved"},
        "change_request_id": 7,
    }
    return checks.Facts(**(base | changes))


def session(
    state: str, xact_s: float, blocking: tuple[int, ...] = ()
) -> dict[str, Any]:
    return {
        "pid": 11,
        "usename": "app",
        "application_name": "web",
        "state": state,
        "xact_s": xact_s,
        "query_s": xact_s,
        "blocking_pids": list(blocking),
    }


def by_name(found: list[checks.Check]) -> dict[str, checks.Check]:
    return {c.name: c for c in found}


def test_a_healthy_target_passes_every_check() -> None:
    found = by_name(checks.judge(facts(), Checks(disk_free_gb=100), 1024))
    assert {c.status for c in found.values()} == {"pass"}
    assert list(found) == list(checks.NAMES)


def test_thresholds_warn_and_fail() -> None:
    cfg = Checks()
    busy = facts(
        sessions=[
            session("idle in transaction", 45),
            session("active", 400),
            session("active", 1, blocking=(11,)),
        ],
        replicas=[{"name": "replica1", "lag_s": 20.0}],
        invalid_indexes=[{"index_name": "public.i"}],
        xid_age=int(0.8 * checks.WRAPAROUND_LIMIT),
        alerts=[{"rule": "cache_hit", "severity": "warning"}],
        change_request={"id": 7, "status": "submitted"},
    )
    found = by_name(checks.judge(busy, cfg, None))
    assert found["idle_in_transaction"].status == "warn"
    assert (
        "oldest open 45 s: pid 11 (app, web)" in found["idle_in_transaction"].observed
    )
    assert found["long_running"].status == "fail"
    assert found["blocking_locks"].status == "fail"
    assert found["replication_lag"].status == "warn"
    assert found["invalid_indexes"].status == "warn"
    assert found["wraparound"].status == "fail"
    assert found["firing_alerts"].status == "warn"
    assert found["change_request"].status == "fail"
    assert found["disk_headroom"].status == "skip"
    assert "disk_free_gb" in found["disk_headroom"].fix


def test_missing_repository_privilege_and_plan_skips() -> None:
    cfg = Checks(skip=["wraparound"])
    bare = facts(
        repository=False,
        change_request=None,
        unavailable={"long_running": "sessions: permission denied"},
    )
    found = by_name(checks.judge(bare, cfg, None))
    assert found["firing_alerts"].status == "skip"
    assert "not initialised" in found["firing_alerts"].observed
    assert found["change_request"].status == "skip"
    assert found["wraparound"].observed == "skipped by the plan"
    assert found["long_running"].status == "skip"
    assert "pg_monitor" in found["long_running"].fix
    unnamed = by_name(checks.judge(facts(change_request_id=None), cfg, None))
    assert unnamed["change_request"].status == "fail"


def test_standby_target_and_disk_needed() -> None:
    found = by_name(
        checks.judge(facts(standby=True), Checks(disk_free_gb=1), 2 * checks.GIB)
    )
    assert found["replication_lag"].status == "fail"
    assert found["disk_headroom"].status == "fail"


def relation(
    oid: int, node: int, name: str, size: int, kind: str = "r"
) -> dict[str, Any]:
    return {"oid": oid, "relfilenode": node, "relkind": kind, "name": name,
            "bytes": size, "total_bytes": size if kind == "r" else None}  # fmt: skip


def test_rewrites_are_changed_relfilenodes() -> None:
    before = {1: relation(1, 10, "public.a", 100), 2: relation(2, 20, "public.b", 5),
              3: relation(3, 30, "public.a_pkey", 8, "i")}  # fmt: skip
    after = {1: relation(1, 11, "public.a", 120), 2: relation(2, 20, "public.b", 5),
             3: relation(3, 31, "public.a_pkey", 8, "i")}  # fmt: skip
    found = measure.rewrites(before, after, big_bytes=50)
    assert [(r.relation, r.kind, r.big) for r in found] == [
        ("public.a", "table", True),
        ("public.a_pkey", "index", False),
    ]


def test_locks_merge_resolve_and_flag_big_tables() -> None:
    sizes = {1: relation(1, 10, "public.a", 100), 2: relation(2, 20, "public.gone", 5)}
    rows = [
        {"oid": 1, "name": "public.a", "mode": "AccessExclusiveLock",
         "granted": False, "relkind": "r"},
        {"oid": 1, "name": "public.a", "mode": "AccessExclusiveLock",
         "granted": True, "relkind": "r"},
        {"oid": 2, "name": "2", "mode": "AccessExclusiveLock", "granted": True,
         "relkind": None},
        {"oid": 99, "name": "99", "mode": "ShareLock", "granted": True,
         "relkind": None},
    ]  # fmt: skip
    found = measure.locks(rows, sizes, big_bytes=50)
    assert [(lk.relation, lk.waited, lk.big) for lk in found] == [
        ("public.a", True, True),
        ("public.gone", False, False),
    ]
    assert report.lock_mode("AccessExclusiveLock") == "ACCESS EXCLUSIVE"
    assert report.lock_mode("ShareUpdateExclusiveLock") == "SHARE UPDATE EXCLUSIVE"


def step(number: int, seconds: float, status: str = "ok", **kw: Any) -> StepResult:
    return StepResult("release", number, f"s{number}", "transaction", status,  # type: ignore[arg-type]
                      duration_s=seconds, **kw)  # fmt: skip


def rehearsal(steps: list[StepResult], rollback: list[StepResult]) -> Rehearsal:
    return Rehearsal(datetime.now(UTC), steps, rollback, ["a"], ["a"])


def build(done: Rehearsal | None, found: list[checks.Check], window: float = 1) -> Any:
    now = datetime.now(UTC)
    summary = {"title": "t", "window_minutes": window, "change_request": None,
               "lock_timeout": "5s", "statement_timeout": "30min"}  # fmt: skip
    return report.build(summary, "db:5432/app", found, done, {"notes": [],
                        "description": "clone"}, now, now, True)  # fmt: skip


PASS = [checks.Check("reachable", "pass", "ok", "")]


def test_verdict_go_with_warnings_only() -> None:
    warn = [checks.Check("invalid_indexes", "warn", "1 invalid", "")]
    data = build(rehearsal([step(1, 5)], [step(1, 1)]), warn)
    assert data["verdict"] == "go"
    assert data["problems"][0]["severity"] == "warning"


def test_no_go_on_failed_check_failed_step_or_window() -> None:
    fail = [checks.Check("blocking_locks", "fail", "1 session(s) waiting", "")]
    assert build(rehearsal([step(1, 5)], []), fail)["verdict"] == "no-go"
    failed = rehearsal([step(1, 1, "failed", error="22012: division by zero")], [])
    data = build(failed, PASS)
    assert data["verdict"] == "no-go"
    assert data["reason"] == "release step 1 (s1) failed: 22012: division by zero"
    slow = build(rehearsal([step(1, 50), step(2, 20)], []), PASS)
    assert slow["verdict"] == "no-go"
    assert "took 1.17 min, longer than the 1 min window" in slow["reason"]


def test_rollback_beyond_the_window_warns_and_schema_drift_is_reported() -> None:
    before, after = ["r public.a: id bigint"], ["r public.a: id bigint, x int"]
    done = Rehearsal(datetime.now(UTC), [step(1, 40)], [step(1, 30)], before, after)
    data = build(done, PASS)
    assert data["verdict"] == "go"
    texts = [p["text"] for p in data["problems"]]
    assert any("failure at the last step would end after" in t for t in texts)
    assert any(
        "rollback does not restore the schema" in t and "x int" in t for t in texts
    )


def test_markdown_report() -> None:
    lock = measure.Lock('public."Answer"', "AccessExclusiveLock", True, big=True,
                        table_bytes=2 * 1024**3)  # fmt: skip
    rw = measure.Rewrite('public."Answer"', "table", 2 * 1024**3, 2 * 1024**3, True)
    done = rehearsal([step(1, 12, locks=(lock,), rewrites=(rw,), wal_bytes=4096)], [])
    data = build(done, PASS, window=30)
    md = report.render(data, "md")
    assert "**Verdict: GO**" in md
    assert "| 1 | release | s1 | transaction | 0.00 s | 12.0 s | ok |" in md
    assert 'ACCESS EXCLUSIVE public."Answer" (big)' in md
    assert "| reachable | pass | ok |" in md
    assert "takes ACCESS EXCLUSIVE on big table" in md
    assert 'rewrites public."Answer" (2.0 GB)' in md
    assert report.render(data, "json").startswith("{")
    assert report.needed_bytes(done) == 2 * 1024**3 + 4096
