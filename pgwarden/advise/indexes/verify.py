"""``pgwarden indexes verify INDEX``: the affected queries before and after an index.

The index's creation time is when pgwarden's history first saw it (or given). The
affected statements are those of the index's table that use its leading column;
for each, mean time and shared buffers per call over the period before the
creation and since are compared, and a mean time up by more than
``REGRESSION_FACTOR`` is flagged a regression.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from pgwarden import pg
from pgwarden.advise.gather import gather_catalog
from pgwarden.advise.indexes.candidates import unquote
from pgwarden.advise.model import IndexInfo
from pgwarden.advise.workload import Statement, parse
from pgwarden.advise.workload import gather as wg
from pgwarden.config import Settings
from pgwarden.errors import MissingCapability
from pgwarden.repository import targets

REGRESSION_FACTOR = 1.2
IMPROVED_FACTOR = 0.8


@dataclass(frozen=True)
class Verification:
    index: str
    table: str
    created_at: datetime | None
    queries: tuple[dict[str, Any], ...]
    notes: tuple[str, ...] = ()

    @property
    def regressions(self) -> list[dict[str, Any]]:
        return [q for q in self.queries if q["verdict"] == "regressed"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index, "table": self.table,
            "created_at": None if self.created_at is None else str(self.created_at),
            "queries": list(self.queries),
            "regressions": len(self.regressions), "notes": list(self.notes),
        }  # fmt: skip


def _per_call(s: Statement) -> tuple[float, float]:
    blocks = (s.shared_blks_hit + s.shared_blks_read) / s.calls if s.calls else 0.0
    return round(s.mean_ms, 3), round(blocks, 1)


def compare(
    index: IndexInfo,
    columns: Mapping[str, Sequence[str]],
    before: Sequence[Statement],
    after: Sequence[Statement],
) -> list[dict[str, Any]]:
    """Per affected statement: before/after mean time and buffers, and a verdict."""
    lead = unquote(index.keys[0]) if index.keys else ""
    then = {s.queryid: s for s in before}
    out = []
    for s in after:
        access = parse(s.text, columns).tables.get(index.table)
        if access is None:
            continue
        used = {p.column for p in access.predicates} | set(access.join_keys)
        used |= {c for c, _ in access.order_by}
        if lead not in used:
            continue
        old = then.get(s.queryid)
        mean_after, blks_after = _per_call(s)
        mean_before, blks_before = _per_call(old) if old else (None, None)
        verdict = "no data before"
        if mean_before is not None:
            verdict = "unchanged"
            if mean_after > mean_before * REGRESSION_FACTOR:
                verdict = "regressed"
            elif mean_after < mean_before * IMPROVED_FACTOR:
                verdict = "improved"
        out.append({
            "queryid": str(s.queryid), "query": " ".join(s.text.split())[:200],
            "calls_before": old.calls if old else 0, "mean_ms_before": mean_before,
            "blks_before": blks_before, "calls_after": s.calls,
            "mean_ms_after": mean_after, "blks_after": blks_after, "verdict": verdict,
        })  # fmt: skip
    return sorted(out, key=lambda q: q["verdict"] != "regressed")


def run_verify(
    settings: Settings,
    target_dsn: str,
    repository_dsn: str,
    name: str,
    created_at: datetime | None = None,
    now: datetime | None = None,
) -> Verification:
    now = now or datetime.now(UTC)
    period = timedelta(days=settings.advisor.history_days)
    with pg.connect(
        target_dsn, statement_timeout_ms=settings.statement_timeout_ms
    ) as t:
        found = [i for i in gather_catalog(t).indexes if i.name == name]
        if not found:
            raise MissingCapability(f"no index named {name!r} in the target")
        index = found[0]
        columns = {n: s.columns for n, s in wg.tables(t).items()}
        row = pg.fetch_one(t, "SELECT current_database() AS d")
    datname = row["d"] if row else None
    with pg.connect(repository_dsn) as repo:
        try:
            known = targets.resolve_with(target_dsn, repo, create=False)
        except (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn):
            known = None  # no pgwarden schema (or an old one): no history either
        tid = None if known is None else known.id
        if tid is None:
            raise MissingCapability("no history of the target: run pgwarden collect")
        notes: list[str] = []
        if created_at is None:
            created_at = first_seen(repo, tid, index.oid, now - period * 4, now)
        if created_at is None:
            return Verification(name, index.table, None, (), (
                "history never saw the index appear; give --created-at",))  # fmt: skip
        before = wg.history_workload(
            repo, tid, created_at - period, created_at, datname
        )
        after = wg.history_workload(repo, tid, created_at, now, datname)
    queries = compare(index, columns, before.statements, after.statements)
    if not queries:
        notes.append("no statement using the index's leading column since it appeared")
    return Verification(name, index.table, created_at, tuple(queries), tuple(notes))


def first_seen(
    repo: Any, target: int, index_oid: int, since: datetime, until: datetime
) -> datetime | None:
    """The first collection cycle that saw the index, if after the first cycle."""
    from pgwarden.collect.history import index_series

    points = index_series(repo, target, since, until, relid=index_oid)
    if not points:
        return None
    first = min(p.ts for p in points)
    row = pg.fetch_one(
        repo, "SELECT min(ts) AS ts FROM pgwarden.collect_cycle WHERE target_id = %s "
        "AND ts >= %s", [target, since],
    )  # fmt: skip
    if row is not None and row["ts"] is not None and first <= row["ts"]:
        return None  # there from the start of the history
    return first
