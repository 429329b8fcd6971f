"""Statement shapes the workload reader sees through, and what the candidates make
of them: views, WITH queries, subqueries, ORDER BY by position and alias, mixed
directions, IS [NOT] NULL, LIKE, and the write overhead per statement type."""

from __future__ import annotations

from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from pgwarden.advise.indexes.candidates import Candidate, generate
from pgwarden.advise.indexes.select import write_load
from pgwarden.advise.model import IndexInfo
from pgwarden.advise.stats import ColumnStats, TableStats
from pgwarden.advise.workload import Parsed, Statement, View, gather, parse

CAT = {
    "users": ("id", "email", "tenant_id", "created_at", "deleted_at", "nick"),
    "orders": ("id", "user_id", "total", "status", "created_at"),
    "sales_mv": ("day", "total"),  # a materialized view: a table to the reader
}
VIEWS = {
    "live_users": View(
        "live_users",
        ("uid", "mail", "tenant", "created_at"),
        "SELECT users.id AS uid, users.email AS mail, users.tenant_id AS tenant,"
        " users.created_at FROM users WHERE users.deleted_at IS NULL;",
    ),
    # a view of a view, its columns renamed again by the view's column list
    "tenant_users": View(
        "tenant_users", ("who", "t"), "SELECT uid, tenant FROM live_users;"
    ),
    "top_orders": View(
        "top_orders",
        ("user_id", "total"),
        "SELECT user_id, total FROM orders ORDER BY total DESC LIMIT 10;",
    ),
}


def preds(p: Parsed, table: str) -> set[tuple[str, str]]:
    return {(x.column, x.op) for x in p.tables[table].predicates}


def stats(rows: float = 100_000, **null_frac: float) -> TableStats:
    cols = {
        c: ColumnStats(c, null_frac=null_frac.get(c, 0.0), n_distinct=-0.5)
        for c in CAT["users"]
    }
    return TableStats(1, "public", "users", rows, 1000, 8192000, 0, 0, None,
                      int(rows), CAT["users"], cols)  # fmt: skip


def btree(keys: tuple[str, ...], options: tuple[int, ...] = ()) -> IndexInfo:
    return IndexInfo(
        oid=1, schema="public", table="users", name="users_x", table_oid=1,
        method="btree", is_unique=False, is_primary=False, is_valid=True,
        is_ready=True, backs_constraint=False, constraint_name=None,
        referenced_by_fk=False, keys=keys, include=(), key_attnums=(),
        opclasses=(), collations=(), options=options, predicate=None,
        definition="", size_bytes=8192,
    )  # fmt: skip


def test_views_nested_and_renamed_reach_the_base_columns() -> None:
    p = parse("SELECT uid FROM live_users WHERE mail = $1", CAT, VIEWS)
    assert preds(p, "users") == {("email", "eq"), ("deleted_at", "null")}
    p = parse(
        "SELECT v.who FROM tenant_users v WHERE v.t = $1 ORDER BY who DESC", CAT, VIEWS
    )
    assert preds(p, "users") == {("tenant_id", "eq"), ("deleted_at", "null")}
    assert p.tables["users"].order_by == [("id", True)]
    # without the views, nothing is known of them; a view with LIMIT is a fence
    assert parse("SELECT 1 FROM live_users WHERE mail = $1", CAT).tables == {}
    p = parse("SELECT 1 FROM top_orders WHERE user_id = $1", CAT, VIEWS)
    assert preds(p, "orders") == set() and p.tables["orders"].order_by
    # a materialized view is a table (indexable): never expanded
    p = parse("SELECT total FROM sales_mv WHERE day = $1", CAT, VIEWS)
    assert preds(p, "sales_mv") == {("day", "eq")}
    # a view joined with a table: the join key lands on the base column
    p = parse(
        "SELECT o.total FROM orders o JOIN live_users u ON u.uid = o.user_id "
        "WHERE u.tenant = $1",
        CAT, VIEWS,
    )  # fmt: skip
    assert p.tables["users"].join_keys == ["id"]
    assert p.tables["orders"].join_keys == ["user_id"]
    # an expression on a renamed view column is indexed on the base column
    p = parse("SELECT uid FROM live_users WHERE lower(mail) = $1", CAT, VIEWS)
    expr = next(x for x in p.tables["users"].predicates if x.expression)
    assert (expr.expression, expr.refs) == ("lower(email)", ("email",))


