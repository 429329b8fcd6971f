"""Gather the workload and the target's catalog, then run the index advisor.

The workload is read from pgwarden's history of the target (``advisor.history_days``)
when the repository holds some, else live from ``pg_stat_statements`` (with a note).
hypopg must be installed in the target database for verified advice
(``CREATE EXTENSION hypopg``); without it the advice is heuristic and says so.
The kind of each relation (partitioned, partition, materialized view, foreign)
decides the DDL printed; ``allow_lock`` (``advisor.allow_lock``) turns a
partitioned table's procedure into one plain ``CREATE INDEX`` on the parent.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from pgwarden import pg
from pgwarden.advise.findings import PARTITIONED
from pgwarden.advise.gather import gather_catalog, target_id
from pgwarden.advise.indexes import observed as ov
from pgwarden.advise.indexes.advisor import Advice, Options, advise
from pgwarden.advise.indexes.candidates import unquote
from pgwarden.advise.indexes.select import Budget
from pgwarden.advise.indexes.special import facts as special_facts
from pgwarden.advise.model import IndexInfo
from pgwarden.advise.relations import Relations, gather_or_note
from pgwarden.advise.stats import TableStats
from pgwarden.advise.workload import Shapes, Workload
from pgwarden.advise.workload import gather as wg
from pgwarden.config import AdvisorSettings, Settings
from pgwarden.errors import ConnectionFailed, MissingCapability
from pgwarden.repository import targets


@dataclass(frozen=True)
class Context:
    """Everything the advisors read, in one go."""

    target: str
    workload: Workload
    tables: dict[str, TableStats]
    indexes: tuple[IndexInfo, ...]
    source: str  # history or live
    hypopg: bool
    notes: tuple[str, ...]
    server_version_num: int
    keys: frozenset[tuple[str, str]] = frozenset()
    observed: ov.Observed | None = None  # parameter values the capture saw
    relations: Relations | None = None  # kinds and partition trees
    shapes: Shapes = field(default_factory=Shapes)  # views, collations, HOT shares


def options(
    settings: AdvisorSettings,
    budget_mb: float | None = None,
    allow_lock: bool | None = None,
) -> Options:
    mb = budget_mb if budget_mb is not None else settings.budget_mb
    if allow_lock is None:
        allow_lock = settings.allow_lock
    budget = Budget(
        max_bytes=None if mb is None else int(mb * 1024 * 1024),
        max_indexes=settings.max_indexes, min_gain_pct=settings.min_gain_pct,
        write_cost=settings.write_cost,
    )  # fmt: skip
    return Options(
        budget, settings.partial_max_fraction, settings.partial_min_top,
        settings.max_statements, allow_lock,
    )  # fmt: skip


def workload_of(
    target: psycopg.Connection[Any],
    repository_dsn: str | None,
    name: str,
    days: float,
    now: datetime | None = None,
) -> tuple[Workload, str, list[str]]:
    """The history's workload of the target, else pg_stat_statements' (noted)."""
    now = now or datetime.now(UTC)
    notes: list[str] = []
    if repository_dsn:
        try:
            with pg.connect(repository_dsn) as repo:
                found = target_id(repo, name)
                if found is not None:
                    datname = pg.fetch_one(target, "SELECT current_database() AS d")
                    work = wg.history_workload(
                        repo, found, now - timedelta(days=days), now,
                        datname["d"] if datname else None,
                    )  # fmt: skip
                    if work.statements:
                        return work, "history", notes
        except (ConnectionFailed, psycopg.Error) as exc:
            notes.append(f"no history ({str(exc).splitlines()[0]})")
    notes.append("workload read live from pg_stat_statements (no collected history)")
    return wg.live_workload(target), "live", notes


def observed_of(
    repository_dsn: str | None, name: str, days: float, now: datetime | None = None
) -> tuple[ov.Observed | None, list[str]]:
    """The parameter values observed for the target (none without a repository)."""
    if not repository_dsn:
        return None, []
    since = ((now or datetime.now(UTC)) - timedelta(days=days)).date()
    try:
        with pg.connect(repository_dsn) as repo:
            found = target_id(repo, name)
            return (None if found is None else ov.gather(repo, found, since)), []
    except (ConnectionFailed, MissingCapability, psycopg.Error) as exc:
        return None, [f"no observed parameter values ({str(exc).splitlines()[0]})"]


def gather(
    target: psycopg.Connection[Any],
    repository_dsn: str | None,
    name: str,
    settings: AdvisorSettings,
) -> Context:
    work, source, notes = workload_of(
        target, repository_dsn, name, settings.history_days
    )
    catalog = gather_catalog(target)
    observed, more = observed_of(repository_dsn, name, settings.history_days)
    notes += more
    installed, available = wg.hypopg_state(target)
    if not installed:
        fix = "CREATE EXTENSION hypopg" if available else "install hypopg on the server"
        notes.append(f"hypopg is not installed in the target database ({fix})")
    relations, more = gather_or_note(target)
    notes += more
    return Context(
        name, work, partitioned_rows(wg.tables(target), relations), catalog.indexes,
        source, installed, tuple(notes), catalog.server_version_num,
        _fk_columns(catalog.foreign_keys), observed, relations, wg.shapes(target),
    )  # fmt: skip


def partitioned_rows(
    tables: dict[str, TableStats], relations: Relations | None
) -> dict[str, TableStats]:
    """A partitioned table without rows of its own (never analysed) counted as
    the sum of its partitions' rows, so its index sizes are not a page."""
    out = dict(tables)
    for name, t in tables.items():
        rel = relations.get(t.schema, t.name) if relations else None
        if rel is None or rel.kind != PARTITIONED or t.rows > 0:
            continue
        rows = sum(
            tables[leaf.name].rows for leaf in rel.leaves() if leaf.name in tables
        )
        out[name] = replace(t, reltuples=rows)
    return out


def run(
    settings: Settings,
    target_dsn: str,
    repository_dsn: str | None,
    budget_mb: float | None = None,
    allow_lock: bool | None = None,
) -> Advice:
    """Index advice for the target (``pgwarden indexes advise``)."""
    with pg.connect(
        target_dsn, statement_timeout_ms=settings.statement_timeout_ms
    ) as t:
        name = targets.name_of(target_dsn, repository_dsn, t)
        ctx = gather(t, repository_dsn, name, settings.advisor)
        return advise_context(t, ctx, options(settings.advisor, budget_mb, allow_lock))


def advise_context(
    target: psycopg.Connection[Any], ctx: Context, opts: Options
) -> Advice:
    conn = target if ctx.hypopg else None
    return advise(
        conn,
        ctx.target,
        ctx.workload,
        ctx.tables,
        ctx.indexes,
        opts,
        ctx.notes,
        ctx.keys,
        ctx.observed,
        facts=special_facts.gather(target, ctx.workload),
        relations=ctx.relations,
        shapes=ctx.shapes,
    )


def _fk_columns(fks: Any) -> frozenset[tuple[str, str]]:
    return frozenset((fk.table, unquote(c)) for fk in fks for c in fk.columns)
