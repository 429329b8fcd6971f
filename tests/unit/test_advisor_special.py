"""Expression, GIN, GiST and BRIN candidates: parsing, opclass choice, refusals."""

from __future__ import annotations

from pgwarden.advise.indexes import render as advice_render
from pgwarden.advise.indexes.special.candidates import SpecialCandidate, generate
from pgwarden.advise.indexes.special.facts import ColumnType, Facts, Overload
from pgwarden.advise.model import IndexInfo
from pgwarden.advise.stats import ColumnStats, TableStats
from pgwarden.advise.workload import parse

COLUMNS = {
    "User": ("id", "email", "tenantId", "createdAt", "seenAt"),
    "Event": ("id", "payload", "tags", "body", "title", "during", "pos", "createdAt"),
}
TYPES = {
    "email": ColumnType("text", "S"),
    "tenantId": ColumnType("bigint", "N"),
    "createdAt": ColumnType("timestamp with time zone", "D"),
    "seenAt": ColumnType("timestamp without time zone", "D"),
    "payload": ColumnType("jsonb", "U"),
    "tags": ColumnType("text[]", "A"),
    "body": ColumnType("tsvector", "U"),
    "title": ColumnType("text", "S"),
    "during": ColumnType("tstzrange", "R", "r"),
    "pos": ColumnType("point", "G"),
}
FUNCTIONS = (
    Overload("lower", ("text",), "i"),
    Overload("lower", ("anyrange",), "i"),
    Overload("date_trunc", ("text", "timestamp with time zone"), "s"),
    Overload("date_trunc", ("text", "timestamp without time zone"), "i"),
    Overload("date_trunc", ("text", "interval"), "i"),
    Overload("to_tsvector", ("text",), "s"),
    Overload("to_tsvector", ("regconfig", "text"), "i"),
)


def facts(*extensions: str) -> Facts:
    types = {("public", t, c): TYPES[c] for t, cols in COLUMNS.items()
             for c in cols if c in TYPES}  # fmt: skip
    return Facts(types, FUNCTIONS, (), frozenset(extensions))


def table(name: str, rows: float = 200_000, correlation: float = 0.99) -> TableStats:
    stats = {
        "email": ColumnStats("email", avg_width=24, n_distinct=-1),
        "tenantId": ColumnStats("tenantId", avg_width=8, n_distinct=50),
        "createdAt": ColumnStats("createdAt", n_distinct=-1, correlation=correlation),
        "payload": ColumnStats("payload", avg_width=60, n_distinct=-0.8),
        "title": ColumnStats("title", avg_width=32, n_distinct=-1),
    }
    return TableStats(1, "public", name, rows, int(rows / 100), int(rows * 82), 0, 0,
                      None, int(rows), COLUMNS[name], stats)  # fmt: skip


def special(
    *texts: str, f: Facts | None = None, tables: dict[str, TableStats] | None = None
) -> tuple[list[SpecialCandidate], list[str]]:
    tables = tables or {n: table(n) for n in COLUMNS}
    out = generate([parse(t, COLUMNS) for t in texts], tables, [], f or facts())
    return out.candidates, list(out.notes)


def preds(text: str, name: str) -> list[tuple[str, str, str | None, str | None]]:
    access = parse(text, COLUMNS).tables[name]
    return [(p.column, p.op, p.expression, p.operator) for p in access.predicates]


def test_expressions_are_read_with_their_columns_and_qualifiers_removed() -> None:
    text = (
        'SELECT u.id FROM "User" u WHERE lower(u.email) = $1 AND u."tenantId" = $2 '
        "AND date_trunc('day', u.\"createdAt\") >= $3"
    )
    assert preds(text, "User") == [
        ("email", "expr_eq", "lower(email)", None),
        ("tenantId", "eq", None, None),
        ("createdAt", "expr_range", "date_trunc('day', \"createdAt\")", None),
    ]
    jsonb = preds("SELECT 1 FROM \"Event\" WHERE (payload ->> 'kind') = $1", "Event")
    assert jsonb == [("payload", "expr_eq", "payload ->> 'kind'", None)]
    # pg_stat_statements folded 'day' into $2: no longer an indexable expression
    folded = 'SELECT 1 FROM "User" WHERE date_trunc($2, "createdAt") = $1'
    assert preds(folded, "User") == [
        ("createdAt", "expr_param", 'date_trunc($2, "createdAt")', None)
    ]
    found, notes = special(folded)
    assert found == [] and "constant pg_stat_statements replaced" in notes[0]


