"""Severity of a slow statement from its duration and the configured thresholds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pgwarden.config import SlowQuerySettings

Severity = Literal["warning", "critical", "emergency"]
SEVERITIES: tuple[Severity, ...] = ("warning", "critical", "emergency")


@dataclass(frozen=True)
class Thresholds:
    warning_ms: float = 100.0
    critical_ms: float = 500.0
    emergency_ms: float = 1000.0

    @classmethod
    def from_settings(cls, settings: SlowQuerySettings) -> Thresholds:
        return cls(settings.warning_ms, settings.critical_ms, settings.emergency_ms)

    def classify(self, duration_ms: float) -> Severity | None:
        """The severity, or None below the warning threshold (not slow)."""
        if duration_ms >= self.emergency_ms:
            return "emergency"
        if duration_ms >= self.critical_ms:
            return "critical"
        if duration_ms >= self.warning_ms:
            return "warning"
        return None


DEFAULT_THRESHOLDS = Thresholds()
