"""The change request state machine, quorum with veto, the hash chain, DORA."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pgwarden.ops.ccb import decisions as decision_log
from pgwarden.ops.ccb import dora
from pgwarden.ops.ccb import states as ccb
from pgwarden.ops.ccb.agenda import meetings, overdue
from pgwarden.ops.ccb.quorum import Rules, Vote, decide

T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)


def test_allowed_path() -> None:
    path = ["draft", "submitted", "approved", "scheduled", "done"]
    for current, wanted in itertools.pairwise(path):
        ccb.check(1, current, wanted)
    assert ccb.is_final("done") and ccb.is_final("rolled_back")


def test_forbidden_transition_is_one_line_exit_2() -> None:
    with pytest.raises(ccb.TransitionError) as info:
        ccb.check(7, "draft", "scheduled")
    assert str(info.value) == (
        "request 7 is draft: cannot go to scheduled (allowed: submitted)"
    )
    assert info.value.exit_code == 2
    with pytest.raises(ccb.TransitionError, match="final"):
        ccb.check(7, "done", "draft")


RULES = Rules(("ana", "ben", "cy"), min_approvals=2, oncall_veto=True)


def test_quorum() -> None:
    one = [Vote("ana", "approve")]
    assert decide(one, RULES, None).decision == "pending"
    outsider = [*one, Vote("zed", "approve")]
    assert decide(outsider, RULES, None).decision == "pending"
    two = [*one, Vote("ben", "approve")]
    assert decide(two, RULES, None).decision == "approved"
    changed = [*two, Vote("ben", "abstain")]
    assert decide(changed, RULES, None).approvals == 1
    assert decide([Vote("cy", "reject")], RULES, None).decision == "rejected"


def test_on_call_veto() -> None:
    votes = [Vote("ana", "approve"), Vote("ben", "approve"), Vote("oli", "reject")]
    vetoed = decide(votes, RULES, on_call="oli")
    assert vetoed.decision == "rejected"
    assert "vetoed by the on-call engineer oli" in vetoed.reason
    no_veto = Rules(RULES.binding_voters, 2, oncall_veto=False)
    assert decide(votes, no_veto, on_call="oli").decision == "approved"


def _chain(n: int) -> list[dict[str, object]]:
    entries, prev = [], decision_log.GENESIS
    for seq in range(1, n + 1):
        entry = {
            "seq": seq,
            "ts": T0 + timedelta(minutes=seq),
            "request_id": 1,
            "kind": "vote",
            "actor": "ana",
            "detail": {"vote": "approve"},
        }
        entry |= {"prev_hash": prev, "hash": decision_log.entry_hash(prev, entry)}
        prev = str(entry["hash"])
        entries.append(entry)
    return entries


def test_hash_chain_names_the_first_broken_entry() -> None:
    entries = _chain(4)
    assert decision_log.verify(entries) is None
    entries[2] = {**entries[2], "actor": "mallory"}
    broken = decision_log.verify(entries)
    assert broken is not None and broken.seq == 3
    assert "entry 3 was changed" in broken.reason
    missing = _chain(4)
    del missing[1]
    assert decision_log.verify(missing) == decision_log.Broken(
        3, "entry 2 is missing (found 3)"
    )


def test_dora_figures() -> None:
    rows = [
        {
            "deployed_at": T0 + timedelta(days=d),
            "outcome": o,
            "submitted_at": T0 + timedelta(days=d) - timedelta(hours=24),
            "restored_at": T0 + timedelta(days=d, hours=2) if o != "success" else None,
        }
        for d, o in enumerate(["success"] * 18 + ["rolled-back", "hotfix"])
    ]
    got = dora.figures(rows, T0, T0 + timedelta(days=28), target_success_pct=95)
    assert got.deployments == 20 and got.failed == 2
    assert got.change_fail_rate_pct == pytest.approx(10)
    assert got.meets_target is False
    assert got.per_week == 5
    assert got.lead_time_p50_hours == 24
    assert got.time_to_restore_p50_hours == 2
    empty = dora.figures([], T0, T0 + timedelta(days=7))
    assert empty.change_fail_rate_pct is None and empty.meets_target is None


def test_meeting_dates_and_overdue_items() -> None:
    first = datetime(2026, 1, 5).date()
    got = meetings(first, 14, datetime(2026, 11, 29).date())
    assert (got.last, got.next) == (
        datetime(2026, 11, 23).date(),
        datetime(2026, 12, 7).date(),
    )
    assert meetings(first, 14, first).last is None
    items: list[dict[str, Any]] = [
        {"due": first, "done_at": None},
        {"due": first + timedelta(days=9)},
    ]
    assert overdue(items, first + timedelta(days=1)) == [items[0]]