def test_ctes_inline_like_the_planner_and_materialized_is_a_fence() -> None:
    body = "SELECT * FROM orders WHERE status = $1"
    inline = parse(f"WITH x AS ({body}) SELECT id FROM x WHERE user_id = $2", CAT)
    assert preds(inline, "orders") == {("status", "eq"), ("user_id", "eq")}
    fence = parse(
        f"WITH x AS MATERIALIZED ({body}) SELECT id FROM x WHERE user_id = $2", CAT
    )
    assert preds(fence, "orders") == {("status", "eq")}  # inside still counts
    twice = (
        "WITH x AS {}(SELECT * FROM orders) SELECT 1 FROM x a, x b WHERE a.user_id = $1"
    )
    assert preds(parse(twice.format(""), CAT), "orders") == set()
    assert preds(parse(twice.format("NOT MATERIALIZED "), CAT), "orders") == {
        ("user_id", "eq")
    }
    volatile = "WITH x AS (SELECT *, random() r FROM orders) SELECT 1 FROM x WHERE user_id = $1"  # noqa: E501
    assert preds(parse(volatile, CAT), "orders") == set()
    renamed = parse(
        "WITH x(u, t) AS (SELECT user_id, total FROM orders) "
        "SELECT s.u FROM (SELECT * FROM x) s WHERE s.u = $1 AND s.t > $2",
        CAT,
    )
    assert preds(renamed, "orders") == {("user_id", "eq"), ("total", "range")}
    limited = parse(
        "SELECT 1 FROM (SELECT user_id FROM orders LIMIT 5) s WHERE s.user_id = $1",
        CAT,
    )
    assert preds(limited, "orders") == set()
    union = parse(
        "SELECT 1 FROM (SELECT user_id FROM orders UNION SELECT id FROM users) s "
        "WHERE s.user_id = $1",
        CAT,
    )
    assert preds(union, "orders") == set()


def test_order_by_position_alias_and_directions_reach_the_candidate() -> None:
    p = parse(
        "SELECT email AS mail, created_at AS c FROM users WHERE tenant_id = $1 "
        "ORDER BY c DESC, 1 ASC LIMIT 20",
        CAT,
    )
    access = p.tables["users"]
    assert access.order_by == [("created_at", True), ("email", False)]
    found = generate([p], {"users": stats()}, [])
    first = found[0]
    # the mirror image of (created_at DESC, email ASC): a backward scan serves it
    assert first.columns == ("tenant_id", "created_at", "email")
    assert first.directions == ("", "", "DESC")
    assert '("tenant_id", "created_at", "email" DESC)' in first.ddl()
    assert (
        first.statement()
        .as_string(None)
        .endswith('("tenant_id", "created_at", "email" DESC)')
    )
    nulls = parse("SELECT id FROM users ORDER BY created_at DESC NULLS LAST, id", CAT)
    made = generate([nulls], {"users": stats()}, [])[0]
    assert made.directions == ("NULLS FIRST", "DESC")
    # one direction throughout needs none: a backward scan reads a plain index
    same = generate(
        [parse("SELECT id FROM users ORDER BY created_at DESC, id DESC", CAT)],
        {"users": stats()}, [],
    )[0]  # fmt: skip
    assert same.directions == () and same.columns == ("created_at", "id")
    # an existing index with the directions (or their mirror) serves it; a plain one not
    tables = {"users": stats()}
    plain = generate([nulls], tables, [btree(('"created_at"', "id"), (0, 0))])
    assert [c.directions for c in plain] == [("NULLS FIRST", "DESC")]
    for options in ((2, 3), (1, 0)):  # NULLS FIRST, DESC NULLS FIRST; its mirror
        assert generate([nulls], tables, [btree(("created_at", "id"), options)]) == []


