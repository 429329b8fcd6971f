"""The advice as a set: against the existing indexes and against itself.

One table with a primary key, an existing hash index and a skewed status
column; a workload that sorts by the key then another column, filters by the
hashed column, and filters by status (no observed values) and tenant.
"""

from __future__ import annotations

from typing import Any

import pytest

from pgwarden import pg
from pgwarden.advise.indexes.rules import unique_order
from pgwarden.advise.indexes.run import run
from pgwarden.advise.model import IndexInfo
from pgwarden.config import Settings

SORTED = 'SELECT id, "createdAt" FROM "Ledger" ORDER BY id, "createdAt" LIMIT 20'
HASHED = 'SELECT id FROM "Ledger" WHERE code = %s'
PENDING = 'SELECT id FROM "Ledger" WHERE status = %s AND "tenantId" = %s'


def _setup(dsn: str) -> None:
    statements = [
        "CREATE EXTENSION IF NOT EXISTS hypopg",
        'CREATE TABLE "Ledger" (id bigint PRIMARY KEY, "createdAt" timestamptz '
        'NOT NULL, code int NOT NULL, status text NOT NULL, "tenantId" int NOT NULL)',
        "INSERT INTO \"Ledger\" SELECT g, now() - g * interval '1 minute', "
        "g % 20000, CASE WHEN g % 50 = 0 THEN 'pending' WHEN g % 50 = 1 THEN "
        "'failed' ELSE 'done' END, g % 400 FROM generate_series(1, 60000) g",
        'CREATE INDEX "Ledger_code_hash" ON "Ledger" USING hash (code)',
    ]
    with pg.connect(dsn, statement_timeout_ms=None) as conn:
        for text in statements:
            conn.execute(text)
        conn.execute("ANALYZE")
        conn.execute("SELECT pg_stat_statements_reset()")
    with pg.connect(dsn, workload=True) as conn:
        for n in range(40):
            conn.execute(SORTED).fetchall()
            conn.execute(HASHED, [n * 31]).fetchall()
            conn.execute(PENDING, ["pending", n]).fetchall()


def _covers(rec: dict[str, Any], column: str) -> bool:
    return bool(rec["columns"]) and rec["columns"][0] == column


@pytest.mark.hypopg
def test_advice_is_right_as_a_set(empty_dsn: str) -> None:
    _setup(empty_dsn)
    data = run(Settings(), empty_dsn, None).as_dict()
    assert data["mode"] == "hypopg"
    recs, notes = data["recommendations"], data["notes"]
    # unique order: the primary key decides ORDER BY id, "createdAt"
    assert not [r for r in recs if r["columns"][:1] == ["id"]], recs
    assert any("Ledger_pkey" in n and "decides the order" in n for n in notes), notes
    # the hash index serves code = $1: a B-tree beside it gains next to nothing
    assert not [r for r in recs if _covers(r, "code")], recs
    assert any("Ledger_code_hash" in n and "measured gain" in n for n in notes)
    # status = $1 AND "tenantId" = $2, no observed values: one index, its reason said
    served = [
        r for r in recs
        if any("status" in q["text"] for q in r["affected_queries"])
    ]  # fmt: skip
    assert len(served) == 1, served
    (one,) = served
    why = "no observed values"
    if one["where"]:
        assert "assumes" in one["reasoning"] and why in one["reasoning"]
    else:
        assert "preferred to partial indexes" in one["reasoning"]
        assert any(why in n and "not recommended beside" in n for n in notes)
    assert data["workload_cost_after"] < data["workload_cost_before"]
    for rec in recs:  # and what is printed runs
        with pg.connect(empty_dsn, statement_timeout_ms=None) as conn:
            for text in rec["ddl_statements"]:
                conn.execute(text)


def _index(name: str, keys: tuple[str, ...], **kw: Any) -> IndexInfo:
    base: dict[str, Any] = {
        "oid": 1, "schema": "public", "table": "t", "name": name, "table_oid": 9,
        "method": "btree", "is_unique": False, "is_primary": False,
        "is_valid": True, "is_ready": True, "backs_constraint": False,
        "constraint_name": None, "referenced_by_fk": False, "keys": keys,
        "include": (), "key_attnums": tuple(range(1, len(keys) + 1)),
        "opclasses": (), "collations": (), "options": (), "predicate": None,
        "definition": "", "size_bytes": 8192,
    }  # fmt: skip
    return IndexInfo(**(base | kw))


def test_unique_order_cuts_keys_after_a_unique_index() -> None:
    from pgwarden.advise.indexes import Candidate

    pk = _index("t_pkey", ("id",), is_unique=True, is_primary=True)
    pair = _index("t_a_b", ("a", "b"), is_unique=True)
    found = [
        Candidate("public", "t", ("id", "at")),  # served by the key: left out
        Candidate("public", "t", ("x", "id", "at")),  # cut after id
        Candidate("public", "t", ("a", "b", "c")),  # (a, b) unique and indexed
        Candidate("public", "t", ("b", "c")),  # no unique index inside: kept
        Candidate("public", "t", ("id", "at"), ("z",)),  # covering: keys cut
    ]
    kept, notes = unique_order(found, [pk, pair])
    assert [(c.columns, c.include) for c in kept] == [
        (("x", "id"), ()),
        (("b", "c"), ()),
        (("id",), ("z", "at")),
    ]
    assert len(notes) == 2 and "t_pkey" in notes[0] and "t_a_b" in notes[1]


def test_without_hypopg_a_hash_index_serves_equality_on_its_column() -> None:
    from pgwarden.advise.indexes import Candidate
    from pgwarden.advise.indexes.rules import other_method_heuristic
    from pgwarden.advise.indexes.select import Item
    from pgwarden.advise.workload import Statement, parse

    catalog = {"t": ("id", "code", "n")}
    hashed = _index("t_code_hash", ("code",), method="hash")

    def item(text: str) -> Item:
        return Item(Statement(1, text, 10, 5.0), parse(text, catalog), text)

    equal = [item("SELECT id FROM t WHERE code = $1")]
    ranged = [item("SELECT id FROM t WHERE code > $1")]
    one, two = Candidate("public", "t", ("code",)), Candidate("public", "t", ("n",))
    kept, notes = other_method_heuristic([one, two], equal, [hashed])
    assert kept == [two] and "t_code_hash" in notes[0] and "unverified" in notes[0]
    kept, notes = other_method_heuristic([one], ranged, [hashed])  # hash: no range
    assert kept == [one] and notes == []
