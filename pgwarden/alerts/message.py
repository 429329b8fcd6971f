"""Notices grouped into messages: one per group, kind and level."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pgwarden.alerts.model import Alert, Notice, NoticeKind, severity_rank
from pgwarden.ops.oncall import Person

LEVELS = {1: "L1 primary", 2: "L2 secondary", 3: "L3 lead", 4: "executive"}


@dataclass(frozen=True)
class Message:
    kind: NoticeKind
    group_key: str
    level: int
    alerts: tuple[Alert, ...]
    recipient: Person | None = None

    @property
    def severity(self) -> str:
        return max((a.severity for a in self.alerts), key=severity_rank)

    @property
    def title(self) -> str:
        state = "RESOLVED" if self.kind == "resolved" else "FIRING"
        extra = f" escalated to {LEVELS.get(self.level, self.level)}" if (
            self.kind == "escalation") else ""  # fmt: skip
        return f"[{state}:{len(self.alerts)}] {self.severity} {self.group_key}{extra}"

    def text(self) -> str:
        lines = [self.title]
        if self.recipient is not None:
            lines.append(f"on call: {self.recipient.name}")
        for a in self.alerts:
            lines.append(
                f"- #{a.id} {a.summary}: {a.description} (runbook {a.runbook})"
            )
        return "\n".join(lines)

    def payload(self) -> dict[str, Any]:
        """JSON body of the generic webhook (Alertmanager-like)."""
        return {
            "version": "1",
            "status": "resolved" if self.kind == "resolved" else "firing",
            "kind": self.kind,
            "group_key": self.group_key,
            "severity": self.severity,
            "escalation_level": self.level,
            "recipient": self.recipient.name if self.recipient else None,
            "title": self.title,
            "alerts": [_alert(a) for a in self.alerts],
        }


def _alert(a: Alert) -> dict[str, Any]:
    keys = (
        "id", "fingerprint", "rule", "severity", "state", "value", "summary",
        "description", "runbook", "started_at", "fired_at", "resolved_at",
    )  # fmt: skip
    data = a.as_dict()
    return {k: data[k] for k in keys} | {"labels": dict(a.labels), "target": a.target}


def group(notices: Iterable[Notice]) -> list[Message]:
    """One message per (group, kind, level), alerts in order of their id."""
    grouped: dict[tuple[str, str, int], list[Alert]] = {}
    for n in notices:
        grouped.setdefault((n.alert.group_key, n.kind, n.level), []).append(n.alert)
    return [
        Message(kind, key, level, tuple(alerts))  # type: ignore[arg-type]
        for (key, kind, level), alerts in grouped.items()
    ]