def test_is_null_is_a_key_and_a_partial_predicate() -> None:
    p = parse("SELECT id FROM users WHERE tenant_id = $1 AND deleted_at IS NULL", CAT)
    table = stats(deleted_at=0.97)
    found = generate([p], {"users": table}, [])
    assert ("tenant_id", "deleted_at") in [c.columns for c in found]
    partial = next(c for c in found if c.where_op == "IS NULL")
    assert partial.columns == ("tenant_id",) and partial.where == '"deleted_at" IS NULL'
    assert partial.statement().as_string(None).endswith('WHERE "deleted_at" IS NULL')
    assert partial.ddl().endswith('("tenant_id") WHERE "deleted_at" IS NULL;')
    assert partial.where_fraction == 0.97 and partial.name.endswith(
        "deleted_at_null_idx"
    )
    # IS NOT NULL on a mostly-NULL column: a partial index of the rest
    sparse = parse("SELECT id FROM users WHERE nick IS NOT NULL", CAT)
    found = generate([sparse], {"users": stats(nick=0.9)}, [])
    assert [(c.columns, c.where) for c in found] == [(("nick",), '"nick" IS NOT NULL')]
    assert generate([sparse], {"users": stats(nick=0.1)}, []) == []
    # a column also compared with = $n gets no IS NULL partial
    both = [p, parse("SELECT id FROM users WHERE deleted_at = $1", CAT)]
    assert all(c.where_op == "=" for c in generate(both, {"users": table}, []))


def test_like_parameter_is_trigram_and_a_literal_prefix_a_pattern_btree() -> None:
    p = parse("SELECT id FROM users WHERE email LIKE $1", CAT)
    assert preds(p, "users") == {("email", "like_infix")}
    p = parse("SELECT id FROM users WHERE email LIKE $1 || '%'", CAT)
    assert preds(p, "users") == {("email", "like_infix")}
    p = parse("SELECT id FROM users WHERE lower(email) LIKE $1", CAT)
    assert preds(p, "users") == {("email", "like_infix")}
    literal = parse("SELECT id FROM users WHERE email LIKE 'ann%'", CAT)
    assert preds(literal, "users") == {("email", "like_prefix")}
    tables = {"users": stats()}
    unknown = generate([literal], tables, [])[0]
    assert unknown.opclass == "text_pattern_ops"
    assert '("email" text_pattern_ops)' in unknown.ddl()
    other = generate([literal], tables, [], collate_c={("users", "email"): False})
    assert other[0].opclass == "text_pattern_ops"
    c_coll = generate([literal], tables, [], collate_c={("users", "email"): True})
    assert c_coll[0].opclass is None and '("email")' in c_coll[0].ddl()


def test_write_overhead_per_statement_type() -> None:
    texts = {
        "INSERT INTO users (email) VALUES ($1)": 100,
        "DELETE FROM users WHERE id = $1": 1000,
        "UPDATE users SET nick = $1 WHERE id = $2": 10,
        "UPDATE users SET email = $1 FROM orders o WHERE o.user_id = users.id": 1,
    }
    statements = [
        Statement(n, t, calls, 1.0) for n, (t, calls) in enumerate(texts.items())
    ]
    parsed = [parse(s.text, CAT) for s in statements]
    assert parsed[3].updated == {"users": {"email"}}
    assert parsed[3].tables["orders"].join_keys == ["user_id"]
    using = parse(
        "DELETE FROM orders USING users u WHERE u.id = orders.user_id "
        "AND u.deleted_at < $1",
        CAT,
    )
    assert using.deleted == {"orders"} and using.tables["orders"].join_keys == [
        "user_id"
    ]
    assert preds(using, "users") == {("deleted_at", "range")}
    load = write_load(statements, parsed)
    on_email = Candidate("public", "users", ("email",))
    on_tenant = Candidate("public", "users", ("tenant_id",))
    assert load.entries(on_email, {}) == 101  # inserts and the update of email
    assert load.entries(on_tenant, {}) == 100  # inserts only: the updates stay HOT
    # an update of an already indexed column is not HOT: every index gets an entry
    assert load.entries(on_tenant, {"users": {"nick"}}) == 110
    cold = write_load(statements, parsed, {"users": 0.1})
    assert cold.entries(on_tenant, {}) == 111  # mostly non-HOT updates: all count


