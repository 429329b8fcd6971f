"""The worker's app, schedules and hooks, without a server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pgwarden.config import load_settings
from pgwarden.errors import ConfigurationError
from pgwarden.jobs.app import SPECS, build_app, lock_name, target_queue
from pgwarden.jobs.context import WorkerContext
from pgwarden.jobs.schema import migrations_after, parse_version, session_options
from pgwarden.jobs.tasks import LEASE_MARGIN_S, lease_seconds

TARGET = "db.example.com:5432/app"


def _context(**jobs: object) -> WorkerContext:
    settings = load_settings(overrides={"jobs": jobs} if jobs else None)
    return WorkerContext(
        settings=settings,
        repository_dsn="postgresql://u:secret@db.example.com/app",
        targets={TARGET: "postgresql://u:secret@db.example.com/app"},
        say=print,
    )


def test_every_task_is_scheduled_with_its_locks_per_target() -> None:
    app = build_app(_context())
    periodic = {
        key[0]: task.configure_kwargs
        for key, task in app.periodic_registry.periodic_tasks.items()
    }
    assert set(periodic) == {spec.name for spec in SPECS}
    collect = periodic["collect"]
    assert collect["lock"] == collect["queueing_lock"] == f"collect:{TARGET}"
    assert collect["task_kwargs"] == {"target": TARGET}
    assert collect["queue"] == target_queue("pgwarden", TARGET)  # workers serving it
    assert len(target_queue("pgwarden", TARGET)) < 30  # a LISTEN channel: < 64
    assert periodic["retention"]["queue"] == "pgwarden"
    assert periodic["retention"]["lock"] == "retention"  # the whole repository
    for kwargs in periodic.values():
        assert "secret" not in repr(kwargs)


def test_once_schedules_nothing() -> None:
    app = build_app(_context(), periodic=False)
    assert app.periodic_registry.periodic_tasks == {}
    assert set(app.tasks) >= {spec.name for spec in SPECS}


def test_a_bad_schedule_names_the_setting() -> None:
    with pytest.raises(ConfigurationError, match=r"jobs\.reports_cron: 'weekly'"):
        build_app(_context(reports_cron="weekly"))


def test_lock_names() -> None:
    collect, retention = SPECS[0], SPECS[2]
    assert lock_name(collect, TARGET) == f"collect:{TARGET}"
    assert lock_name(retention, TARGET) == "retention"


def test_a_lease_ends_before_the_next_tick() -> None:
    at = datetime(2026, 11, 29, 10, 0, 20, tzinfo=UTC).timestamp()
    assert lease_seconds("* * * * *", at) == 40 - LEASE_MARGIN_S
    assert lease_seconds("* * * * *", at + 39) == 0  # too late: one cycle only


def test_only_newer_migrations_are_applied_in_order() -> None:
    names = [
        "03.01.00_50_post_add_heartbeat.sql",
        "03.00.00_01_pre_cancel_notification.sql",
        "03.01.00_01_pre_add_heartbeat.sql",
        "02.14.01_01_add_indexes_for_fetch_job.sql",
        "__init__.py",
    ]
    assert migrations_after(names, parse_version("3.0.2")) == [
        "03.01.00_01_pre_add_heartbeat.sql",
        "03.01.00_50_post_add_heartbeat.sql",
    ]
    assert migrations_after(names, parse_version("3.10.0")) == []
    assert parse_version("3.10.0rc1") == (3, 10, 0)


def test_the_queue_keeps_the_dsns_own_session_options() -> None:
    dsn = "host=db options='-c lock_timeout=5s'"
    assert session_options(dsn, "pgwarden_jobs") == (
        "-c lock_timeout=5s -c search_path=pgwarden_jobs"
    )
