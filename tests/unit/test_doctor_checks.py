"""``doctor.evaluate`` on hand-made facts: each check found ok and missing."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from pgwarden.doctor import (
    Check,
    DoctorFacts,
    DoctorReport,
    Extension,
    Maintenance,
    evaluate,
)
from pgwarden.slowlog import LogSource

GOOD_SETTINGS = {
    "server_version": "16.4",
    "shared_preload_libraries": "pg_stat_statements, auto_explain",
    "session_preload_libraries": "",
    "track_io_timing": "on",
    "compute_query_id": "auto",
    "log_min_duration_statement": "100",
    "log_destination": "jsonlog",
    "logging_collector": "on",
    "pg_stat_statements.max": "5000",
    "auto_explain.log_min_duration": "-1",
}


def _ext(name: str, installed: bool = True) -> Extension:
    return Extension(
        name, True, "1.0" if installed else None, "public" if installed else None
    )


def facts(**changes: Any) -> DoctorFacts:
    """A well-equipped PostgreSQL 16 server, as a non-superuser with pg_monitor."""
    base = DoctorFacts(
        server_version_num=160004,
        role="Watcher",
        superuser=False,
        settings=GOOD_SETTINGS,
        roles={"pg_monitor": True, "pg_read_all_stats": True},
        extensions={
            name: _ext(name)
            for name in (
                "pg_stat_statements",
                "pgstattuple",
                "hypopg",
                "pg_buffercache",
            )
        },
        pg_stat_statements="readable",
        maintenance=Maintenance(tables=24, denied=0),
        log_source=LogSource("file", "server log via file path: /pgdata/log"),
    )
    return dataclasses.replace(base, **changes)


def settings(**changes: str | None) -> dict[str, str]:
    merged = {**GOOD_SETTINGS, **changes}
    return {k: v for k, v in merged.items() if v is not None}


def check(name: str, **changes: Any) -> Check:
    return next(c for c in evaluate(facts(**changes)) if c.name == name)


def test_a_well_equipped_server_passes_every_check() -> None:
    failing = [c for c in evaluate(facts()) if not c.ok]
    assert failing == []
    assert all(c.fix is None and c.impact for c in evaluate(facts()))


def test_report_as_dict_has_the_json_shape() -> None:
    report = DoctorReport(160004, tuple(evaluate(facts())))
    data = report.as_dict()
    assert data["server_version_num"] == 160004
    assert set(data["checks"][0]) == {"name", "ok", "detail", "fix", "impact"}
    assert report.ok


def test_check_names_are_unique() -> None:
    names = [c.name for c in evaluate(facts())]
    assert len(names) == len(set(names)) == 14


@pytest.mark.parametrize(
    ("num", "ok"), [(130012, False), (140000, True), (180001, True)]
)
def test_server_version(num: int, ok: bool) -> None:
    result = check("server_version", server_version_num=num, settings={})
    assert result.ok is ok
    if not ok:
        assert "older than the supported 14 to 18" in result.detail
        assert result.fix and "upgrade" in result.fix


def test_newer_major_is_noted() -> None:
    assert (
        "newer than the tested"
        in check("server_version", server_version_num=190000).detail
    )


def test_pgss_not_preloaded() -> None:
    result = check(
        "pg_stat_statements_preload",
        settings=settings(shared_preload_libraries="auto_explain"),
        pg_stat_statements="not_loaded",
    )
    assert not result.ok
    assert "'auto_explain'" in result.detail
    assert result.fix is not None
    assert "add pg_stat_statements to shared_preload_libraries" in result.fix
    assert "restart" in result.fix and "RDS parameter group" in result.fix


def test_pgss_preload_on_rds_points_at_the_parameter_group() -> None:
    result = check(
        "pg_stat_statements_preload",
        settings=settings(shared_preload_libraries=""),
        platform="rds",
    )
    assert result.fix is not None and "DB parameter group" in result.fix


def test_pgss_preload_inferred_when_the_setting_is_hidden() -> None:
    hidden = settings(shared_preload_libraries=None)
    assert check("pg_stat_statements_preload", settings=hidden).ok
    no_marker = settings(
        shared_preload_libraries=None, **{"pg_stat_statements.max": None}
    )
    assert check("pg_stat_statements_preload", settings=no_marker).ok
    not_loaded = check(
        "pg_stat_statements_preload",
        settings=no_marker,
        pg_stat_statements="not_loaded",
    )
    assert not not_loaded.ok
    unknown = check(
        "pg_stat_statements_preload",
        settings=no_marker,
        pg_stat_statements="not_installed",
        extensions={},
    )
    assert not unknown.ok and "hidden" in unknown.detail


def test_pgss_extension_missing_or_unreadable() -> None:
    available = {"pg_stat_statements": Extension("pg_stat_statements", True)}
    result = check(
        "pg_stat_statements_extension",
        extensions=available,
        pg_stat_statements="not_installed",
    )
    assert not result.ok and result.fix == "CREATE EXTENSION pg_stat_statements;"
    result = check("pg_stat_statements_extension", pg_stat_statements="not_loaded")
    assert not result.ok and result.fix and "shared_preload_libraries" in result.fix
    result = check("pg_stat_statements_extension", pg_stat_statements="denied")
    assert result.fix == 'GRANT SELECT ON "public".pg_stat_statements TO "Watcher";'


@pytest.mark.parametrize("name", ["pgstattuple", "pg_buffercache"])
def test_contrib_extension_three_states(name: str) -> None:
    installed = facts().extensions
    assert check(name).ok
    available = {**installed, name: Extension(name, True)}
    result = check(name, extensions=available)
    assert not result.ok and result.fix == f"CREATE EXTENSION {name};"
    assert "available on the server but not installed" in result.detail
    absent = {k: v for k, v in installed.items() if k != name}
    result = check(name, extensions=absent)
    assert not result.ok and "not in pg_available_extensions" in result.detail
    assert result.fix and "postgresql16-contrib" in result.fix


def test_hypopg_three_states() -> None:
    installed = facts().extensions
    assert check("hypopg").ok
    available = {**installed, "hypopg": Extension("hypopg", True)}
    assert check("hypopg", extensions=available).fix == "CREATE EXTENSION hypopg;"
    absent = {k: v for k, v in installed.items() if k != "hypopg"}
    result = check("hypopg", extensions=absent, server_version_num=150004)
    assert not result.ok
    assert result.fix and "apt-get install postgresql-15-hypopg" in result.fix


def test_unreadable_extension_list_is_reported() -> None:
    result = check(
        "pgstattuple", extensions={}, unreadable={"extensions": "permission denied"}
    )
    assert not result.ok and "could not list extensions" in result.detail


def test_track_io_timing_off() -> None:
    result = check("track_io_timing", settings=settings(track_io_timing="off"))
    assert not result.ok
    assert result.fix and result.fix.startswith(
        "ALTER SYSTEM SET track_io_timing = on; SELECT pg_reload_conf();"
    )


@pytest.mark.parametrize(
    ("value", "preload", "ok"),
    [
        ("on", "", True),
        ("auto", "pg_stat_statements", True),
        ("auto", "auto_explain", False),
        ("off", "pg_stat_statements", False),
    ],
)
def test_compute_query_id(value: str, preload: str, ok: bool) -> None:
    changed = settings(
        compute_query_id=value,
        shared_preload_libraries=preload,
        **{"pg_stat_statements.max": None},
    )
    result = check(
        "compute_query_id", settings=changed, pg_stat_statements="not_loaded"
    )
    assert result.ok is ok
    if not ok:
        assert result.fix and "ALTER SYSTEM SET compute_query_id = on;" in result.fix


def test_slow_query_log_missing_parts() -> None:
    changed = settings(
        log_min_duration_statement="-1",
        log_destination="stderr",
        logging_collector="off",
    )
    result = check("slow_query_log", settings=changed)
    assert not result.ok
    assert result.fix is not None
    assert "ALTER SYSTEM SET log_min_duration_statement = '100ms';" in result.fix
    assert "ALTER SYSTEM SET log_destination = 'stderr,jsonlog';" in result.fix
    assert "ALTER SYSTEM SET logging_collector = on;" in result.fix
    assert "restart" in result.fix
    assert "falls back to sampling" in result.impact


def test_slow_query_log_uses_csvlog_before_15() -> None:
    changed = settings(log_destination="stderr")
    result = check("slow_query_log", settings=changed, server_version_num=140010)
    assert result.fix and "log_destination = 'stderr,csvlog'" in result.fix
    assert "pg_reload_conf" in result.fix


def test_slow_query_log_ok_with_csvlog() -> None:
    assert check(
        "slow_query_log", settings=settings(log_destination="stderr,csvlog")
    ).ok
    assert "100ms" in check("slow_query_log").detail


def test_monitoring_role_missing() -> None:
    result = check("monitoring_role", roles={})
    assert not result.ok
    assert result.fix and result.fix.startswith('GRANT pg_monitor TO "Watcher";')
    assert check("monitoring_role", roles={}, superuser=True).ok
    assert check("monitoring_role", roles={"pg_read_all_stats": True}).ok


def test_monitoring_role_quotes_the_role_name() -> None:
    result = check("monitoring_role", roles={}, role='odd "name"')
    assert result.fix and result.fix.startswith('GRANT pg_monitor TO "odd ""name""";')


