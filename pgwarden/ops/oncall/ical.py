"""The schedule as an RFC 5545 calendar (one VEVENT per shift, times in UTC)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime

from pgwarden.ops.oncall.schedule import Shift

PRODID = "-//pgwarden//on-call schedule//EN"


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _escape(text: str) -> str:
    return (
        text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
        .replace("\n", "\\n")
    )  # fmt: skip


def fold(line: str) -> str:
    """Lines longer than 75 octets continue on lines starting with a space."""
    data = line.encode()
    if len(data) <= 75:
        return line
    parts, limit = [], 75
    while data:
        cut = min(limit, len(data))
        while cut < len(data) and (data[cut] & 0xC0) == 0x80:
            cut -= 1  # never split a UTF-8 sequence
        parts.append(data[:cut].decode())
        data, limit = data[cut:], 74
    return "\r\n ".join(parts)


def calendar(found: Iterable[Shift], name: str, now: datetime) -> str:
    lines = [
        "BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH", f"X-WR-CALNAME:{_escape(name)}",
    ]  # fmt: skip
    for shift in found:
        lines += _event(shift, now)
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)


def _event(shift: Shift, now: datetime) -> list[str]:
    who = shift.person or "NOBODY (gap)"
    key = f"{shift.layer}|{shift.start.isoformat()}|{who}"
    uid = hashlib.sha1(key.encode()).hexdigest()[:20] + "@pgwarden"
    summary = f"On call ({shift.layer}): {who}"
    if shift.override:
        summary += " [override]"
    return [
        "BEGIN:VEVENT", f"UID:{uid}", f"DTSTAMP:{_stamp(now)}",
        f"DTSTART:{_stamp(shift.start)}", f"DTEND:{_stamp(shift.end)}",
        f"SUMMARY:{_escape(summary)}", f"CATEGORIES:{_escape(shift.layer)}",
        "TRANSP:TRANSPARENT", "END:VEVENT",
    ]  # fmt: skip
