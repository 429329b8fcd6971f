"""The workload model: what each statement asks of each table (pglast)."""

from __future__ import annotations

from pgwarden.advise.workload import Statement, parse, weighted

CATALOG = {
    "Assessment": ("id", "tenantId", "status", "createdAt", "title", "dueAt"),
    "Answer": ("id", "assessmentId", "questionId", "value"),
    "Question": ("id", "position", "text"),
}


def test_predicates_by_kind_with_parameters_and_literals() -> None:
    p = parse(
        'SELECT a.id FROM "Assessment" a WHERE a."tenantId" = $1 '
        "AND a.status IN ('DRAFT', 'IN_PROGRESS') AND a.\"createdAt\" >= $2 "
        "AND a.\"dueAt\" IS NULL AND a.title LIKE 'Annual%' "
        'ORDER BY a."createdAt" DESC, a.id DESC LIMIT $3 OFFSET 5000',
        CATALOG,
    )
    access = p.tables["Assessment"]
    ops = {(x.column, x.op) for x in access.predicates}
    assert ops == {
        ("tenantId", "eq"), ("status", "in"), ("createdAt", "range"),
        ("dueAt", "null"), ("title", "like_prefix"),
    }  # fmt: skip
    eq = next(x for x in access.predicates if x.op == "eq")
    assert eq.param and eq.number == 1
    status = next(x for x in access.predicates if x.op == "in")
    assert status.value == "DRAFT,IN_PROGRESS"
    assert access.order_by == [("createdAt", True), ("id", True)]
    assert p.limit and p.offset == 5000 and p.command == "select"


def test_join_keys_group_by_and_reversed_comparison() -> None:
    p = parse(
        'SELECT q.position, count(*) FROM "Answer" AS an JOIN "Question" AS q '
        'ON q.id = an."questionId" WHERE $1 < an.id GROUP BY q.position',
        CATALOG,
    )
    assert p.tables["Answer"].join_keys == ["questionId"]
    assert p.tables["Question"].join_keys == ["id"]
    assert p.tables["Question"].group_by == ["position"]
    assert [(x.column, x.op) for x in p.tables["Answer"].predicates] == [
        ("id", "range")
    ]


def test_like_with_leading_wildcard_is_not_a_prefix() -> None:
    p = parse("SELECT 1 FROM \"Assessment\" WHERE title LIKE '%x'", CATALOG)
    ops = [x.op for x in p.tables["Assessment"].predicates]
    assert ops == ["like_infix"]  # for a trigram index, never a B-tree prefix


def test_subqueries_updates_and_writes() -> None:
    p = parse(
        'UPDATE "Assessment" SET status = $1 WHERE id IN '
        '(SELECT "assessmentId" FROM "Answer" WHERE "questionId" = $2)',
        CATALOG,
    )
    assert p.command == "update" and p.written == {"Assessment"}
    assert [(x.column, x.op) for x in p.tables["Answer"].predicates] == [
        ("questionId", "eq")
    ]


def test_unparsable_text_is_kept_apart() -> None:
    p = parse('SELECT id FROM "Assessment" WHERE id = $1 AND (', CATALOG)
    assert not p.parsed and not p.tables


def test_weight_is_the_share_of_total_time() -> None:
    work = weighted([
        Statement(1, "SELECT 1", calls=10, total_ms=30.0),
        Statement(2, "SELECT 2", calls=5, total_ms=10.0),
        Statement(3, "SELECT 3", calls=0, total_ms=0.0),
    ])  # fmt: skip
    assert [s.queryid for s in work.statements] == [1, 2]
    assert [s.weight for s in work.statements] == [0.75, 0.25]
    assert work.total_ms == 40.0


def test_caller_comes_from_the_sqlcommenter_tag() -> None:
    s = Statement(
        1, "SELECT 1 /*action='open',route='/a/%3Aid'*/", calls=1, total_ms=1.0
    )
    assert s.caller == "open /a/:id"


def test_constants_folded_by_pg_stat_statements_are_told_apart() -> None:
    text = (
        'SELECT id FROM "Assessment" WHERE "tenantId" = $1 AND status = $4 '
        "AND id = $2 LIMIT $3 /* $9 */"
    )
    p = parse(text, CATALOG)
    folded = {x.column: x.folded for x in p.tables["Assessment"].predicates}
    assert folded == {"tenantId": False, "status": True, "id": False}
    plain = parse('SELECT id FROM "Assessment" WHERE status = $1 LIMIT $2', CATALOG)
    assert not plain.tables["Assessment"].predicates[0].folded
