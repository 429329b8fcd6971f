"""One slow statement as pgwarden stores it, whatever saw it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pgwarden.skipped import Skipped
from pgwarden.slowlog.severity import DEFAULT_THRESHOLDS, Severity, Thresholds
from pgwarden.sqltext import normalise, resolve_caller

Source = Literal["server_log", "activity", "application", "statements"]
SOURCES: tuple[Source, ...] = ("server_log", "activity", "application")


@dataclass(frozen=True)
class SlowQuery:
    """A slow execution: normalised text only, never literal values."""

    ts: datetime
    duration_ms: float
    query: str
    fingerprint: str
    severity: Severity
    source: Source
    database: str | None = None
    username: str | None = None
    application_name: str | None = None
    caller: str | None = None
    queryid: int | None = None
    plan: str | None = None
    pid: int | None = None
    backend_start: datetime | None = None
    started: datetime | None = None

    @property
    def started_at(self) -> datetime:
        """When it started: known for sampled statements, else ts - duration."""
        if self.started is not None:
            return self.started
        return self.ts - timedelta(milliseconds=self.duration_ms)


@dataclass(frozen=True)
class Seen:
    """What a source observed, before normalisation and classification."""

    ts: datetime
    duration_ms: float
    query: str
    source: Source
    database: str | None = None
    username: str | None = None
    application_name: str | None = None
    reported_caller: str | None = None
    queryid: int | None = None
    plan: str | None = None
    pid: int | None = None
    backend_start: datetime | None = None
    started: datetime | None = None


def classify(
    seen: Seen, thresholds: Thresholds = DEFAULT_THRESHOLDS
) -> SlowQuery | None:
    """Normalise and classify; None when the statement is not slow."""
    severity = thresholds.classify(seen.duration_ms)
    if severity is None:
        return None
    norm = normalise(seen.query)
    caller = resolve_caller(norm.comments, seen.reported_caller, seen.application_name)
    return SlowQuery(
        ts=seen.ts,
        duration_ms=seen.duration_ms,
        query=norm.text,
        fingerprint=norm.fingerprint,
        severity=severity,
        source=seen.source,
        database=seen.database,
        username=seen.username,
        application_name=seen.application_name or None,
        caller=caller,
        queryid=seen.queryid or None,
        plan=seen.plan,
        pid=seen.pid,
        backend_start=seen.backend_start,
        started=seen.started,
    )


def classify_all(
    seen: Iterable[Seen],
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    skipped: Skipped | None = None,
) -> list[SlowQuery]:
    """The slow ones of ``seen``, classified one by one.

    A statement text the normaliser cannot take (any user may write one) costs only
    itself: it is left out and counted in ``skipped``.
    """
    found = []
    for item in seen:
        try:
            query = classify(item, thresholds)
        except Exception as exc:  # hostile text must not cost the others
            if skipped is None:
                raise
            skipped.add(f"statement text not normalised ({type(exc).__name__})")
            continue
        if query is not None:
            found.append(query)
    return found
