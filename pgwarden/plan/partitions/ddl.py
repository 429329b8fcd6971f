"""The DDL of the partitioned table: every identifier quoted, every value a literal.

The new table copies the old one's columns, defaults, identity, generated columns
and CHECK constraints (``LIKE ... INCLUDING``); its primary key and unique
constraints gain the partition key (PostgreSQL requires it); its other indexes and
its own foreign keys are recreated; the partitions cover the data and a few
periods ahead.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from psycopg import sql

from pgwarden.plan.partitions.model import Key, TableFacts

NAME_BYTES = 63
LIKE = (
    "INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING GENERATED "
    "INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS"
)


def text(composable: sql.Composable) -> str:
    return composable.as_string(None)


def ident(*parts: str) -> str:
    """A quoted (qualified) identifier: ``"public"."Audit""Log"``."""
    return text(sql.Identifier(*parts))


def literal(value: object) -> str:
    return text(sql.Literal(value))


def child_name(base: str, suffix: str) -> str:
    """``base + suffix`` within PostgreSQL's 63-byte names (cut on a character)."""
    room = NAME_BYTES - len(suffix.encode())
    cut = base
    while len(cut.encode()) > room:
        cut = cut[:-1]
    return cut + suffix


def key_columns(columns: tuple[str, ...], key: str) -> tuple[str, ...]:
    return columns if key in columns else (*columns, key)


def _cols(columns: tuple[str, ...]) -> str:
    return ", ".join(ident(c) for c in columns)


def _start(moment: datetime, days: float) -> datetime:
    day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if days >= 365:
        return day.replace(month=1, day=1)
    if days >= 91:
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    if days >= 28:
        return day.replace(day=1)
    if days >= 7:
        return day - timedelta(days=day.weekday())
    return day


def _next(start: datetime, days: float) -> datetime:
    months = 12 if days >= 365 else 3 if days >= 91 else 1 if days >= 28 else 0
    if not months:
        return start + timedelta(days=days)
    month = start.month - 1 + months
    return start.replace(year=start.year + month // 12, month=month % 12 + 1, day=1)


def range_bounds(key: Key, now: datetime) -> list[tuple[datetime, datetime]]:
    """Aligned [from, to) bounds from the first value to ``count`` periods."""
    days = key.interval_days or 30.44
    start = _start(key.first or now, days)
    bounds = []
    for _ in range(key.count):
        end = _next(start, days)
        bounds.append((start, end))
        start = end
    return bounds


def suffix(start: datetime, days: float) -> str:
    return start.strftime("_p%Y%m" if days >= 28 else "_p%Y%m%d")


def partitions(t: TableFacts, key: Key, parent: str, now: datetime) -> list[str]:
    """CREATE TABLE ... PARTITION OF statements for ``parent``."""
    found = []
    table = ident(t.schema, parent)
    if key.strategy == "RANGE":
        for lo, hi in range_bounds(key, now):
            name = child_name(t.name, suffix(lo, key.interval_days or 30.44))
            found.append(
                f"CREATE TABLE {ident(t.schema, name)} PARTITION OF {table} "
                f"FOR VALUES FROM ({literal(lo)}) TO ({literal(hi)});"
            )
    elif key.strategy == "HASH":
        for i in range(key.count):
            name = child_name(t.name, f"_p{i}")
            found.append(
                f"CREATE TABLE {ident(t.schema, name)} PARTITION OF {table} "
                f"FOR VALUES WITH (MODULUS {key.count}, REMAINDER {i});"
            )
    else:
        for i, value in enumerate(key.values):
            name = child_name(t.name, f"_t{i}")
            found.append(
                f"CREATE TABLE {ident(t.schema, name)} PARTITION OF {table} "
                f"FOR VALUES IN ({literal(value)});"
            )
        found.append(
            f"CREATE TABLE {ident(t.schema, child_name(t.name, '_other'))} "
            f"PARTITION OF {table} DEFAULT;"
        )
    return found


def _index(t: TableFacts, definition: str, qualified: str, new: str) -> str | None:
    """An index definition retargeted at the new table (None if not found)."""
    for marker in (f" ON ONLY {qualified} ", f" ON {qualified} "):
        at = definition.find(marker)
        if at >= 0:
            tail = definition[at + len(marker) :]
            return f"CREATE INDEX ON {ident(t.schema, new)} {tail};"
    return None


def table_ddl(t: TableFacts, key: Key, new: str, now: datetime) -> list[str]:
    """Every statement that creates the partitioned copy of ``t`` named ``new``."""
    parent = ident(t.schema, new)
    found = [
        f"CREATE TABLE {parent} (LIKE {ident(t.schema, t.name)} {LIKE}) "
        f"PARTITION BY {key.strategy} ({ident(key.column)});"
    ]
    for c in t.constraints:
        if c.own and c.type in ("p", "u"):
            kind = "PRIMARY KEY" if c.type == "p" else "UNIQUE"
            name = child_name(c.name, "_p")
            found.append(
                f"ALTER TABLE {parent} ADD CONSTRAINT {ident(name)} {kind} "
                f"({_cols(key_columns(c.columns, key.column))});"
            )
    for i in t.indexes:
        if not i.unique:
            made = _index(t, i.definition, i.qualified, new)
            if made is not None:
                found.append(made)
    for c in t.constraints:
        if c.own and c.type == "f" and c.definition and c not in t.referencing:
            name = child_name(c.name, "_p")
            found.append(
                f"ALTER TABLE {parent} ADD CONSTRAINT {ident(name)} {c.definition};"
            )
    return found + partitions(t, key, new, now)
