"""Alerts as plain frozen records: rule output, alert state, notices."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Severity = Literal["info", "warning", "critical", "emergency"]
SEVERITIES: tuple[Severity, ...] = ("info", "warning", "critical", "emergency")
State = Literal["pending", "firing", "acknowledged", "resolved"]
NoticeKind = Literal["firing", "repeat", "escalation", "resolved"]
RUNBOOK_BASE = "docs/runbooks"


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else 0


def fingerprint(target: str, rule: str, labels: Mapping[str, str]) -> str:
    """Stable identity of a condition: target, rule and labels (not the value)."""
    data = json.dumps([target, rule, sorted(labels.items())], separators=(",", ":"))
    return hashlib.sha256(data.encode()).hexdigest()[:16]


def runbook_for(rule: str) -> str:
    return f"{RUNBOOK_BASE}/{rule}.md"


@dataclass(frozen=True)
class Observation:
    """A rule's condition holding now, with the measured value."""

    rule: str
    severity: Severity
    value: float
    summary: str
    description: str
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Alert:
    """One occurrence of a condition, from pending to resolved."""

    target: str
    fingerprint: str
    rule: str
    severity: Severity
    state: State
    labels: Mapping[str, str]
    value: float | None
    summary: str
    description: str
    runbook: str
    group_key: str
    started_at: datetime
    last_seen_at: datetime
    fired_at: datetime | None = None
    acked_at: datetime | None = None
    acked_by: str | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    last_notified_at: datetime | None = None
    notifications: int = 0
    escalation_level: int = 0
    escalated_at: datetime | None = None
    muted_by: str | None = None
    id: int | None = None

    @property
    def open(self) -> bool:
        return self.state != "resolved"

    def as_dict(self) -> dict[str, Any]:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        data["labels"] = dict(self.labels)
        for key, value in data.items():
            if isinstance(value, datetime):
                data[key] = value.isoformat()
        return data


@dataclass(frozen=True)
class Notice:
    """Something to tell people about one alert."""

    kind: NoticeKind
    alert: Alert
    level: int = 1