def test_operators_like_patterns_and_knn_order() -> None:
    text = (
        "SELECT 1 FROM \"Event\" WHERE payload @> $1 AND payload ? 'a' "
        "AND $2 <@ tags AND during && tstzrange($3, $4) "
        "AND to_tsvector('english', title) @@ plainto_tsquery($5) "
        "ORDER BY pos <-> point(1, 2) LIMIT 5"
    )
    assert preds(text, "Event") == [
        ("payload", "operator", None, "@>"),
        ("payload", "operator", None, "?"),
        ("tags", "operator", None, "@>"),  # commuted
        ("during", "operator", None, "&&"),
        ("title", "operator", "to_tsvector('english', title)", "@@"),
        ("pos", "knn", None, "<->"),
    ]
    likes = (
        "SELECT 1 FROM \"Event\" WHERE title LIKE '%x%' AND body ILIKE $1 "
        "AND title LIKE $3 || $2 || $4 AND title LIKE $5 AND lower(title) LIKE $6"
    )
    assert [(c, op) for c, op, _e, _o in preds(likes, "Event")] == [
        ("title", "like_infix"),  # literal with a leading wildcard
        ("body", "like_infix"),  # ILIKE: never a B-tree
        ("title", "like_infix"),  # '%' || $2 || '%' as pg_stat_statements keeps it
        ("title", "like_infix"),  # a bare parameter may hold '%x': trigram
        ("title", "like_infix"),
    ]


def test_expression_btree_alone_and_after_the_equality_columns() -> None:
    found, notes = special(
        'SELECT id FROM "User" WHERE lower(email) = $1 AND "tenantId" = $2'
    )
    assert notes == []
    ddl = sorted(c.ddl() for c in found)
    assert ddl == [
        'CREATE INDEX CONCURRENTLY IF NOT EXISTS "User_lower_email_idx" ON '
        '"public"."User" USING btree ((lower(email)));',
        'CREATE INDEX CONCURRENTLY IF NOT EXISTS "User_tenantId_lower_email_idx" ON '
        '"public"."User" USING btree ("tenantId", (lower(email)));',
    ]
    assert all(c.verifiable and c.method == "btree" for c in found)
    assert (
        found[0]
        .statement()
        .as_string(None)
        .startswith('CREATE INDEX ON "public"."User" USING btree (')
    )
    like = special("SELECT id FROM \"User\" WHERE lower(email) LIKE 'a%'")[0]
    assert like[0].opclass == "text_pattern_ops"
    assert like[0].ddl().endswith("((lower(email)) text_pattern_ops);")


def test_an_expression_calling_a_stable_function_is_refused() -> None:
    found, notes = special(
        'SELECT id FROM "User" WHERE date_trunc(\'day\', "createdAt") = $1'
    )
    assert found == []
    assert len(notes) == 1 and "date_trunc(text, timestamp with time zone)" in notes[0]
    assert "STABLE" in notes[0] and "IMMUTABLE" in notes[0]
    # the same function on a timestamp without time zone is IMMUTABLE
    ok, _ = special('SELECT id FROM "User" WHERE date_trunc(\'day\', "seenAt") = $1')
    assert [c.expression for c in ok] == ["date_trunc('day', \"seenAt\")"]
    fts, notes = special(
        'SELECT 1 FROM "Event" WHERE to_tsvector(title) @@ plainto_tsquery($1)'
    )
    assert fts == [] and "to_tsvector(text) is STABLE" in notes[0]
    unknown, notes = special('SELECT 1 FROM "User" WHERE my_norm(email) = $1')
    assert unknown == [] and "my_norm() with 1 argument(s) is unknown" in notes[0]


