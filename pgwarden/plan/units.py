"""How capacity figures read: bytes in binary units, short spans of time."""

from __future__ import annotations

UNITS = ("B", "kB", "MB", "GB", "TB", "PB")


def size(value: float | None) -> str:
    """``1536`` → ``1.5 kB``; None → ``n/a``."""
    if value is None:
        return "n/a"
    amount = float(value)
    for unit in UNITS:
        if abs(amount) < 1024 or unit == UNITS[-1]:
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} PB"


def span(days: float) -> str:
    """``2.5`` → ``2.5 days``; under a day in hours, minutes or seconds."""
    for unit, per_day in (("days", 1), ("hours", 24), ("minutes", 1440)):
        if days * per_day >= 1:
            digits = 1 if per_day < 1440 else 0
            return f"{days * per_day:.{digits}f} {unit}"
    return f"{days * 86400:.0f} seconds"
