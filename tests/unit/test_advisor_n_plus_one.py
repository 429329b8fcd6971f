"""N+1 findings combined from call ratios, caller tags and logged executions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pgwarden.advise.queries.executions import statement_index, statement_of
from pgwarden.advise.queries.n_plus_one import n_plus_one
from pgwarden.advise.queries.sequence import Execution, execution, sequence, streams
from pgwarden.advise.workload import Statement, parse
from pgwarden.config import AdvisorSettings
from pgwarden.sqltext.literals import normalise

CAT = {
    "Answer": ("id", "assessmentId", "value"),
    "Assessment": ("id", "tenantId"),
    "Task": ("id", "tenantId"),
}
SETTINGS = AdvisorSettings()
T0 = datetime(2026, 5, 1, 12, tzinfo=UTC)
OPEN, LIST = "open /a", "list /l"
PARENT, CHILD, OTHER_PARENT, TASKS = 1, 2, 3, 4


def _tag(caller: str | None) -> str:
    if caller is None:
        return ""
    action, route = caller.split()
    return f" /*action='{action}',route='{route}'*/"


def _statements(
    child_calls: int = 200,
    child_tag: str | None = OPEN,
    parent_tag: str | None = OPEN,
    other_tag: str | None = LIST,
) -> list[Statement]:
    return [
        Statement(PARENT, 'SELECT id FROM "Answer" WHERE "assessmentId" = $1'
                  + _tag(parent_tag), calls=10, total_ms=5.0, rows=200),
        Statement(CHILD, 'SELECT * FROM "Answer" WHERE id = $1' + _tag(child_tag),
                  calls=child_calls, total_ms=child_calls * 0.2, rows=child_calls),
        Statement(OTHER_PARENT, 'SELECT id FROM "Task" WHERE "tenantId" = $1'
                  + _tag(other_tag), calls=10, total_ms=5.0, rows=100),
    ]  # fmt: skip


def _advise(
    statements: list[Statement], executions: list[Execution] | None = None
) -> dict[tuple[str | None, str], dict[str, Any]]:
    parsed = [parse(s.text, CAT) for s in statements]
    found = n_plus_one(statements, parsed, SETTINGS, executions or [])
    return {
        (f.caller, f.evidence["parent_queryid"]): f.as_dict()
        for f in found  # keyed by (caller, parent)
    }


class Log:
    """Executions as the slow query log would hold them, one backend at a time."""

    def __init__(self) -> None:
        self.items: list[Execution] = []
        self.clock = T0

    def run(self, pid: int | None, caller: str | None, statement: int | None,
            ms: float = 0.2, pause_s: float = 0.001) -> None:  # fmt: skip
        start = self.clock + timedelta(seconds=pause_s)
        self.clock = start + timedelta(milliseconds=ms)
        row = {"ts": self.clock, "started_at": start, "source": "server_log",
               "caller": caller, "application_name": "app", "pid": pid,
               "id": len(self.items) + 1}  # fmt: skip
        self.items.append(execution(row, statement))

    def loop(self, pid: int, caller: str, parent: int, children: int) -> None:
        self.run(pid, None, None)  # BEGIN: no caller, breaks nothing
        self.run(pid, caller, parent)
        for _ in range(children):
            self.run(pid, caller, CHILD)
        self.run(pid, "app", None)  # COMMIT, named by application_name only


def test_ratio_and_caller_tag_give_a_medium_finding() -> None:
    found = _advise(_statements())
    assert list(found) == [(OPEN, str(PARENT))]
    f = found[(OPEN, str(PARENT))]
    assert f["queryid"] == str(CHILD) and f["severity"] == "warning"
    assert f["evidence"]["confidence"] == "medium"
    assert f["evidence"]["callers"] == [{"caller": OPEN, "share": 1.0, "calls": 200}]
    assert "sequence" not in f["evidence"]["sources"]


def test_logged_loops_make_it_high_confidence() -> None:
    log = Log()
    for pid in (101, 102, 101, 102, 103):
        log.loop(pid, OPEN, PARENT, children=20)
    f = _advise(_statements(), log.items)[(OPEN, str(PARENT))]
    assert f["evidence"]["confidence"] == "high"
    seq = f["evidence"]["sources"]["sequence"]
    assert seq["parent_runs"] == 5 and seq["children_after_parent"] == 100
    assert seq["longest_run"] == 20 and seq["children_elsewhere"] == 0
    assert seq["sources"] == {"server_log": 100}
    assert f["evidence"]["sources"]["slow_query_log"] == {"server_log": 100}
    assert "= ANY($1)" in f["fix"] and f["evidence"]["round_trips_removed"] == 190


def test_a_child_shared_by_two_callers_is_split_by_their_executions() -> None:
    # pg_stat_statements kept the child's text as OPEN ran it first; both loop on it
    statements = _statements(child_calls=300, other_tag=LIST)
    log = Log()
    for pid in (1, 2, 3, 4):
        log.loop(pid, OPEN, PARENT, children=20)
    for pid in (1, 2):
        log.loop(pid, LIST, OTHER_PARENT, children=20)
    found = _advise(statements, log.items)
    assert set(found) == {(OPEN, str(PARENT)), (LIST, str(OTHER_PARENT))}
    open_, list_ = found[(OPEN, str(PARENT))], found[(LIST, str(OTHER_PARENT))]
    callers = [{"caller": OPEN, "share": 0.667, "calls": 200},
               {"caller": LIST, "share": 0.333, "calls": 100}]  # fmt: skip
    assert open_["evidence"]["callers"] == list_["evidence"]["callers"] == callers
    assert open_["evidence"]["child_calls"] == 200
    assert list_["evidence"]["child_calls"] == 100
    assert open_["evidence"]["calls_per_parent_call"] == 20.0
    assert list_["evidence"]["calls_per_parent_call"] == 10.0
    assert {open_["evidence"]["confidence"], list_["evidence"]["confidence"]} == {
        "high"
    }
    # together the two findings save what the child's calls cost, not twice that
    assert open_["saved_ms"] + list_["saved_ms"] == pytest.approx(300 * 0.2 - 20 * 0.2)


def test_a_child_of_another_caller_is_not_an_n_plus_one() -> None:
    assert _advise(_statements(child_tag=LIST, other_tag="x /x")) == {}
    # the tag says OPEN, but every logged execution is LIST's and no LIST parent loops
    log = Log()
    for _ in range(40):
        log.run(7, LIST, CHILD, pause_s=3)
    found = _advise(_statements(other_tag="x /x"), log.items)
    assert found == {}


def test_children_logged_away_from_the_parent_are_not_reported() -> None:
    log = Log()
    for _ in range(10):
        log.run(1, OPEN, PARENT)
    for _ in range(200):  # same caller, another backend, never after the parent
        log.run(2, OPEN, CHILD, pause_s=0.5)
    assert _advise(_statements(), log.items) == {}
    # a log holding a few of the executions cannot clear it: medium, as without log
    few = Log()
    few.run(1, OPEN, PARENT)
    for _ in range(6):
        few.run(2, OPEN, CHILD, pause_s=5)
    f = _advise(_statements(), few.items)[(OPEN, str(PARENT))]
    assert f["evidence"]["confidence"] == "medium"
    assert f["evidence"]["sources"]["sequence"]["children_elsewhere"] == 6


def test_another_callers_request_or_a_pause_ends_a_run() -> None:
    log = Log()
    log.run(1, OPEN, PARENT)
    log.run(1, OPEN, CHILD)
    log.run(1, LIST, OTHER_PARENT)  # the pooled connection serves another request
    log.run(1, OPEN, CHILD)
    log.run(1, OPEN, PARENT)
    log.run(1, OPEN, CHILD)
    log.run(1, OPEN, CHILD, pause_s=5)  # long after: not the same loop
    runs = sequence(streams(log.items), OPEN, PARENT, CHILD)
    assert (runs.parent_runs, runs.linked, runs.unlinked) == (2, 2, 2)
    assert runs.longest_run == 1 and not runs.supports


def test_without_any_caller_only_a_matching_row_count_is_reported_low() -> None:
    found = _advise(_statements(child_tag=None, parent_tag=None, other_tag=None))
    assert list(found) == [(None, str(PARENT))]  # 20 rows per call, 20 calls each
    f = found[(None, str(PARENT))]
    assert f["evidence"]["confidence"] == "low" and f["severity"] == "info"
    assert f["evidence"]["callers"] == []
    # 10 rows per call of the only parent against 20 calls: not a loop of the rows
    statements = _statements(child_tag=None, parent_tag=None, other_tag=None)
    statements = [s for s in statements if s.queryid != PARENT]
    assert _advise(statements) == {}


def test_application_reports_form_one_stream_per_caller() -> None:
    rows = [
        {"ts": T0 + timedelta(milliseconds=n), "started_at": T0, "source":
         "application", "caller": OPEN, "application_name": "web", "pid": None,
         "id": n} for n in range(3)
    ]  # fmt: skip
    items = [execution(r, PARENT if r["id"] == 0 else CHILD) for r in rows]
    assert {e.stream for e in items} == {("application", "web", OPEN)}
    runs = sequence(streams(items), OPEN, PARENT, CHILD)
    assert (runs.parent_runs, runs.linked, runs.sources) == (1, 2, {"application": 2})


def test_logged_executions_are_tied_to_statements_by_queryid_or_text() -> None:
    statements = _statements()
    index = statement_index(statements)
    logged = normalise("SELECT * FROM \"Answer\" WHERE id = 42 /*action='x'*/")
    assert statement_of(
        {"queryid": None, "fingerprint": logged.fingerprint}, index
    ) == (CHILD)
    assert statement_of({"queryid": PARENT, "fingerprint": "?"}, index) == PARENT
    assert statement_of({"queryid": 999, "fingerprint": "?"}, index) is None
