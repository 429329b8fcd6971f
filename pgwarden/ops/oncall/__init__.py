"""On-call: the roster, who is on call when, the schedule check and iCalendar export."""

from pgwarden.ops.oncall.check import Finding, check, shares
from pgwarden.ops.oncall.ical import calendar
from pgwarden.ops.oncall.roster import Override, Person, Roster, from_settings
from pgwarden.ops.oncall.schedule import (
    Shift,
    escalation_target,
    now_on_call,
    on_call,
    shifts,
)

__all__ = [
    "Finding",
    "Override",
    "Person",
    "Roster",
    "Shift",
    "calendar",
    "check",
    "escalation_target",
    "from_settings",
    "now_on_call",
    "on_call",
    "shares",
    "shifts",
]
