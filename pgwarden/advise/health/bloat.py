"""Bloat of tables and btree indexes: estimated from the catalog, confirmed exactly.

Stable API (used by the index health report and the maintenance planner)::

    gather_bloat(conn, *, tables=None) -> list[BloatEstimate]
        catalog rows of every user table and btree index (or of the tables whose
        oids are given, with their indexes) read through pg.py, then estimated;
    estimate_tables(rows: Iterable[TableRow]) -> list[BloatEstimate]
    estimate_indexes(rows: Iterable[IndexRow]) -> list[BloatEstimate]
        pure estimation, no I/O;
    confirm(conn, estimate, budget_s) -> BloatEstimate
        the same estimate with ``measured_pct`` from pgstattuple / pgstattuple_approx
        (tables) or pgstatindex (indexes) when the extension is installed and the
        read finishes within ``budget_s``; otherwise unchanged with a ``note``;
    measured_table_pct(...), measured_index_pct(...)
        the exact figures' bloat by the same definition as the estimate.

Bloat is the share of a relation a rebuild (VACUUM FULL, REINDEX) would give back:
``1 - expected / actual`` where *expected* packs the live tuples as a fresh build
would: heap tuples of ``MAXALIGN(header + data)`` plus a 4-byte line pointer per
tuple, pages of 8 kB minus the page header, filled to ``fillfactor``; btree leaf
tuples of ``MAXALIGN(8 or 16 + keys)``, posting lists for duplicates on PostgreSQL
13+ (deduplication), leaves filled to the index fillfactor (90), inner pages to 70 %.
Widths come from ``pg_stats.avg_width`` (the stored width: a TOASTed value counts
its 18-byte pointer, a compressed one its compressed size), weighted by
``1 - null_frac``; fixed-width types are aligned to ``typalign``. The exact figures
(pgstattuple) are put through the same packing with the exact live tuple count and
width, so estimate and measure differ only where the catalog statistics do.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import psycopg
from psycopg import errors as pgerrors
from psycopg import sql
from psycopg.rows import dict_row

from pgwarden import pg
from pgwarden.advise.health.packing import (
    BloatEstimate,
    ColumnStats,
    IndexRow,
    TableRow,
    estimate_index,
    estimate_indexes,
    estimate_table,
    estimate_tables,
    measured_index_pct,
    measured_table_pct,
)

__all__ = [
    "BloatEstimate",
    "ColumnStats",
    "IndexRow",
    "TableRow",
    "available",
    "confirm",
    "estimate_index",
    "estimate_indexes",
    "estimate_table",
    "estimate_tables",
    "gather_bloat",
    "gather_rows",
    "measured_index_pct",
    "measured_table_pct",
]


def _columns(rows: Iterable[Mapping[str, Any]]) -> dict[int, tuple[ColumnStats, ...]]:
    found: dict[int, list[ColumnStats]] = {}
    for r in rows:
        found.setdefault(int(r["oid"]), []).append(
            ColumnStats(
                r["attname"],
                r["typname"],
                int(r["typlen"]),
                r["typalign"],
                _float(r["avg_width"]),
                _float(r["null_frac"]),
                _float(r["n_distinct"]),
                bool(r.get("included", False)),
            )
        )
    return {oid: tuple(cols) for oid, cols in found.items()}


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _fetch(
    conn: psycopg.Connection[Any], name: str, tables: Sequence[int] | None
) -> list[dict[str, Any]]:
    params = {"tables": list(tables) if tables is not None else None}
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(pg.query("advise", name), params).fetchall()


def gather_rows(
    conn: psycopg.Connection[Any], *, tables: Sequence[int] | None = None
) -> tuple[list[TableRow], list[IndexRow]]:
    """Catalog rows of the user tables and their valid btree indexes."""
    version = pg.server_version_num(conn)
    with pg.guarded("bloat estimate"):
        trows = _fetch(conn, "bloat_tables", tables)
        tcols = _columns(_fetch(conn, "table_columns", tables))
        irows = _fetch(conn, "bloat_indexes", tables)
        icols = _columns(_fetch(conn, "index_columns", tables))
    table_rows = [
        TableRow(**{**r, "columns": tcols.get(int(r["oid"]), ())}) for r in trows
    ]
    index_rows = [
        IndexRow(
            **{**r, "columns": icols.get(int(r["oid"]), ())},
            server_version_num=version,
        )
        for r in irows
    ]
    return table_rows, index_rows


def gather_bloat(
    conn: psycopg.Connection[Any], *, tables: Sequence[int] | None = None
) -> list[BloatEstimate]:
    """Estimates of every user table and btree index (or of ``tables`` by oid)."""
    table_rows, index_rows = gather_rows(conn, tables=tables)
    return estimate_tables(table_rows) + estimate_indexes(index_rows)


def available(conn: psycopg.Connection[Any]) -> bool:
    """Whether pgstattuple is installed in the database."""
    row = pg.fetch_one(
        conn, "SELECT 1 AS ok FROM pg_extension WHERE extname = 'pgstattuple'"
    )
    return row is not None


def _extension_schema(conn: psycopg.Connection[Any]) -> str | None:
    row = pg.fetch_one(
        conn,
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n "
        "ON n.oid = e.extnamespace WHERE e.extname = 'pgstattuple'",
    )
    return None if row is None else str(row["nspname"])


def confirm(
    conn: psycopg.Connection[Any],
    estimate: BloatEstimate,
    budget_s: float,
    *,
    approx_above_bytes: int = 1024**3,
) -> BloatEstimate:
    """``estimate`` with the exact figure, within ``budget_s`` seconds, if possible.

    Tables above ``approx_above_bytes`` are read with ``pgstattuple_approx`` (it
    skips all-visible pages). A missing extension or privilege, or a read that
    exceeds the budget, leaves the estimate unconfirmed with a ``note``.
    """
    schema = _extension_schema(conn)
    if schema is None:
        return replace(estimate, note="pgstattuple is not installed: estimate only")
    started = time.monotonic()
    try:
        with conn.transaction():
            conn.execute(
                "SELECT set_config('statement_timeout', %s, true)",
                [str(max(1, int(budget_s * 1000)))],
            )
            if estimate.kind == "index":
                pct, how = _index_measure(conn, schema, estimate), "pgstatindex"
            else:
                pct, how = _table_measure(conn, schema, estimate, approx_above_bytes)
    except pgerrors.QueryCanceled:
        return replace(estimate, note=f"not confirmed: exceeded {budget_s:g} s")
    except (pgerrors.InsufficientPrivilege, pgerrors.UndefinedFunction) as exc:
        reason = exc.diag.message_primary or type(exc).__name__
        return replace(estimate, note=f"not confirmed: {reason}")
    except pgerrors.UndefinedTable:
        return replace(estimate, note="not confirmed: the relation is gone")
    took = round(time.monotonic() - started, 3)
    details = {**estimate.details, "confirm_seconds": took}
    return replace(estimate, measured_pct=pct, measured_by=how, details=details)


def _index_measure(
    conn: psycopg.Connection[Any], schema: str, estimate: BloatEstimate
) -> float:
    query = sql.SQL(
        "SELECT index_size, leaf_pages, internal_pages, avg_leaf_density "
        "FROM {}.pgstatindex(%s::oid::regclass)"
    ).format(sql.Identifier(schema))
    row = pg.fetch_one(conn, query.as_string(conn), [estimate.oid])
    assert row is not None
    density = float(row["avg_leaf_density"]) if row["leaf_pages"] else 0.0
    return measured_index_pct(
        int(row["index_size"]), int(row["leaf_pages"]), int(row["internal_pages"]),
        0.0 if math.isnan(density) else density, estimate.fillfactor,
    )  # fmt: skip


def _table_measure(
    conn: psycopg.Connection[Any], schema: str, estimate: BloatEstimate, above: int
) -> tuple[float, str]:
    approx = estimate.size_bytes > above
    func = "pgstattuple_approx" if approx else "pgstattuple"
    count = "approx_tuple_count" if approx else "tuple_count"
    length = "approx_tuple_len" if approx else "tuple_len"
    text = "SELECT table_len, {} AS n, {} AS len FROM {}.{}(%s::oid::regclass)"
    query = sql.SQL(text).format(
        sql.Identifier(count), sql.Identifier(length), sql.Identifier(schema),
        sql.Identifier(func),
    )  # fmt: skip
    row = pg.fetch_one(conn, query.as_string(conn), [estimate.oid])
    assert row is not None
    pct = measured_table_pct(
        int(row["table_len"]), float(row["n"]), float(row["len"]), estimate.fillfactor
    )
    return pct, func
