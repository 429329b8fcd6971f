"""How many records or rows a read left out, and the first reason why.

Never a record's text: the reason names the kind of problem, so what a hostile or
broken record held (a password in a log line, say) is not repeated.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Skipped:
    """Records a read left out, and the first reason why (never a record's text)."""

    count: int = 0
    reason: str | None = None

    def add(self, reason: str, count: int = 1) -> None:
        self.count += count
        if self.reason is None and count:
            self.reason = reason

    def summary(self, noun: str) -> str | None:
        """``skipped 3 unreadable <noun>s (first: <reason>)``, or None."""
        if not self.count:
            return None
        plural = "" if self.count == 1 else "s"
        return f"skipped {self.count} unreadable {noun}{plural} (first: {self.reason})"