def test_gin_opclass_follows_the_operators_of_the_whole_workload() -> None:
    found, _ = special('SELECT id FROM "Event" WHERE payload @> $1')
    assert [(c.method, c.opclass, c.verifiable) for c in found] == [
        ("gin", "jsonb_path_ops", False)
    ]
    assert "only @>" in found[0].note
    both, _ = special(
        'SELECT id FROM "Event" WHERE payload @> $1',
        "SELECT id FROM \"Event\" WHERE payload ? 'kind'",
    )
    assert [(c.method, c.opclass) for c in both] == [("gin", "jsonb_ops")]
    arrays, _ = special('SELECT id FROM "Event" WHERE tags && $1')
    assert [(c.method, c.opclass) for c in arrays] == [("gin", None)]
    ranges, _ = special(
        'SELECT id FROM "Event" WHERE during && $1',
        'SELECT id FROM "Event" ORDER BY pos <-> $1 LIMIT 10',
    )
    assert sorted((c.method, c.columns) for c in ranges) == [
        ("gist", ("during",)), ("gist", ("pos",)),
    ]  # fmt: skip
    text = "SELECT 1 FROM \"Event\" WHERE to_tsvector('english', title) @@ $1"
    fts, _ = special(text)
    assert (
        fts[0].ddl().endswith("USING gin ((to_tsvector('english', title)));")
        and fts[0].method == "gin"
    )


def test_trigram_index_only_with_pg_trgm_installed() -> None:
    text = "SELECT id FROM \"Event\" WHERE title ILIKE '%' || $1 || '%'"
    none, notes = special(text)
    assert none == []
    assert "pg_trgm is needed" in notes[0] and "Event.title" in notes[0]
    found, notes = special(text, f=facts("pg_trgm"))
    assert notes == [] and [(c.method, c.opclass) for c in found] == [
        ("gin", "gin_trgm_ops")
    ]


def test_brin_needs_a_large_table_whose_order_follows_the_column() -> None:
    text = 'SELECT count(*) FROM "User" WHERE "createdAt" >= $1 AND "createdAt" < $2'
    found, _ = special(text)
    brin = [c for c in found if c.method == "brin"]
    assert len(brin) == 1 and brin[0].verifiable and brin[0].columns == ("createdAt",)
    assert brin[0].ddl().endswith('USING brin ("createdAt");')
    big = table("User")
    assert brin[0].size(big) == 3 * 8192 < big.index_bytes(("createdAt",)) / 50
    shuffled = {"User": table("User", correlation=0.4)}
    assert not [c for c in special(text, tables=shuffled)[0] if c.method == "brin"]
    small = {"User": table("User", rows=20_000)}
    assert not [c for c in special(text, tables=small)[0] if c.method == "brin"]
    equality = 'SELECT 1 FROM "User" WHERE "createdAt" = $1'
    assert not [c for c in special(equality)[0] if c.method == "brin"]


def test_existing_expression_and_gin_indexes_serve_their_candidates() -> None:
    def index(method: str, keys: tuple[str, ...]) -> IndexInfo:
        return IndexInfo(
            oid=1, schema="public", table="User", name="x", table_oid=1,
            method=method, is_unique=False, is_primary=False, is_valid=True,
            is_ready=True, backs_constraint=False, constraint_name=None,
            referenced_by_fk=False, keys=keys, include=(), key_attnums=(),
            opclasses=(), collations=(), options=(), predicate=None,
            definition="", size_bytes=8192,
        )  # fmt: skip

    parsed = [parse('SELECT id FROM "User" WHERE lower(email) = $1', COLUMNS)]
    tables = {"User": table("User")}
    existing = [index("btree", ("lower(email)",))]
    assert generate(parsed, tables, existing, facts()).candidates == []
    assert generate(parsed, tables, [index("gin", ("lower(email)",))],
                    facts()).candidates  # fmt: skip


def test_markdown_shows_method_expression_and_uncosted_statements() -> None:
    rec = {
        "table": "Event", "columns": ["payload"], "ddl": "CREATE INDEX ...;",
        "method": "gin", "opclass": "jsonb_path_ops", "expression": None,
        "estimated_size_bytes": 81920, "size_savings_bytes": None,
        "full_index_size_bytes": None, "workload_cost_reduction_pct": None,
        "confidence": "unverified", "reasoning": "unverified: hypopg cannot ...",
        "affected_queries": [{"queryid": "7", "text": "SELECT 1", "calls": 3,
                              "cost_before": None, "cost_after": None}],
    }  # fmt: skip
    expr = rec | {"method": "btree", "opclass": None, "expression": "lower(email)"}
    data = {"target": "t", "verified": True, "notes": [],
            "recommendations": [rec, expr]}  # fmt: skip
    text = advice_render.markdown(data)
    assert "- method: gin (jsonb_path_ops)" in text
    assert "`7` not costed (3 calls)" in text
    assert "## 2. Event (lower(email))" in text
    assert "- expression: `lower(email)`" in text
