"""Growth read from the target itself, for when pgwarden's history is too short.

Two sources, each named in the trend it gives, with what it rests on:

- **creation timestamps**: the rows of a table per UTC day of its creation-time
  column (``"createdAt"``, ``created_at``, a timestamp defaulting to ``now()``) over
  the last complete days, times the table's bytes per row now. The rate is the
  mean over those days; the weekly averages (daily ones under two weeks) give its
  range. Rows deleted since they were created are not seen: a table with
  retention grows slower than this says.
- **insert counters**: ``n_tup_ins - n_tup_del`` of each table since the
  statistics were last reset, per day. Bulk loads since then count as growth.

Pure: the rows come from :mod:`pgwarden.plan.gather`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pgwarden.plan.trend import DAY_S, Method, Trend
from pgwarden.plan.units import size, span

Row = Mapping[str, Any]
#: words of a column name that say "when the row was created"
CREATED = ("creat", "insert", "added")
#: words that say another moment, even on a column defaulting to now()
OTHER = (
    "updat", "modif", "chang", "touch", "last", "expir", "delet", "remov", "due",
    "seen", "login", "revok", "complet", "finish", "end", "read", "sent", "valid",
    "archiv", "publish", "schedul", "start", "stop", "paid", "closed",
)  # fmt: skip
NOW_LIKE = re.compile(
    r"\b(now|clock_timestamp|statement_timestamp|transaction_timestamp)\(\)"
    r"|\b(current_timestamp|localtimestamp)\b",
    re.IGNORECASE,
)
WEEK = 7


def _words(name: str) -> list[str]:
    return [w.lower() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+", name)]


def _is(words: Sequence[str], stems: tuple[str, ...]) -> bool:
    return any(w.startswith(stems) for w in words)


def creation_column(columns: Sequence[Row]) -> Row | None:
    """The column of a table that holds each row's creation time, if any.

    ``columns`` are its timestamp columns in order (``column_name``,
    ``default_expr``). A name that says created or inserted wins; then a column
    defaulting to the current time whose name says no other moment.
    """
    named, defaulted = [], []
    for column in columns:
        words = _words(column["column_name"])
        if _is(words, OTHER):
            continue
        if _is(words, CREATED):
            named.append(column)
        elif NOW_LIKE.search(column.get("default_expr") or ""):
            defaulted.append(column)
    found = named or defaulted
    return found[0] if found else None


@dataclass(frozen=True)
class Window:
    """Complete UTC days ``since`` ≤ day < ``until`` (today is not complete)."""

    since: date
    until: date

    @property
    def before(self) -> date:
        """The day every older row is counted on."""
        return self.since - timedelta(days=1)


def window(now: datetime, days: int) -> Window:
    until = now.astimezone(UTC).date()
    return Window(until - timedelta(days=days), until)


@dataclass(frozen=True)
class TableRate:
    """Rows a table gained per day, by the creation time of its rows."""

    relid: int
    column: str
    rows_per_day: float
    low: float
    high: float
    days: int
    #: rows created per day (scaled up from a sample), from the first counted day
    daily: Mapping[date, float]
    sample_pct: float


def _ranges(daily: Mapping[date, float], first: date, until: date) -> list[float]:
    """Average rates over whole weeks back from ``until`` (days under two weeks)."""
    days = (until - first).days
    block = WEEK if days >= 2 * WEEK else 1
    rates = []
    for k in range(days // block):
        end = until - timedelta(days=block * k)
        total = sum(daily.get(end - timedelta(days=d + 1), 0.0) for d in range(block))
        rates.append(total / block)
    return rates


def table_rate(counted: Row, w: Window, min_days: float) -> TableRate | str:
    """The rate of one table from its counts per day, or why there is none.

    ``counted`` holds ``relid``, ``column``, ``sample_pct`` and ``counts``: pairs
    (day, rows) with every row older than the window on ``w.before``.
    """
    if counted.get("reason"):
        return str(counted["reason"])
    pct = float(counted["sample_pct"])
    scale = 100.0 / pct
    daily = {day: n * scale for day, n in counted["counts"] if day < w.until}
    older = daily.pop(w.before, 0.0) > 0
    inside = sorted(d for d, n in daily.items() if n > 0)
    if not older and not inside:
        return "no row created before today"
    first = w.since if older else inside[0]
    days = (w.until - first).days
    if days < min_days:
        return f"rows only since {first.isoformat()} ({days} days)"
    ranges = _ranges(daily, first, w.until)
    per_day = sum(daily.values()) / days
    return TableRate(
        relid=int(counted["relid"]),
        column=str(counted["column"]),
        rows_per_day=per_day,
        low=min(ranges, default=per_day),
        high=max(ranges, default=per_day),
        days=days,
        daily=daily,
        sample_pct=pct,
    )


def rows_of(storage: Row) -> int:
    return int(max(storage.get("n_live_tup") or 0, storage.get("reltuples") or 0))


def bytes_per_row(storage: Row) -> float | None:
    """Heap, index and TOAST bytes per row now; None for a table without rows."""
    rows = rows_of(storage)
    return int(storage["total_bytes"]) / rows if rows else None


@dataclass(frozen=True)
class Evidence:
    """Growth of the database and of the tables it could be read for."""

    database: Trend
    #: relid → (size in bytes, rows), each per day
    tables: Mapping[int, tuple[Trend, Trend]]
    #: relid → why a table read for evidence gives none
    skipped: Mapping[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Basis:
    """What every trend of one source shares."""

    method: Method
    days: float
    now: datetime
    needs: float

    def trend(
        self,
        per_day: float,
        spread: tuple[float | None, float | None] = (None, None),
        current: float | None = None,
        detail: str = "",
    ) -> Trend:
        low, high = spread
        days = self.days
        return Trend(
            self.method, per_day, None, days, round(days), None, current,
            self.now, self.needs, low=low, high=high, detail=detail,
        )  # fmt: skip

    def table(
        self, rows: float, spread: tuple[float, float] | None, table: Row, note: str
    ) -> tuple[Trend, Trend]:
        """(bytes, rows) per day of a table growing ``rows`` a day."""
        bpr = bytes_per_row(table) or 0.0
        detail = f"{note}: {rows:,.1f} rows/day x {size(bpr)}/row"
        in_rows: tuple[float | None, float | None] = spread or (None, None)
        in_bytes = (spread[0] * bpr, spread[1] * bpr) if spread else (None, None)
        return (
            self.trend(rows * bpr, in_bytes, float(table["total_bytes"]), detail),
            self.trend(rows, in_rows, float(rows_of(table)), detail),
        )


def from_timestamps(
    storage: Sequence[Row],
    counted: Sequence[Row],
    w: Window,
    min_days: float,
    now: datetime,
    needs: float,
) -> Evidence | None:
    """Growth from creation timestamps; None when no table gives a rate."""
    by_relid = {int(s["relid"]): s for s in storage}
    rates, skipped = [], {}
    for row in counted:
        found = table_rate(row, w, min_days)
        table = by_relid.get(int(row["relid"]))
        if isinstance(found, str):
            skipped[int(row["relid"])] = found
        elif table and bytes_per_row(table):
            rates.append((found, table))
    if not rates:
        return None
    tables = {}
    series: dict[date, float] = {}
    for rate, table in rates:
        bpr = bytes_per_row(table) or 0.0
        for day, n in rate.daily.items():
            series[day] = series.get(day, 0.0) + n * bpr
        column = f"{table['rel_name']}.{rate.column}"
        sampled = "" if rate.sample_pct >= 100 else f", {rate.sample_pct:.2g} % sample"
        basis = _Basis("creation-timestamps", rate.days, now, needs)
        tables[rate.relid] = basis.table(
            rate.rows_per_day,
            (rate.low, rate.high),
            table,
            f"creation timestamps ({column}) over {rate.days} days{sampled}",
        )
    days = max(rate.days for rate, _ in rates)
    ranges = _ranges(series, w.until - timedelta(days=days), w.until)
    per_day = sum(t[0].per_day or 0.0 for t in tables.values())
    low, high = min(ranges, default=per_day), max(ranges, default=per_day)
    total = sum(int(s["total_bytes"]) for s in storage) or 1
    covered = 100 * sum(int(t["total_bytes"]) for _, t in rates) / total
    spread = "weekly averages" if days >= 2 * WEEK else "daily rates"
    detail = (
        f"creation timestamps of {len(rates)} tables holding {covered:.0f} % of the "
        f"table bytes, over the last {days} days: {size(per_day)}/day ({spread} "
        f"{size(low)} to {size(high)}/day); the other tables taken as not growing"
    )
    if skipped:
        names = ", ".join(by_relid[r]["rel_name"] for r in skipped if r in by_relid)
        detail += f" (no rate from {names})"
    basis = _Basis("creation-timestamps", days, now, needs)
    return Evidence(basis.trend(per_day, (low, high), detail=detail), tables, skipped)


def from_counters(
    storage: Sequence[Row], reset: datetime | None, now: datetime, needs: float
) -> Evidence | None:
    """Growth from insert and delete counters since the statistics reset."""
    if reset is None:
        return None
    days = (now - reset).total_seconds() / DAY_S
    if days <= 0:
        return None
    since = reset.date().isoformat()
    basis = _Basis("insert-counters", days, now, needs)
    tables = {}
    for table in storage:
        net = int(table.get("n_tup_ins") or 0) - int(table.get("n_tup_del") or 0)
        if bytes_per_row(table) is None or not net:
            continue
        tables[int(table["relid"])] = basis.table(
            net / days, None, table, f"insert counters since the reset on {since}"
        )
    if not tables:
        return None
    per_day = sum(t[0].per_day or 0.0 for t in tables.values())
    detail = (
        f"insert and delete counters of {len(tables)} tables since the statistics "
        f"reset on {since} ({span(days)}): {size(per_day)}/day on average, no "
        "daily spread; bulk loads since then count as growth"
    )
    return Evidence(basis.trend(per_day, detail=detail), tables)
