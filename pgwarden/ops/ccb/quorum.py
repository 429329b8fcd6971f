"""The board's decision from the votes: binding voters, minimum approvals, veto."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

VOTES = ("approve", "reject", "abstain")


@dataclass(frozen=True)
class Vote:
    voter: str
    vote: str
    comment: str = ""


@dataclass(frozen=True)
class Rules:
    binding_voters: tuple[str, ...]
    min_approvals: int
    oncall_veto: bool = True
    max_rejections: int = 0


@dataclass(frozen=True)
class Outcome:
    decision: str  # "approved", "rejected" or "pending"
    approvals: int
    rejections: int
    reason: str


def latest(votes: Iterable[Vote]) -> list[Vote]:
    """Each voter's last vote counts."""
    by: dict[str, Vote] = {}
    for vote in votes:
        by[vote.voter] = vote
    return list(by.values())


def decide(votes: Sequence[Vote], rules: Rules, on_call: str | None) -> Outcome:
    """Approved with enough binding approvals and no veto; rejected on a veto or
    more binding rejections than allowed; pending otherwise."""
    counted = latest(votes)
    binding = [v for v in counted if _binding(v.voter, rules)]
    yes = sum(v.vote == "approve" for v in binding)
    no = sum(v.vote == "reject" for v in binding)
    veto = (
        rules.oncall_veto
        and on_call is not None
        and any(v.voter == on_call and v.vote == "reject" for v in counted)
    )
    if veto:
        return Outcome("rejected", yes, no, f"vetoed by the on-call engineer {on_call}")
    if no > rules.max_rejections:
        return Outcome("rejected", yes, no, f"{no} binding rejection(s)")
    if yes >= rules.min_approvals:
        return Outcome(
            "approved", yes, no, f"{yes} of {rules.min_approvals} binding approvals"
        )
    return Outcome(
        "pending", yes, no, f"{yes} of {rules.min_approvals} binding approvals so far"
    )


def _binding(voter: str, rules: Rules) -> bool:
    return not rules.binding_voters or voter in rules.binding_voters
