"""Error rates: errors by class per minute and as a share of calls, over a period.

The one function behind the overview's error rate, ``pgwarden metrics``, the
``pgwarden_error*`` series of ``/metrics``, the ``error_rate`` alert and the
post-launch reviews. It reads what :mod:`pgwarden.slowlog.failures` counted.

The server log and the application see the same failures, so they are never
added: per class the larger of the two counts is taken. The calls are the
application's reported calls when it reported any, else the collected
pg_stat_statements calls of the period plus the errors (pg_stat_statements counts
only statements that completed). A source read or reported at no time in the
period is "not recorded": the rate and share are then None, never 0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg

from pgwarden import pg
from pgwarden.slowlog.failures import APPLICATION, FEATURE, GROUP, NAMED, SERVER_LOG

SOURCES = (SERVER_LOG, APPLICATION)


@dataclass(frozen=True)
class SourceErrors:
    """What one source counted in the period."""

    source: str
    recorded: bool
    by_class: Mapping[str, int] = field(default_factory=dict)
    calls: int | None = None

    @property
    def errors(self) -> int:
        return sum(self.by_class.values())

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "recorded": self.recorded,
                "errors": self.errors, "by_class": dict(self.by_class),
                "calls": self.calls}  # fmt: skip


@dataclass(frozen=True)
class ErrorRates:
    """Errors of a period ``[since, until)``, by class, per minute and per call."""

    since: datetime
    until: datetime
    sources: tuple[SourceErrors, ...]
    #: the headline classes: per class the larger count of the sources
    by_class: Mapping[str, int]
    calls: int | None
    calls_source: str | None
    #: errors per minute start (UTC), headline counts, minutes with errors only
    by_minute: tuple[tuple[datetime, int], ...] = ()

    @property
    def minutes(self) -> float:
        return max((self.until - self.since).total_seconds() / 60, 0.0)

    @property
    def recorded(self) -> bool:
        return any(s.recorded for s in self.sources)

    @property
    def errors(self) -> int:
        return sum(self.by_class.values())

    @property
    def per_minute(self) -> float | None:
        if not self.recorded or self.minutes <= 0:
            return None
        return self.errors / self.minutes

    @property
    def share(self) -> float | None:
        """Errors / calls; None when the calls are unknown or none."""
        if not self.recorded or not self.calls:
            return None
        return min(self.errors / self.calls, 1.0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(), "until": self.until.isoformat(),
            "minutes": self.minutes, "recorded": self.recorded,
            "calls": self.calls, "calls_source": self.calls_source,
            "errors": self.errors, "by_class": dict(self.by_class),
            "per_minute": self.per_minute, "share": self.share,
            "by_minute": [{"minute": m.isoformat(), "errors": n}
                          for m, n in self.by_minute],
            "sources": [s.as_dict() for s in self.sources],
        }  # fmt: skip


def error_rates(
    repo: psycopg.Connection[Any], target_id: int, since: datetime, until: datetime
) -> ErrorRates:
    """The errors of ``[since, until)`` (whole UTC minutes starting in it).

    :class:`~pgwarden.errors.MissingCapability` when the repository lacks the
    tables (``pgwarden init``).
    """
    params = {"target_id": target_id, "since": since, "until": until}
    rows = _rows(repo, "counts", params)
    recorded = {
        r["source"]: bool(r["recorded"]) for r in _rows(repo, "sources", params)
    }
    app_calls = _one(_rows(repo, "calls", params))
    per_source: dict[str, Counter[str]] = {s: Counter() for s in SOURCES}
    for row in rows:
        per_source[row["source"]][row["class"]] += int(row["errors"])
    sources = tuple(
        SourceErrors(s, recorded.get(s, False) or bool(per_source[s]),
                     _ordered(per_source[s]),
                     app_calls if s == APPLICATION else None)
        for s in SOURCES
    )  # fmt: skip
    headline = _ordered(_larger(*per_source.values()))
    calls, basis = app_calls, APPLICATION if app_calls is not None else None
    if calls is None:
        statements = _one(_rows(repo, "statement_calls", params))
        if statements is not None:
            calls, basis = statements + sum(headline.values()), "statements"
    return ErrorRates(since, until, sources, headline, calls, basis, _minutes(rows))


def _rows(
    conn: psycopg.Connection[Any], name: str, params: Mapping[str, Any]
) -> list[dict[str, Any]]:
    return pg.named_rows(conn, GROUP, name, params, FEATURE)


def _one(rows: list[dict[str, Any]]) -> int | None:
    value = rows[0]["calls"] if rows else None
    return None if value is None else int(value)


def _larger(*counts: Counter[str]) -> Counter[str]:
    found: Counter[str] = Counter()
    for each in counts:
        for name, n in each.items():
            found[name] = max(found[name], n)
    return found


def _ordered(counts: Mapping[str, int]) -> dict[str, int]:
    """The non-zero classes: the named ones in their order, then the others."""
    rank = {name: i for i, name in enumerate(NAMED)}
    keys = sorted((k for k, n in counts.items() if n),
                  key=lambda k: (rank.get(k, len(rank)), k))  # fmt: skip
    return {k: counts[k] for k in keys}


def _minutes(rows: list[dict[str, Any]]) -> tuple[tuple[datetime, int], ...]:
    """Headline errors per minute: per class the larger of the sources."""
    by_minute: dict[datetime, dict[str, Counter[str]]] = {}
    for row in rows:
        sources = by_minute.setdefault(row["minute"], {})
        sources.setdefault(row["source"], Counter())[row["class"]] += int(row["errors"])
    return tuple(
        (minute, sum(_larger(*sources.values()).values()))
        for minute, sources in sorted(by_minute.items())
    )
