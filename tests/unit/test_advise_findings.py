"""Index health analysis on catalog rows, without a server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from pgwarden.advise.findings import at_or_above, drop_ddl, reindex_ddl, summarise
from pgwarden.advise.health import duplicates, structure, unused
from pgwarden.advise.health.seqscan import SeqScanRule, seq_scan_heavy
from pgwarden.advise.model import ForeignKey, History, IndexInfo, TableInfo, Usage

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)


def ix(name: str, keys: tuple[str, ...], **kw: Any) -> IndexInfo:
    n = len(keys)
    data: dict[str, Any] = {
        "oid": hash(name) % 100000, "schema": "public", "table": "t", "name": name,
        "table_oid": 1, "method": "btree", "is_unique": False, "is_primary": False,
        "is_valid": True, "is_ready": True, "backs_constraint": False,
        "constraint_name": None, "referenced_by_fk": False, "keys": keys,
        "include": (), "key_attnums": tuple(range(1, n + 1)),
        "opclasses": (1978,) * n, "collations": (0,) * n, "options": (0,) * n,
        "predicate": None, "definition": f"CREATE INDEX {name}", "size_bytes": 8192,
    }  # fmt: skip
    data.update(kw)
    return IndexInfo(**data)


def test_duplicate_keeps_the_constraint_backing_copy() -> None:
    plain = ix("a_plain", ("a",), oid=1)
    unique = ix("a_key", ("a",), oid=2, is_unique=True, backs_constraint=True,
                constraint_name="a_key")  # fmt: skip
    found = duplicates.duplicates([plain, unique])
    assert [(f.index, f.evidence["duplicate_of"]) for f in found] == [
        ("a_plain", "a_key")
    ]
    assert found[0].ddl == drop_ddl("public", "a_plain")


def test_different_predicate_or_method_is_not_a_duplicate() -> None:
    a = ix("a1", ("a",), oid=1)
    assert duplicates.duplicates([a, ix("a2", ("a",), oid=2, predicate="a > 0")]) == []
    assert duplicates.duplicates([a, ix("a3", ("a",), oid=3, method="hash")]) == []


def test_left_prefix_is_redundant_unless_unique() -> None:
    a, ab = ix("i_a", ("a",), oid=1), ix("i_ab", ("a", "b"), oid=2)
    ba = ix("i_ba", ("b", "a"), oid=3)
    found = duplicates.redundant([a, ab, ba])
    assert [(f.index, f.evidence["covered_by"]) for f in found] == [("i_a", "i_ab")]
    uniq = ix("u_a", ("a",), oid=4, is_unique=True)
    assert duplicates.redundant([uniq, ab]) == []
    desc = ix("i_a_desc", ("a",), oid=5, options=(3,))
    assert duplicates.redundant([desc, ab]) == []


def test_invalid_index_is_dropped_unless_it_backs_a_key() -> None:
    bad = ix("bad", ("a",), is_valid=False, is_unique=True)
    (found,) = structure.invalid([bad, ix("ok", ("a",))])
    assert found.severity == "critical" and found.ddl == drop_ddl("public", "bad")
    keyed = ix("pk", ("a",), is_valid=False, is_primary=True, backs_constraint=True)
    (found,) = structure.invalid([keyed])
    assert found.ddl == reindex_ddl("public", "pk")


def test_fk_needs_an_index_starting_with_its_columns() -> None:
    fk = ForeignKey("t_a_fk", 1, "public", "t", (2,), ('"tenantId"',), "tenant",
                    8192, 50_000)  # fmt: skip
    second = ix("i_b_a", ("b", "a"), key_attnums=(1, 2))
    (found,) = structure.fk_without_index([fk], [second])
    assert found.kind == "fk_without_index" and found.severity == "warning"
    assert found.ddl is not None and '("tenantId")' in found.ddl
    lead = ix("i_a", ("a",), key_attnums=(2,))
    assert structure.fk_without_index([fk], [lead]) == []


def test_tables_without_primary_key() -> None:
    t = TableInfo(1, "public", "Log Book", "r", 8192, 8192, 10, False, True)
    (found,) = structure.no_primary_key([t])
    assert "USING INDEX" in found.recommendation and '"Log Book"' in (
        found.recommendation
    )


def test_mostly_null_suggests_a_partial_index() -> None:
    i = ix("i_x", ('"deletedAt"',), lead_null_frac=0.97)
    (found,) = structure.mostly_null([i], 0.5)
    assert found.ddl is not None
    assert 'WHERE "deletedAt" IS NOT NULL' in found.ddl
    assert found.ddl.endswith(drop_ddl("public", "i_x"))
    assert structure.mostly_null([ix("i_y", ("y",), lead_null_frac=0.1)], 0.5) == []


def history(days: float, scans: dict[int, int], first_seen: datetime) -> History:
    since = NOW - timedelta(days=30)
    usage = {
        oid: Usage(oid, "public", f"i{oid}", first_seen, {"scans": n, "tup_read": 0,
                                                           "tup_fetch": 0})
        for oid, n in scans.items()
    }  # fmt: skip
    return History(since, NOW, NOW - timedelta(days=days), 1000, 0.0, 0, usage, {})


def test_unused_from_history_excludes_keys_and_marks_short_history() -> None:
    old = NOW - timedelta(days=60)
    idle, busy = ix("idle", ("a",), oid=1), ix("busy", ("b",), oid=2)
    pk = ix("pk", ("id",), oid=3, is_primary=True, is_unique=True)
    full = history(45, {1: 0, 2: 5, 3: 0}, old)
    (found,) = unused.unused([idle, busy, pk], full, 30, NOW)
    assert found.index == "idle" and not found.provisional
    assert found.severity == "warning" and "replica" in found.recommendation
    short = history(3, {1: 0}, old)
    (found,) = unused.unused([idle], short, 30, NOW)
    assert found.provisional and found.severity == "info"
    assert "history covers only 3.0 days" in found.recommendation


def test_unused_without_history_uses_the_live_counter_provisionally() -> None:
    found = unused.unused([ix("x", ("a",), idx_scan=0)], None, 30, NOW, NOW)
    assert found[0].provisional
    assert unused.unused([ix("x", ("a",), idx_scan=3)], None, 30, NOW) == []


def test_recent_last_scan_counts_as_used() -> None:
    recent = ix("r", ("a",), oid=1, last_idx_scan=NOW - timedelta(days=1))
    assert unused.unused([recent], history(45, {1: 0}, NOW), 30, NOW) == []


def test_unused_oids_is_the_findings_definition_over_scans() -> None:
    """The dashboard's count: the same indexes as the findings, never a key."""
    plain, busy = ix("plain", ("a",), oid=1), ix("busy", ("b",), oid=2)
    keys = [
        ix("pk", ("id",), oid=3, is_primary=True, is_unique=True,
           backs_constraint=True),
        ix("uq", ("u",), oid=4, is_unique=True, backs_constraint=True),
        ix("ex", ("r",), oid=5, method="gist", backs_constraint=True),
        ix("bad", ("c",), oid=6, is_valid=False),
        ix("live", ("d",), oid=7, idx_scan=0),
    ]  # fmt: skip
    indexes = [plain, busy, *keys]
    scans = {1: 0, 2: 5, 3: 0, 4: 0, 5: 0, 6: 0}
    found = unused.unused_oids(indexes, scans, 30, NOW)
    assert found == {1, 7}
    full = history(45, scans, NOW - timedelta(days=60))
    assert {f.index for f in unused.unused(indexes, full, 30, NOW)} == {"plain", "live"}