def test_maintenance_before_17_counts_tables() -> None:
    result = check("maintenance_privileges", maintenance=Maintenance(24, 20))
    assert not result.ok
    assert "may not VACUUM/ANALYZE 20 of 24 tables" in result.detail
    assert result.fix and "owner" in result.fix


def test_maintenance_17_wants_pg_maintain() -> None:
    result = check(
        "maintenance_privileges",
        server_version_num=170002,
        maintenance=Maintenance(5, 5),
    )
    assert result.fix and result.fix.startswith('GRANT pg_maintain TO "Watcher";')
    assert check(
        "maintenance_privileges",
        server_version_num=170002,
        maintenance=Maintenance(5, 5),
        roles={"pg_maintain": True},
    ).ok


def test_maintenance_unreadable_is_reported() -> None:
    result = check(
        "maintenance_privileges",
        maintenance=None,
        unreadable={"maintenance": "maintenance: permission denied"},
    )
    assert not result.ok and "permission denied" in result.detail


def test_auto_explain_is_informational() -> None:
    changed = settings(
        shared_preload_libraries="pg_stat_statements",
        **{"auto_explain.log_min_duration": None},
    )
    result = check("auto_explain", settings=changed)
    assert not result.ok and result.impact.startswith("optional")
    assert result.fix and "add auto_explain to shared_preload_libraries" in result.fix
    assert check("auto_explain", settings=settings(shared_preload_libraries=None)).ok


def test_slow_query_source_names_the_source_and_the_fix() -> None:
    assert check("slow_query_source").detail.startswith("server log via file path")
    sampling = LogSource("sampling", "activity sampling only: hidden", "GRANT x;")
    result = check("slow_query_source", log_source=sampling)
    assert not result.ok
    assert result.detail == "activity sampling only: hidden"
    assert result.fix == "GRANT x;"
