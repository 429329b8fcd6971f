"""Candidates, size estimates and the workload-level greedy selection."""

from __future__ import annotations

from pgwarden.advise.indexes.candidates import Candidate, generate
from pgwarden.advise.indexes.select import Budget, Item, greedy
from pgwarden.advise.model import IndexInfo
from pgwarden.advise.stats import ColumnStats, TableStats
from pgwarden.advise.workload import Statement, parse

COLUMNS = ("id", "tenantId", "status", "createdAt", "title")


def table(rows: float = 100_000, name: str = "Assessment") -> TableStats:
    stats = {
        "id": ColumnStats("id", avg_width=8, n_distinct=-1),
        "tenantId": ColumnStats("tenantId", avg_width=8, n_distinct=50),
        "status": ColumnStats(
            "status",
            avg_width=10,
            n_distinct=3,
            mcv=("COMPLETED", "IN_PROGRESS", "DRAFT"),
            mcf=(0.9, 0.06, 0.04),
        ),
        "createdAt": ColumnStats("createdAt", avg_width=8, n_distinct=-0.9),
        "title": ColumnStats("title", avg_width=30, n_distinct=-0.5),
    }
    return TableStats(1, "public", name, rows, 1000, 8192000, 0, 0, None, int(rows),
                      COLUMNS, stats)  # fmt: skip


def index(name: str, keys: tuple[str, ...], table: str = "Assessment") -> IndexInfo:
    return IndexInfo(
        oid=1, schema="public", table=table, name=name, table_oid=1, method="btree",
        is_unique=False, is_primary=False, is_valid=True, is_ready=True,
        backs_constraint=False, constraint_name=None, referenced_by_fk=False,
        keys=keys, include=(), key_attnums=(), opclasses=(), collations=(),
        options=(), predicate=None, definition="", size_bytes=8192,
    )  # fmt: skip


CAT = {"Assessment": COLUMNS}
LIST = (
    'SELECT id, title FROM "Assessment" WHERE "createdAt" > $2 AND "tenantId" = $1 '
    'AND status = $3 ORDER BY "createdAt" DESC'
)


def test_keys_are_equality_then_range_most_selective_first() -> None:
    found = generate([parse(LIST, CAT)], {"Assessment": table()}, [])
    full = [c for c in found if c.where_column is None and not c.include]
    assert full[0].columns == ("tenantId", "status", "createdAt")
    covering = [c for c in found if c.include]
    assert covering and covering[0].include == ("id", "title")


def test_group_by_columns_follow_the_equality_keys() -> None:
    text = 'SELECT status, count(*) FROM "Assessment" WHERE "tenantId" = $1 GROUP BY 1'
    grouped = 'SELECT status, count(*) FROM "Assessment" WHERE "tenantId" = $1 '
    grouped += "GROUP BY status"
    found = generate([parse(grouped, CAT)], {"Assessment": table()}, [])
    assert found[0].columns == ("tenantId", "status")
    plain = generate([parse(text, CAT)], {"Assessment": table()}, [])
    assert plain[0].columns == ("tenantId",)


def test_partial_candidates_for_rare_values_of_a_skewed_column() -> None:
    found = generate([parse(LIST, CAT)], {"Assessment": table()}, [])
    partial = {(c.where_value, c.columns) for c in found if c.where_column == "status"}
    assert partial == {
        ("IN_PROGRESS", ("tenantId", "createdAt")),
        ("DRAFT", ("tenantId", "createdAt")),
    }
    keys = frozenset({("Assessment", "status")})
    assert not [c for c in generate([parse(LIST, CAT)], {"Assessment": table()}, [],
                                    keys=keys) if c.where_column]  # fmt: skip


def test_partial_size_is_its_share_of_the_full_index() -> None:
    t = table()
    c = Candidate("public", "Assessment", ("tenantId", "createdAt"), (), "status",
                  "IN_PROGRESS", 0.06)  # fmt: skip
    assert c.size(t) < c.full_size(t) * 0.1
    assert c.full_size(t) > 100_000 * 20  # 16 bytes of keys + 12 of overhead per row
    assert c.where == "\"status\" = 'IN_PROGRESS'"


def test_candidates_an_existing_index_serves_are_left_out() -> None:
    existing = [index("a", ('"tenantId"', "status", '"createdAt"'))]
    found = generate([parse(LIST, CAT)], {"Assessment": table()}, existing)
    assert all(c.columns != ("tenantId", "status", "createdAt") or c.include
               for c in found)  # fmt: skip


def test_ddl_quotes_identifiers() -> None:
    c = Candidate("my schema", 'we"ird', ("a b",), ("Ñ",), "st", "it's", 0.1)
    ddl = c.ddl()
    assert ddl.startswith("CREATE INDEX CONCURRENTLY IF NOT EXISTS ")
    assert 'ON "my schema"."we""ird" ("a b") INCLUDE ("Ñ")' in ddl
    assert ddl.endswith("WHERE \"st\" = 'it''s';")


def _items(texts: list[tuple[int, str, int]]) -> list[Item]:
    return [
        Item(Statement(q, text, calls, total_ms=calls * 1.0), parse(text, CAT), text)
        for q, text, calls in texts
    ]


def _cost(items: list[Item]) -> object:
    """Plan costs of a planner-like toy: an index on a used column costs 1, else 100."""

    def cost(i: int, text: str, idx: frozenset[Candidate]) -> float:
        access = items[i].parsed.tables["Assessment"]
        used = {p.column for p in access.predicates}
        return 1.0 if any(c.columns[0] in used for c in idx) else 100.0

    return cost


def test_greedy_prefers_benefit_per_byte_and_respects_the_budget() -> None:
    items = _items([
        (1, 'SELECT 1 FROM "Assessment" WHERE title = $1', 100),
        (2, 'SELECT 1 FROM "Assessment" WHERE "tenantId" = $1', 100),
    ])  # fmt: skip
    wide = Candidate("public", "Assessment", ("title",))
    narrow = Candidate("public", "Assessment", ("tenantId",))
    tables = {"Assessment": table()}
    budget = Budget(max_bytes=narrow.size(tables["Assessment"]) + 1)
    chosen = greedy(items, [wide, narrow], tables, [], _cost(items), budget)  # type: ignore[arg-type]
    assert [c.candidate for c in chosen.chosen] == [narrow]
    assert chosen.reduction_pct == 49.5
    everything = greedy(items, [wide, narrow], tables, [], _cost(items), Budget())  # type: ignore[arg-type]
    assert [c.candidate for c in everything.chosen] == [narrow, wide]
    assert everything.chosen[0].affected[0]["cost_after"] == 1.0


def test_write_overhead_can_outweigh_the_gain_and_redundant_indexes_are_named() -> None:
    items = _items([
        (1, 'SELECT 1 FROM "Assessment" WHERE "tenantId" = $1 AND status = $2', 10),
        (2, 'UPDATE "Assessment" SET status = $1 WHERE id = $2', 500),
    ])  # fmt: skip
    c = Candidate("public", "Assessment", ("tenantId", "status"))
    tables = {"Assessment": table()}
    existing = [index("Assessment_tenantId_idx", ('"tenantId"',))]
    heavy = greedy(items, [c], tables, existing, _cost(items), Budget(write_cost=3.0))  # type: ignore[arg-type]
    assert heavy.chosen == []
    light = greedy(items, [c], tables, existing, _cost(items), Budget(write_cost=0.0))  # type: ignore[arg-type]
    assert light.chosen[0].redundant == ["Assessment_tenantId_idx"]
