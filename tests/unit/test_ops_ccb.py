"""The change request state machine, quorum with veto, the hash chain, DORA."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pgwarden.errors import ConfigurationError
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


KEY = "k" * 32


def _chain(
    n: int, key: str | None = None, signed_from: int = 1
) -> list[dict[str, object]]:
    entries: list[dict[str, object]] = []
    prev = decision_log.GENESIS
    for seq in range(1, n + 1):
        entry: dict[str, object] = {
            "seq": seq,
            "ts": T0 + timedelta(minutes=seq),
            "request_id": 1,
            "kind": "vote",
            "actor": "ana",
            "detail": {"vote": "approve"},
        }
        signer = key if seq >= signed_from else None
        entry |= {
            "prev_hash": prev,
            "hash": decision_log.stored_hash(prev, entry, signer),
        }
        prev = str(entry["hash"])
        entries.append(entry)
    return entries


def _recompute(entries: list[dict[str, object]], start: int) -> None:
    """What someone with write access and no key can do: recompute the chain."""
    prev = str(entries[start - 2]["hash"]) if start > 1 else decision_log.GENESIS
    for entry in entries[start - 1 :]:
        entry["prev_hash"] = prev
        entry["hash"] = prev = decision_log.entry_hash(prev, entry)


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


def test_a_recomputed_chain_passes_the_plain_check_only() -> None:
    """Why the chain needs an anchor: without key or witness, a rewrite is whole."""
    entries = _chain(5)
    entries[2]["actor"] = "mallory"
    _recompute(entries, 3)
    assert decision_log.verify(entries) is None
    truncated = _chain(5)[:-1]
    assert decision_log.verify(truncated) is None


def test_signed_entries_resist_recomputation() -> None:
    entries = _chain(5, KEY)
    assert all(decision_log.is_signed(str(e["hash"])) for e in entries)
    assert decision_log.verify(entries, KEY) is None
    entries[2]["actor"] = "mallory"
    _recompute(entries, 3)
    broken = decision_log.verify(entries, KEY)
    assert broken == decision_log.Broken(
        3,
        "entry 3 is not signed although entry 1 before it is: it was rewritten, "
        "or written without the log key",
    )


def test_kept_signatures_do_not_match_a_recomputed_entry() -> None:
    entries = _chain(5, KEY)
    entries[2]["actor"] = "mallory"
    prev = str(entries[1]["hash"])
    for entry in entries[2:]:
        _, signature = decision_log.split(str(entry["hash"]))
        chain = decision_log.entry_hash(prev, entry)
        entry["prev_hash"], entry["hash"] = prev, f"{chain}:{signature}"
        prev = str(entry["hash"])
    broken = decision_log.verify(entries, KEY)
    assert broken is not None and broken.seq == 3
    assert "signature that does not match the log key" in broken.reason
    other = decision_log.verify(_chain(3, KEY), "another key of 32 characters.....")
    assert other is not None and other.seq == 1


def test_a_log_fully_rewritten_without_the_key_is_not_signed() -> None:
    entries = _chain(4, KEY)
    for entry in entries:
        entry["hash"] = decision_log.split(str(entry["hash"]))[0]
    _recompute(entries, 1)
    broken = decision_log.verify(entries, KEY)
    assert broken is not None and broken.seq == 4
    assert "none of the 4 entries is signed" in broken.reason


def test_a_key_set_later_signs_from_then_on() -> None:
    entries = _chain(6, KEY, signed_from=4)
    assert decision_log.verify(entries, KEY) is None
    with pytest.raises(decision_log.LogKeyMissing, match="entries 4 to 6 are signed"):
        decision_log.verify(entries)


def test_signed_entries_are_not_verified_without_the_key() -> None:
    entries = _chain(3, KEY)
    with pytest.raises(decision_log.LogKeyMissing) as info:
        decision_log.verify(entries)
    assert "PGWARDEN_CCB__LOG_KEY" in str(info.value) and KEY not in str(info.value)
    assert info.value.exit_code == 2
    entries[1]["actor"] = "mallory"
    broken = decision_log.verify(entries)
    assert broken is not None and "entry 2 was changed" in broken.reason


def test_anchors_find_truncation_and_rewrites() -> None:
    entries = _chain(5)
    head = decision_log.anchor(entries, "witness")
    assert head is not None and head.seq == 5
    assert decision_log.verify(entries, anchors=[head]) is None
    broken = decision_log.verify(entries[:-1], anchors=[head])
    assert broken == decision_log.Broken(
        5,
        "the log ends at entry 4, but entry 5 was seen before (witness): entries "
        "were removed from its end",
    )
    entries[1]["actor"] = "mallory"
    _recompute(entries, 2)
    rewritten = decision_log.verify(entries, anchors=[head])
    assert rewritten == decision_log.Broken(
        5, "entry 5 is not the one seen before (witness): the log was rewritten"
    )
    longer = _chain(7)
    assert decision_log.verify(longer, anchors=[head]) is None


def test_anchor_from_the_minutes() -> None:
    entries = _chain(3, KEY)
    head = decision_log.anchor(entries, "the log")
    assert head is not None and len(head.hash) == 64
    short = decision_log.parse_anchor(f"3:{head.hash[:16].upper()}", "--head")
    assert decision_log.verify(entries, KEY, [short]) is None
    for bad in ("3", "x:abc", f"0:{head.hash}", "3:" + "z" * 20, "3:abcdef"):
        with pytest.raises(ConfigurationError, match="SEQ:HASH"):
            decision_log.parse_anchor(bad, "--head")


def test_a_signed_log_is_extended_only_with_its_key() -> None:
    head = str(_chain(2, KEY)[-1]["hash"])
    decision_log.check_head(None, None)
    decision_log.check_head(str(_chain(2)[-1]["hash"]), None)
    decision_log.check_head(head, KEY)
    with pytest.raises(decision_log.LogKeyMissing, match="PGWARDEN_CCB__LOG_KEY"):
        decision_log.check_head(head, None)
    with pytest.raises(decision_log.LogKeyMismatch, match="not signed with this"):
        decision_log.check_head(head, "another key of 32 characters.....")


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