def test_seq_scan_signal() -> None:
    t = TableInfo(1, "public", "Answer", "r", 8192, 8192, 1e6, True, False,
                  seq_scan=500, seq_tup_read=500 * 200_000, idx_scan=10)  # fmt: skip
    (found,) = seq_scan_heavy([t], None, SeqScanRule())
    assert found.severity == "warning" and found.evidence["advisor"]["table"] == (
        "Answer"
    )
    few = TableInfo(1, "public", "x", "r", 1, 1, 1, True, False, 500, 500 * 5, 10)
    assert seq_scan_heavy([few], None, SeqScanRule()) == []


def test_ddl_quotes_hostile_names() -> None:
    name = 'Weird "Idx" Name'
    ddl = drop_ddl("My Schema", name)
    assert ddl == 'DROP INDEX CONCURRENTLY IF EXISTS "My Schema"."Weird ""Idx"" Name";'
    assert psycopg.sql.Identifier(name).as_string(None) in reindex_ddl("s", name)


def test_summary_and_fail_threshold() -> None:
    found = structure.invalid([ix("bad", ("a",), is_valid=False, size_bytes=100)])
    assert len(at_or_above(found, "warning")) == 1 and at_or_above(found, "critical")
    summary = summarise(found)
    assert summary.by_severity["critical"] == 1 and summary.reclaimable_bytes == 100
