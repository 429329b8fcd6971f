"""Statements over a range of history: the list to search and sort, one's charts.

Over the last hour the figures are :func:`pgwarden.observe.metrics.top_queries_counted`
's, the numbers of ``pgwarden queries top``; over a longer range the same ranking
(:func:`pgwarden.observe.analysis.top_queries`) runs over the range's sums. Shared
blocks hit and read come beside them from the same range.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal

import psycopg

from pgwarden import pg
from pgwarden.collect import history
from pgwarden.observe import analysis, gather
from pgwarden.observe.hours import HOUR
from pgwarden.observe.metrics import TOP_WINDOW, top_queries_counted
from pgwarden.observe.model import TopQuery
from pgwarden.observe.series import HOURLY_ABOVE, statement_points
from pgwarden.sqltext import caller_from_comments, own

GROUP = "web_queries"
ListKey = Literal["total", "mean", "calls", "rows", "blks_read", "blks_hit"]
#: ranks the whole workload before it is filtered (shares stay of all statements)
EVERY = 1_000_000
_COMMENT_RE = re.compile(r"/\*.*?\*/", re.DOTALL)
#: z of the 95th percentile of a standard normal distribution
Z95 = 1.6448536269514722


@dataclass(frozen=True)
class StatementList:
    """The statements matched, the window read and what was left out."""

    since: datetime | None
    until: datetime | None
    statements: int
    matched: int
    own_left_out: int
    items: tuple[dict[str, Any], ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "statements": self.statements,
            "matched": self.matched,
            "own_statements_left_out": self.own_left_out,
            "items": list(self.items),
        }


def statement_list(
    conn: psycopg.Connection[Any],
    target_id: int,
    window: timedelta,
    *,
    by: ListKey = "total",
    search: str = "",
    caller: str = "",
    limit: int = 50,
    include_own: bool = False,
) -> StatementList:
    """Statements of the ``window`` ending at the last collection, filtered, sorted."""
    last = history.latest_interval(conn, target_id)
    db = gather.points_at(conn, "database", target_id, last.ts) if last else []
    if not db:
        return StatementList(None, None, 0, 0, 0, ())
    dbid, until = int(db[0].key["datid"]), db[0].ts
    since = until - window
    sums = _range(conn, target_id, dbid, since, until)
    if window == TOP_WINDOW:
        ranked, left_out = top_queries_counted(
            conn, target_id, "total", EVERY, include_own
        )
    else:
        ranked, left_out = _ranked(conn, target_id, sums, since, include_own)
    text = search.strip().casefold()
    found = [q for q in ranked if text in q.query.casefold()]
    items = [as_item(q, sums.get(q.queryid, {}), caller=bool(caller)) for q in found]
    matched = filter_items(items, caller)
    kept = sort_items(matched, by)[:limit]
    for item in kept:
        item["comment_caller"] = comment_caller(item["query"])
    return StatementList(since, until, len(ranked), len(matched), left_out, tuple(kept))


def _range(
    conn: psycopg.Connection[Any],
    target_id: int,
    dbid: int,
    since: datetime,
    until: datetime,
) -> dict[int, dict[str, Any]]:
    found = pg.named_rows(
        conn, GROUP, "statement_range",
        {"target_id": target_id, "dbid": dbid, "since": since,
         "until": until + gather.TICK},
        feature="pgwarden history (run pgwarden init and collect)",
    )  # fmt: skip
    return {int(r["queryid"]): r for r in found}


def _ranked(
    conn: psycopg.Connection[Any],
    target_id: int,
    sums: Mapping[int, Mapping[str, Any]],
    since: datetime,
    include_own: bool,
) -> tuple[tuple[TopQuery, ...], int]:
    texts = gather.texts(conn, target_id)
    skip = frozenset() if include_own else own.own_queryids(texts)
    kept, left_out = analysis.split_own(sums.values(), skip)
    slow = gather.slow_by_query(conn, target_id, since)
    return analysis.top_queries(kept, texts, slow, "total", EVERY), len(left_out)


def comment_caller(text: str) -> str | None:
    """The caller a sqlcommenter or marginalia comment of the text names."""
    return caller_from_comments(_COMMENT_RE.findall(text)) if "/*" in text else None


def as_item(
    q: TopQuery, sums: Mapping[str, Any], *, caller: bool = True
) -> dict[str, Any]:
    """A ranked statement as JSON with its blocks (and the caller its text names:
    read only when ``caller``, for the items a caller filter reads)."""
    hit, read = sums.get("blks_hit"), sums.get("blks_read")
    return {
        **q.__dict__,
        "queryid": str(q.queryid),
        "comment_caller": comment_caller(q.query) if caller else None,
        "shared_blks_hit": None if hit is None else int(hit),
        "shared_blks_read": None if read is None else int(read),
        "cache_hit_ratio": analysis.ratio(hit, read),
    }


def filter_items(items: Iterable[dict[str, Any]], caller: str) -> list[dict[str, Any]]:
    """Items whose caller (logged or named by a comment) holds ``caller``, any case."""
    who = caller.strip().casefold()
    return [
        i for i in items
        if not who or any(who in str(c).casefold()
                          for c in (i["caller"], i["comment_caller"]) if c)
    ]  # fmt: skip


def sort_items(items: list[dict[str, Any]], by: ListKey) -> list[dict[str, Any]]:
    """Descending by the chosen figure, then total time, then lowest queryid."""
    field = {"total": "total_ms", "mean": "mean_ms"}.get(by, by)
    field = {"blks_read": "shared_blks_read", "blks_hit": "shared_blks_hit"}.get(
        field, field
    )
    return sorted(
        items,
        key=lambda i: (-(i[field] or 0), -(i["total_ms"] or 0), int(i["queryid"])),
    )


def p95(mean_ms: float | None, cv: float) -> float | None:
    """The 95th percentile of a log-normal time with this mean and stddev/mean."""
    if mean_ms is None or mean_ms <= 0:
        return None
    sigma2 = math.log1p(cv * cv)
    mu = math.log(mean_ms) - sigma2 / 2
    return math.exp(mu + Z95 * math.sqrt(sigma2))


def query_points(
    conn: psycopg.Connection[Any],
    target_id: int,
    queryid: int,
    since: datetime,
    until: datetime,
) -> list[history.Point]:
    """One statement's samples; over more than two days, one point per hour.

    Hourly: the roll-ups of the finished hours, and the samples of the hours not
    rolled up yet summed per hour (as the Overview's long-range charts).
    """
    if until - since <= HOURLY_ABOVE:
        return history.statement_series(conn, target_id, since, until, queryid)
    where = {"queryid": queryid}
    rolled = history.hourly_series(conn, "statement", target_id, since, until, where)
    after = max((p.ts + HOUR for p in rolled), default=since)
    recent = history.statement_series(conn, target_id, after, until, queryid)
    return [*rolled, *per_hour(recent)]


def per_hour(points: Iterable[history.Point]) -> list[history.Point]:
    """Samples summed per hour and key (counters and intervals alike)."""
    hours: dict[tuple[Any, ...], history.Point] = {}
    for p in points:
        start = p.ts.replace(minute=0, second=0, microsecond=0)
        key = (start, *sorted(p.key.items()))
        old = hours.get(key)
        if old is None:
            hours[key] = replace(p, ts=start, values=dict(p.values))
            continue
        values = {n: _add(old.values.get(n), v) for n, v in p.values.items()}
        hours[key] = replace(old, interval_s=old.interval_s + p.interval_s,
                             values=values)  # fmt: skip
    return sorted(hours.values(), key=lambda p: p.ts)


def _add(a: int | float | None, b: int | float | None) -> int | float | None:
    return b if a is None else a if b is None else a + b


def query_charts(points: Sequence[history.Point], cv: float) -> dict[str, Any]:
    """One statement's calls per second, mean, estimated p95, rows per call and
    cache hits, per interval (or hour).

    Calls, mean and rows are :func:`pgwarden.observe.series.statement_points`'s (the
    Overview's drill-down); p95 is estimated with the stddev/mean ratio ``cv``.
    """
    top = [p for p in points if p.key["toplevel"]]
    charts: dict[str, Any] = statement_points(top)
    pairs = zip(charts["rows"], charts["calls"], strict=True)
    charts["rows_per_call"] = [analysis.mean(rows, calls) for rows, calls in pairs]
    blocks: dict[datetime, list[int]] = {}
    for p in top:
        acc = blocks.setdefault(p.ts, [0, 0])
        acc[0] += int(p.values.get("shared_blks_hit") or 0)
        acc[1] += int(p.values.get("shared_blks_read") or 0)
    ordered = [blocks[ts] for ts in sorted(blocks)]
    charts["p95_ms"] = [p95(m, cv) for m in charts["mean_ms"]]
    charts["blks_hit"] = [hit for hit, _ in ordered]
    charts["blks_read"] = [read for _, read in ordered]
    charts["cache_hit_ratio"] = [analysis.ratio(hit, read) for hit, read in ordered]
    return charts
