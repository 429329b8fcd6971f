"""Load the reference application's schema and data, generated server-side."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

import psycopg
from psycopg import sql

from pgwarden.demo.schema import (
    REFERENCE_MARKER,
    REFERENCE_TABLES,
    drop_reference_tables,
    mark_reference_tables,
    reference_marked,
    reference_tables_found,
    reference_tables_present,
    schema_sections,
)
from pgwarden.errors import ConfigurationError, DemoDataExists, WriteRefused

__all__ = [
    "SCALES",
    "LoadSummary",
    "Scale",
    "data_steps",
    "load",
    "reference_tables_present",
]

OnStep = Callable[[str], None]

SEED = 0.42
_NAME = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Scale:
    """How much reference data to generate; tenants are Zipf-sized."""

    name: str
    tenants: int
    users: int
    assessments: int


SCALES: dict[str, Scale] = {
    s.name: s
    for s in (
        Scale("tiny", tenants=12, users=150, assessments=300),
        Scale("small", tenants=200, users=6_000, assessments=24_000),
        Scale("medium", tenants=2_000, users=60_000, assessments=240_000),
    )
}


@dataclass(frozen=True)
class LoadSummary:
    """What :func:`load` did: the scale, how long it took and the rows per table."""

    scale: str
    schema: str
    seconds: float
    rows: dict[str, int]

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


@cache
def data_steps() -> tuple[tuple[str, str], ...]:
    """The named generation steps of ``data.sql``, in order."""
    text = files("pgwarden.demo").joinpath("data.sql").read_text(encoding="utf-8")
    parts = _NAME.split(text)
    return tuple(
        (n, body.strip()) for n, body in zip(parts[1::2], parts[2::2], strict=True)
    )


def load(
    conn: psycopg.Connection,
    scale: str = "small",
    *,
    reset: bool = False,
    schema: str = "public",
    on_step: OnStep | None = None,
) -> LoadSummary:
    """Create the reference schema in ``schema`` and fill it at ``scale``.

    Everything happens in one transaction (a savepoint if the caller has one open):
    a failure leaves nothing behind. The tables it creates are marked (a comment on
    "Tenant", :data:`REFERENCE_MARKER`). Raises :class:`DemoDataExists` if marked
    tables are there already, unless ``reset`` is true, which drops them first; and
    :class:`WriteRefused` if ``schema`` holds tables of the same names without the
    marker: an application's, never dropped nor written to.
    """
    spec = _scale(scale)
    step = on_step or (lambda _name: None)
    started = time.perf_counter()
    with conn.transaction():
        found = reference_tables_found(conn, schema)
        if found and not reference_marked(conn, schema):
            raise _not_ours(conn, schema, found)
        if found:
            if not reset:
                raise DemoDataExists(schema=schema)
            step("drop")
            drop_reference_tables(conn, schema)
        _prepare(conn, schema, spec)
        step("tables")
        conn.execute(schema_sections()["tables"])
        mark_reference_tables(conn, schema)
        for name, statement in data_steps():
            step(name)
            conn.execute(statement)
        step("indexes")
        conn.execute(schema_sections()["indexes"])
        step("analyze")
        _finish(conn, schema)
        rows = _row_counts(conn, schema)
    return LoadSummary(scale, schema, time.perf_counter() - started, rows)


def _not_ours(conn: psycopg.Connection, schema: str, found: list[str]) -> WriteRefused:
    names = ", ".join(f'"{name}"' for name in found[:3])
    more = f" and {len(found) - 3} more" if len(found) > 3 else ""
    tenant = sql.Identifier(schema, "Tenant").as_string(conn)
    return WriteRefused(
        f"refusing to drop or overwrite tables {names}{more} in schema {schema!r}: "
        f"pgwarden did not load them (no {REFERENCE_MARKER!r} comment on "
        f'"Tenant"); load the reference data into an empty database. If an older '
        f"pgwarden loaded them, COMMENT ON TABLE {tenant} IS "
        f"'{REFERENCE_MARKER}' first",
        schema=schema,
    )


def _scale(name: str) -> Scale:
    try:
        return SCALES[name]
    except KeyError:
        choices = ", ".join(SCALES)
        raise ConfigurationError(
            f"Unknown demo scale {name!r}; choose one of {choices}.", scale=name
        ) from None


def _prepare(conn: psycopg.Connection, schema: str, spec: Scale) -> None:
    """Target schema, session settings for a bulk load, parameters and the seed."""
    ident = sql.Identifier(schema)
    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(ident))
    conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(ident))
    conn.execute("SET LOCAL max_parallel_workers_per_gather = 0")
    conn.execute("SET LOCAL jit = off")
    conn.execute("SET LOCAL work_mem = '64MB'")
    conn.execute("SET LOCAL maintenance_work_mem = '256MB'")
    unrecorded(conn)
    conn.execute(
        "CREATE TEMP TABLE _p (tenants int, users int, assessments int,"
        " anchor timestamptz) ON COMMIT DROP"
    )
    conn.execute(
        "INSERT INTO _p VALUES (%s, %s, %s, date_trunc('minute', now()))",
        (spec.tenants, spec.users, spec.assessments),
    )
    conn.execute("SELECT setseed(%s)", (SEED,))


#: settings that keep the load's own statements out of the slow query log and
#: pg_stat_statements, so the application's workload is what pgwarden then sees
_UNRECORDED = (
    ("log_min_duration_statement", "-1"),
    ("auto_explain.log_min_duration", "-1"),
    ("pg_stat_statements.track", "none"),
)
_REFUSED = (psycopg.errors.InsufficientPrivilege, psycopg.errors.CantChangeRuntimeParam)


def unrecorded(conn: psycopg.Connection, *, local: bool = True) -> None:
    """Leave this session out of the statistics where the role may (superusers).

    ``local``: until the end of the transaction (else for the session).
    """
    for name, value in _UNRECORDED:
        try:
            with conn.transaction():
                conn.execute("SELECT set_config(%s, %s, %s)", (name, value, local))
        except _REFUSED:
            continue


def _finish(conn: psycopg.Connection, schema: str) -> None:
    """Move identity sequences past the loaded ids and gather statistics."""
    for table in REFERENCE_TABLES:
        if table == "AssessmentTag":
            continue
        ident = sql.Identifier(schema, table)
        conn.execute(
            sql.SQL(
                "SELECT setval(pg_get_serial_sequence(%s, 'id'),"
                " coalesce(max(id), 0) + 1, false) FROM {}"
            ).format(ident),
            (ident.as_string(conn),),
        )
    tables = sql.SQL(", ").join(sql.Identifier(schema, t) for t in REFERENCE_TABLES)
    conn.execute(sql.SQL("ANALYZE {}").format(tables))


def _row_counts(conn: psycopg.Connection, schema: str) -> dict[str, int]:
    parts = [
        sql.SQL("SELECT {}::text, count(*) FROM {}").format(
            sql.Literal(t), sql.Identifier(schema, t)
        )
        for t in REFERENCE_TABLES
    ]
    rows = conn.execute(sql.SQL(" UNION ALL ").join(parts)).fetchall()
    return {str(name): int(n) for name, n in rows}
