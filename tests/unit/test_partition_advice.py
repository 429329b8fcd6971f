"""Partitioning advice without a server: predicates, keys, DDL quoting, the plan."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pgwarden.config import PartitioningSettings
from pgwarden.plan.partitions.advice import advise_table, parse_array
from pgwarden.plan.partitions.ddl import child_name, ident, range_bounds, table_ddl
from pgwarden.plan.partitions.key import choose
from pgwarden.plan.partitions.migration import offline, online, partman
from pgwarden.plan.partitions.model import Column, Constraint, Index, TableFacts
from pgwarden.plan.partitions.predicates import Catalog, Relation, TableUsage, usage

NOW = datetime(2026, 11, 29, tzinfo=UTC)
GIB = 1024**3
SETTINGS = PartitioningSettings(min_rows=1000, partition_bytes=GIB)  # type: ignore[call-arg]
ANSWER, ASSESSMENT, TAG = 101, 102, 103
CATALOG = Catalog(
    [
        Relation(
            ANSWER, "public", "Answer", ("id", "tenantId", "assessmentId", "createdAt")
        ),
        Relation(ASSESSMENT, "public", "Assessment", ("id", "tenantId")),
        Relation(TAG, "public", "Tag", ("id", "tenantId")),
    ]
)


def test_predicates_resolve_aliases_joins_and_subqueries() -> None:
    found = usage(
        [
            (
                'UPDATE "Answer" a SET value = 1 FROM "Assessment" s WHERE s.id = '
                'a."assessmentId" AND a."tenantId" = $1 AND EXISTS (SELECT 1 '
                'FROM "Tag" g WHERE g."tenantId" = a."tenantId")',
                10,
            ),
            ('SELECT * FROM "Answer" WHERE "createdAt" > $1', 5),
            (
                'SELECT a.id FROM "Answer" a JOIN "Assessment" s '
                'ON s.id = a."assessmentId" WHERE s."tenantId" = $1',
                1,
            ),
            ('INSERT INTO "Answer" ("tenantId") VALUES ($1)', 100),
            ("SELECT broken FROM", 3),
        ],
        CATALOG,
    )
    assert (found.parsed, found.unparsed) == (4, 1)
    answer = found.of(ANSWER)
    assert (answer.statements, answer.calls) == (3, 16)
    assert answer.columns["tenantId"] == [1, 10]
    assert answer.columns["assessmentId"] == [2, 11]
    assert answer.share("tenantId") == pytest.approx(10 / 16)
    assert found.of(TAG).columns["tenantId"] == [1, 10]
    assert found.of(ASSESSMENT).columns["tenantId"] == [1, 1]


def test_tables_of_the_same_name_in_two_schemas_are_told_apart() -> None:
    """Qualified names find their schema's table; an unqualified one the visible."""
    catalog = Catalog(
        [
            Relation(1, "public", "events", ("id", "tenant_id", "at"), True),
            Relation(2, "archive", "events", ("id", "tenant_id", "at"), False),
            Relation(3, "archive", "only_here", ("id", "at"), False),
        ]
    )
    found = usage(
        [
            ("SELECT * FROM archive.events WHERE at > $1", 7),
            ("SELECT * FROM public.events e WHERE e.tenant_id = $1", 5),
            ("SELECT * FROM events WHERE tenant_id = $1", 3),
            ("SELECT * FROM only_here WHERE at > $1", 2),
        ],
        catalog,
    )
    assert found.of(2).columns == {"at": [1, 7]}
    assert found.of(1).columns == {"tenant_id": [2, 8]}
    assert found.of(3).columns == {"at": [1, 2]}
    hidden = Catalog([Relation(1, "a", "t", ("x",)), Relation(2, "b", "t", ("x",))])
    assert usage([("SELECT * FROM t WHERE x = 1", 1)], hidden).tables == {}


def facts(**kw: object) -> TableFacts:
    base: dict[str, object] = dict(
        schema="public",
        name="AuditLog",
        rows=50_000,
        heap_bytes=3 * GIB,
        index_bytes=GIB,
        total_bytes=4 * GIB,
        inserts=50_000,
        updates=0,
        deletes=0,
        columns=(
            Column("id", "bigint", True),
            Column(
                "tenantId",
                "bigint",
                True,
                n_distinct=3,
                most_common_vals=("1", "2", "3"),
            ),
            Column(
                "createdAt",
                "timestamp with time zone",
                True,
                True,
                0.99,
                first_value=datetime(2026, 1, 15, tzinfo=UTC),
                last_value=datetime(2026, 11, 28, tzinfo=UTC),
            ),
        ),
        constraints=(Constraint("AuditLog_pkey", "p", "public", "AuditLog", ("id",)),),
        indexes=(
            Index(
                "AuditLog_t",
                False,
                'CREATE INDEX "AuditLog_t" ON '
                'public."AuditLog" USING btree ("tenantId")',
                'public."AuditLog"',
            ),
        ),
    )
    base.update(kw)
    return TableFacts(**base)  # type: ignore[arg-type]


