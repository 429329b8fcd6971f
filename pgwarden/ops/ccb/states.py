"""Change request states and the transitions the board allows between them.

draft → submitted → approved | rejected | deferred; deferred → submitted;
approved → scheduled → done | rolled_back. A rejected request may be redrafted.
"""

from __future__ import annotations

from pgwarden.errors import ConfigurationError

STATES = (
    "draft",
    "submitted",
    "approved",
    "rejected",
    "deferred",
    "scheduled",
    "done",
    "rolled_back",
)
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "draft": ("submitted",),
    "submitted": ("approved", "rejected", "deferred", "draft"),
    "deferred": ("submitted", "draft"),
    "rejected": ("draft",),
    "approved": ("scheduled", "deferred"),
    "scheduled": ("done", "rolled_back", "deferred"),
    "done": (),
    "rolled_back": (),
}
#: States only a board decision (quorum) may reach.
DECIDED = ("approved", "rejected")
PENDING = ("submitted", "deferred", "approved", "scheduled")
RISK_CLASSES = ("C1", "C2", "C3", "C4")


class TransitionError(ConfigurationError):
    """This change of state is not allowed."""


def check(request_id: int, current: str, wanted: str) -> None:
    """Raise :class:`TransitionError` (one line, exit 2) unless allowed."""
    if wanted not in STATES:
        raise TransitionError(f"unknown status {wanted!r}; one of {', '.join(STATES)}")
    if wanted not in TRANSITIONS[current]:
        allowed = ", ".join(TRANSITIONS[current]) or "none (final)"
        raise TransitionError(
            f"request {request_id} is {current}: cannot go to {wanted} "
            f"(allowed: {allowed})"
        )


def is_final(state: str) -> bool:
    return not TRANSITIONS[state]