def test_shapes_rows_are_read_one_at_a_time() -> None:
    shapes = gather.shapes_from_rows(
        [
            {"name": "v", "definition": "SELECT 1", "columns": ["a"]},
            {"name": None, "definition": "x", "columns": []},
            {"name": "w"},
        ],
        [{"table": "t", "column": "c", "collate_c": True}],
        [{"table": "t", "updates": 100, "hot": 25}, {"table": "u", "updates": 3}],
    )
    assert list(shapes.views) == ["v"] and shapes.views["v"].columns == ("a",)
    assert shapes.collate_c == {("t", "c"): True}
    assert shapes.hot == {"t": 0.25}  # too few updates say nothing
    assert gather.shapes_from_rows([], None).collate_c is None


SQLISH = st.lists(
    st.sampled_from([
        "SELECT", "*", "FROM", "WITH", "x", "AS", "MATERIALIZED", "(", ")", ",",
        "users", "live_users", "tenant_users", "orders", "WHERE", "=", "$1", "AND",
        "ORDER", "BY", "1", "0", "99", "DESC", "NULLS", "FIRST", "IS", "NULL", "NOT",
        "LIKE", "'a%'", "UNION", "LIMIT", "JOIN", "ON", "u", "uid", "mail", "x.uid",
        "RECURSIVE", "UPDATE", "SET", "DELETE", "USING", "INSERT", "INTO", "VALUES",
        "email", "t", "s(a, b)", "LATERAL",
    ]),
    max_size=40,
).map(" ".join)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(text=SQLISH | st.text(max_size=200), definition=SQLISH | st.text(max_size=80))
@example(text="SELECT 1 FROM loop WHERE a = $1", definition="SELECT a FROM loop")
@example(text="SELECT 1 FROM loop", definition="SELECT a FROM loop, loop, loop, loop")
@example(text="SELECT * FROM x ORDER BY 0, 99", definition="")
@example(text="WITH x AS (SELECT * FROM x) SELECT * FROM x", definition="")
@example(text="SELECT " + "(" * 5000 + "1" + ")" * 5000, definition="")
def test_parse_is_total_with_hostile_views(text: str, definition: str) -> None:
    views = dict(VIEWS)
    views["loop"] = View("loop", ("a",), definition)  # may name itself
    p = parse(text, CAT, views)
    assert isinstance(p, Parsed)
    assert set(p.tables) <= set(CAT)  # only tables, never a view or CTE name


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(
        st.dictionaries(
            st.sampled_from(["name", "definition", "columns", "table", "column",
                             "collate_c", "updates", "hot"]),
            st.none() | st.text(max_size=5) | st.integers(0, 10**6)
            | st.lists(st.text(max_size=3), max_size=3),
        ),
        max_size=5,
    )
)  # fmt: skip
def test_shapes_from_rows_is_total(rows: list[dict[str, Any]]) -> None:
    shapes = gather.shapes_from_rows(rows, rows, rows)
    assert all(isinstance(v, View) for v in shapes.views.values())
    assert all(0 <= share <= 1 for share in shapes.hot.values())