def test_append_only_time_series_is_range_with_sized_interval() -> None:
    pattern, key, _ = choose(facts(), TableUsage(), SETTINGS)
    assert pattern == "time series" and key is not None
    assert (key.strategy, key.column) == ("RANGE", "createdAt")
    # 4 GiB over ~317 days: a month is ~0.4 GiB, a quarter ~1.1 GiB > 1 GiB
    assert key.interval == "1 month"
    assert key.count == 11 + 3
    bounds = range_bounds(key, NOW)
    assert bounds[0][0] == datetime(2026, 1, 1, tzinfo=UTC)
    assert bounds[1][0] == datetime(2026, 2, 1, tzinfo=UTC)


def test_tenant_scoped_list_or_hash() -> None:
    used = TableUsage(statements=10, calls=100, columns={"tenantId": [9, 90]})
    updated = facts(updates=20_000)
    pattern, key, _ = choose(updated, used, SETTINGS)
    assert pattern == "tenant-scoped" and key is not None
    assert (key.strategy, key.values, key.count) == ("LIST", ("1", "2", "3"), 4)
    many = facts(
        updates=20_000,
        columns=(Column("id", "bigint"), Column("tenantId", "bigint", n_distinct=500)),
    )
    _, key, _ = choose(many, used, SETTINGS)
    assert key is not None and (key.strategy, key.count) == ("HASH", 4)
    _, none, why = choose(many, TableUsage(statements=10, calls=100), SETTINGS)
    assert none is None and "read-write" in why


def test_below_threshold_is_not_advised_with_the_reason() -> None:
    small = facts(rows=10, total_bytes=8192)
    advice = advise_table(small, TableUsage(), SETTINGS, 16 * GIB, NOW)
    assert not advice.advised
    assert advice.reason.startswith("not advised: 10 rows is below")
    big = advise_table(facts(rows=10), TableUsage(), SETTINGS, 2 * GIB, NOW)
    assert big.advised and "above RAM" in big.reason


HOSTILE = 'Audit"Log; DROP TABLE x; --'


def test_ddl_quotes_hostile_identifiers() -> None:
    t = facts(
        schema='s"ch ema',
        name=HOSTILE,
        columns=(
            Column("id", "bigint"),
            Column(
                'when "x"',
                "timestamptz",
                True,
                True,
                1.0,
                first_value=datetime(2026, 1, 1, tzinfo=UTC),
                last_value=datetime(2026, 3, 1, tzinfo=UTC),
            ),
        ),
        constraints=(Constraint("p k", "p", 's"ch ema', HOSTILE, ("id",)),),
        indexes=(),
    )
    _, key, _ = choose(t, TableUsage(), SETTINGS)
    assert key is not None
    ddl = table_ddl(t, key, child_name(HOSTILE, "_partitioned"), NOW)
    assert ddl[0].startswith(
        'CREATE TABLE "s""ch ema"."Audit""Log; DROP TABLE x; '
        '--_partitioned" (LIKE "s""ch ema"."Audit""Log; DROP'
    )
    assert 'PARTITION BY RANGE ("when ""x""")' in ddl[0]
    assert 'ADD CONSTRAINT "p k_p" PRIMARY KEY ("id", "when ""x""")' in ddl[1]
    assert all(
        "DROP TABLE x; --" not in s.replace('"Audit""Log; DROP TABLE x; --', "")
        for s in ddl
    )
    steps = offline(t, key, "new", ddl) + online(t, key, "new", ddl, NOW)
    assert all(s["lock"] for s in steps)


def test_child_names_fit_63_bytes_on_a_character() -> None:
    name = child_name("é" * 40, "_p202611")
    assert len(name.encode()) <= 63 and name.endswith("_p202611")
    assert ident("a", 'b"c') == '"a"."b""c"'


def test_partman_configuration_when_installed() -> None:
    _, key, _ = choose(facts(), TableUsage(), SETTINGS)
    assert key is not None
    calls = partman(facts(), key, "partman", 365)
    assert calls is not None
    assert calls[0].startswith(
        'SELECT "partman".create_parent(p_parent_table := '
        "'public.AuditLog', p_control := 'createdAt', "
        "p_interval := '1 month'"
    )
    assert "retention = '365 days'" in calls[1]
    assert partman(facts(), key, None, None) is None


def test_array_literals() -> None:
    assert parse_array('{1,2,"a b","c\\"d"}') == ("1", "2", "a b", 'c"d')
    assert parse_array(None) == () and parse_array("{}") == ()


def test_implications_name_columns_as_sql_not_python() -> None:
    from pgwarden.plan.partitions.migration import implications

    _, key, _ = choose(facts(), TableUsage(), SETTINGS)
    assert key is not None
    found = implications(facts(), key)
    assert any('("id", "createdAt")' in line for line in found), found
    assert not any("('" in line or "')" in line for line in found), found
