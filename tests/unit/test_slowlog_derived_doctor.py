"""The ``slow_query_sources`` doctor check: which sources are on, what each sees."""

from __future__ import annotations

from typing import Any

from pgwarden.doctor import Check, DoctorFacts, evaluate
from pgwarden.slowlog import LogSource

HOSTED = LogSource(
    "sampling", "activity sampling only: /rdsdbdata/log is not readable", "GRANT x;"
)


def sources(**changes: Any) -> Check:
    values: dict[str, Any] = {
        "server_version_num": 160004, "role": "watcher",
        "pg_stat_statements": "readable", "log_source": HOSTED,
    }  # fmt: skip
    values.update(changes)
    checks = evaluate(DoctorFacts(**values))
    return next(c for c in checks if c.name == "slow_query_sources")


def test_a_hosted_server_gets_the_derived_source() -> None:
    found = sources(minmax_off="needs PostgreSQL 17 or newer")
    assert found.ok and found.fix is None
    assert "server log: off (/rdsdbdata/log is not readable)" in found.detail
    assert "activity sampling: on" in found.detail
    assert "derived from pg_stat_statements: on" in found.detail
    assert "interval maximum: unavailable, needs PostgreSQL 17" in found.detail


def test_with_the_server_log_the_derived_source_stands_by() -> None:
    found = sources(log_source=LogSource("file", "server log via file path: /log"))
    assert found.ok
    assert "server log: on" in found.detail and "standing by" in found.detail


def test_without_log_or_statistics_the_check_fails_with_a_fix() -> None:
    found = sources(pg_stat_statements="denied")
    assert not found.ok and found.fix
    assert "pg_stat_statements is denied" in found.detail
    off = sources(statements_source=False)
    assert not off.ok and "statements_source = false" in off.detail


def test_the_opted_in_maximum_is_named() -> None:
    assert "interval maximum: on" in sources(minmax_reset=True).detail
    assert "available, off" in sources().detail
