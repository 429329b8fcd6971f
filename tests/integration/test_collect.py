"""The collector against a real PostgreSQL: exact deltas, resets, texts, retention."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from pgwarden import pg
from pgwarden.collect import CollectOptions, apply_retention, collect_once
from pgwarden.collect.history import (
    hourly_series,
    latest_interval,
    statement_series,
    statement_texts,
)
from pgwarden.config import CollectSettings
from pgwarden.repository import migrate

MARKER = "SELECT /* marker-xyz */ $1::int"


@pytest.fixture
def conns(empty_dsn: str) -> Iterator[tuple[psycopg.Connection[Any], ...]]:
    """Target and repository connections to the same fresh database."""
    with pg.connect(empty_dsn, autocommit=False, statement_timeout_ms=None) as conn:
        migrate(conn)
    with pg.connect(empty_dsn) as target, pg.connect(empty_dsn) as repo:
        yield target, repo


def run_marker(dsn: str, calls: int, marker: str = "marker-xyz") -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for n in range(calls):
            conn.execute(f"SELECT /* {marker} */ %s::int", [n])


def marker_rows(repo: psycopg.Connection[Any], marker: str) -> list[dict[str, Any]]:
    return pg.fetch_all(
        repo,
        "SELECT s.* FROM pgwarden.statement_current s JOIN pgwarden.statement_text t"
        " USING (target_id, dbid, userid, queryid, toplevel) WHERE t.query LIKE %s",
        [f"%{marker}%"],
    )


def test_call_delta_is_exact(conns: tuple[Any, Any], empty_dsn: str) -> None:
    target, repo = conns
    first = collect_once(target, repo, "t")
    assert first.baseline and not first.disabled
    run_marker(empty_dsn, 37)
    second = collect_once(target, repo, "t")
    assert second.prev_ts == first.ts and not second.gaps, second.summary()
    rows = marker_rows(repo, "marker-xyz")
    assert [r["calls"] for r in rows] == [37]
    run_marker(empty_dsn, 5)
    collect_once(target, repo, "t")
    assert sorted(r["calls"] for r in marker_rows(repo, "marker-xyz")) == [5, 37]
    points = statement_series(
        repo,
        second.target_id,
        first.ts,
        second.ts + timedelta(hours=1),
        queryid=rows[0]["queryid"],
    )
    assert [p.values["calls"] for p in points] == [37, 5]
    interval = latest_interval(repo, second.target_id)
    assert interval is not None and interval.prev_ts == second.ts


def test_both_servers_collect_every_part(conns: tuple[Any, Any]) -> None:
    target, repo = conns
    target.execute("CREATE TABLE t1 (id int PRIMARY KEY, v text)")
    target.execute("INSERT INTO t1 SELECT g, 'x' FROM generate_series(1, 100) g")
    collect_once(target, repo, "t")
    target.execute("SELECT count(*) FROM t1")
    target.execute("SELECT pg_stat_force_next_flush()")  # PostgreSQL 15+
    result = collect_once(target, repo, "t")
    assert result.disabled == {}
    assert result.samples["database"] == 1
    assert result.samples["table"] >= 1 and result.samples["index"] >= 1
    db = pg.fetch_one(repo, "SELECT * FROM pgwarden.database_current")
    assert db is not None
    assert db["xact_commit"] >= 1 and db["max_connections"] == 200
    assert db["connections"] >= 2 and db["shared_buffers_bytes"] > 0
    assert db["checkpoints_timed"] is not None and db["statements_dealloc"] == 0
    table = pg.fetch_one(
        repo,
        "SELECT s.* FROM pgwarden.table_current s JOIN pgwarden.relation r"
        " ON r.target_id = s.target_id AND r.kind = 'table' AND r.relid = s.relid"
        " WHERE r.rel_name = 't1'",
    )
    assert table is not None and table["seq_scan"] >= 1 and table["size_bytes"] > 0


def test_reset_records_a_gap_and_no_negative_delta(
    conns: tuple[Any, Any], empty_dsn: str
) -> None:
    target, repo = conns
    collect_once(target, repo, "t")
    run_marker(empty_dsn, 50)
    collect_once(target, repo, "t")
    target.execute("SELECT pg_stat_statements_reset()")
    run_marker(empty_dsn, 3)
    reset = collect_once(target, repo, "t")
    assert any(g.part == "statements" and "reset" in g.reason for g in reset.gaps), (
        reset.summary()
    )
    run_marker(empty_dsn, 4)
    after = collect_once(target, repo, "t")
    assert not [g for g in after.gaps if g.part == "statements"]
    assert sorted(r["calls"] for r in marker_rows(repo, "marker-xyz")) == [4, 50]
    negative = pg.fetch_one(
        repo,
        "SELECT count(*) AS n FROM pgwarden.statement_current"
        " WHERE calls < 0 OR rows < 0 OR total_exec_ms < 0",
    )
    assert negative == {"n": 0}
    gaps = pg.fetch_all(repo, "SELECT part, reason FROM pgwarden.collect_gap")
    assert any("stats_reset" in g["reason"] for g in gaps)


def test_text_is_stored_once(conns: tuple[Any, Any], empty_dsn: str) -> None:
    target, repo = conns
    results = []
    for _ in range(6):
        run_marker(empty_dsn, 2)
        results.append(collect_once(target, repo, "t"))
    texts = [
        t
        for t in statement_texts(repo, results[0].target_id)
        if "marker-xyz" in t.query
    ]
    assert len(texts) == 1 and "$1" in texts[0].query
    assert results[-1].new_texts <= 2  # only statements new since the last cycle
    assert len(marker_rows(repo, "marker-xyz")) == 5


def test_long_texts_are_truncated(conns: tuple[Any, Any], empty_dsn: str) -> None:
    target, repo = conns
    collect_once(target, repo, "t")
    run_marker(empty_dsn, 1, marker="long-" + "y" * 500)
    collect_once(target, repo, "t", CollectOptions(text_limit=100))
    row = pg.fetch_one(
        repo,
        "SELECT length(query) AS kept, query_length FROM pgwarden.statement_text"
        " WHERE query LIKE '%long-y%'",
    )
    assert row is not None and row["kept"] == 100 and row["query_length"] > 500


def test_missing_extension_disables_statements_only(
    conns: tuple[Any, Any],
) -> None:
    target, repo = conns
    target.execute("DROP EXTENSION pg_stat_statements")
    collect_once(target, repo, "t")
    result = collect_once(target, repo, "t")
    assert "CREATE EXTENSION pg_stat_statements" in result.disabled["statements"]
    assert "statements_info" in result.disabled
    assert result.samples["database"] == 1 and result.statements == 0


def test_tiny_timeout_disables_statements_only(
    conns: tuple[Any, Any], empty_dsn: str
) -> None:
    target, repo = conns
    options = CollectOptions(part_timeouts={"statements": 1})
    for _ in range(3):  # again when another test reset pg_stat_statements meanwhile
        # 600 distinct statements (an alias or a constant would not make one)
        with psycopg.connect(empty_dsn, autocommit=True) as conn, conn.pipeline():
            for n in range(1, 601):
                conn.execute("SELECT /* bulk */ " + "+".join(["1"] * n))
        collect_once(target, repo, "t")
        result = collect_once(target, repo, "t", options)
        # the counters or only the texts (then the counters are kept) ran out of time
        off = {k: v for k, v in result.disabled.items() if "timed out" in v}
        if off:
            break
    assert set(off) in ({"statements"}, {"statement_texts"}), result.summary()
    assert "statements_info" not in result.disabled
    assert result.samples["database"] == 1
    recovered = collect_once(target, repo, "t")
    assert not {"statements", "statement_texts"} & set(recovered.disabled)
    if "statements" in off:
        assert any("not read last cycle" in g.reason for g in recovered.gaps)
    else:
        assert recovered.new_texts > 0  # read on the next cycle


def test_retention_drops_old_partitions(conns: tuple[Any, Any]) -> None:
    target, repo = conns
    result = collect_once(target, repo, "t")
    settings = CollectSettings(raw_retention_days=2, rollup_retention_days=40)
    assert apply_retention(repo, result.ts, settings) == []
    dropped = apply_retention(repo, result.ts + timedelta(days=5), settings)
    assert dropped and all("_history_p" in name for name in dropped)
    later = apply_retention(repo, result.ts + timedelta(days=100), settings)
    assert any("_hourly_p" in n for n in later)
    assert any(n.startswith("collect_cycle_p") for n in later)
    left = pg.fetch_one(
        repo,
        "SELECT count(*) AS n FROM pg_class WHERE relname LIKE %s",
        [f"statement_history_p{result.ts:%Y%m%d}"],
    )
    assert left == {"n": 0}


def test_finished_hours_are_packed(conns: tuple[Any, Any], empty_dsn: str) -> None:
    from pgwarden.collect.pack import pack

    target, repo = conns
    first = collect_once(target, repo, "t")
    run_marker(empty_dsn, 37)
    second = collect_once(target, repo, "t")
    until = second.ts + timedelta(hours=3)
    before = statement_series(repo, second.target_id, first.ts, until)
    with repo.transaction():
        pack(repo, second.target_id, second.ts + timedelta(hours=1))
    assert (
        pg.fetch_one(repo, "SELECT count(*) AS n FROM pgwarden.statement_current")["n"]
        == 0
    )
    after = statement_series(repo, second.target_id, first.ts, until)
    assert after == before
    [queryid] = {r["queryid"] for r in pg.fetch_all(
        repo, "SELECT queryid FROM pgwarden.statement_text WHERE query LIKE %s",
        ["%marker-xyz%"])}  # fmt: skip
    hourly = hourly_series(
        repo,
        "statement",
        second.target_id,
        first.ts - timedelta(hours=1),
        until,
        {"queryid": queryid},
    )
    assert [p.values["calls"] for p in hourly] == [37]


def test_each_cycle_writes_statement_totals(
    conns: tuple[Any, Any], empty_dsn: str
) -> None:
    target, repo = conns
    collect_once(target, repo, "t")
    run_marker(empty_dsn, 37)
    second = collect_once(target, repo, "t")
    [total] = pg.fetch_all(
        repo, "SELECT * FROM pgwarden.statement_total WHERE ts = %s", [second.ts]
    )
    rows = pg.fetch_all(
        repo,
        "SELECT s.calls, s.total_exec_ms, t.query FROM pgwarden.statement_current s"
        " JOIN pgwarden.statement_text t USING (target_id, dbid, userid, queryid,"
        " toplevel) WHERE s.ts = %s AND s.toplevel",
        [second.ts],
    )
    own = [r for r in rows if "pgwarden" in r["query"]]
    assert total["calls"] + total["own_calls"] == sum(r["calls"] for r in rows)
    assert total["calls"] >= 37 and total["own_calls"] >= sum(r["calls"] for r in own)
    assert total["total_exec_ms"] + total["own_exec_ms"] == pytest.approx(
        sum(r["total_exec_ms"] for r in rows)
    )
    assert total["interval_s"] == (second.ts - second.prev_ts).total_seconds()


def test_migration_0006_keeps_packed_history(empty_dsn: str) -> None:
    from datetime import UTC, datetime

    from pgwarden.repository import available_migrations

    hour = datetime(2025, 3, 15, 10, tzinfo=UTC)
    times = [hour + timedelta(minutes=1, milliseconds=123), hour + timedelta(
        minutes=2, milliseconds=456)]  # fmt: skip
    with pg.connect(empty_dsn, autocommit=True) as conn:
        for migration in available_migrations()[:5]:
            conn.execute(migration.sql)
            conn.execute(pg.query("repository", "record_version"),
                         [migration.version, migration.name])  # fmt: skip
        conn.execute(
            "CREATE TABLE pgwarden.statement_history_p20250315 PARTITION OF "
            "pgwarden.statement_history "
            "FOR VALUES FROM ('2025-03-15 00:00Z') TO ('2025-03-16 00:00Z')"
        )
        conn.execute(
            "INSERT INTO pgwarden.statement_history (target_id, hour, dbid, userid,"
            " queryid, toplevel, ts, interval_s, calls, total_exec_ms)"
            " VALUES (1, %s, 1, 1, 42, true, %s, %s, %s, %s)",
            [hour, times, [60.0, 60.333], [5, 7], [1.5, 2.25]],
        )
    with pg.connect(empty_dsn, autocommit=False, statement_timeout_ms=None) as conn:
        assert "0006_history_storage" in migrate(conn).applied
    with pg.connect(empty_dsn) as conn:
        points = statement_series(conn, 1, hour, hour + timedelta(hours=1))
    assert [p.ts for p in points] == times
    assert [p.interval_s for p in points] == [60.0, 60.333]
    assert [p.values["calls"] for p in points] == [5, 7]
    assert [p.values["total_exec_ms"] for p in points] == [1.5, 2.25]


def test_kept_snapshot_in_the_repository_equals_the_memory(
    conns: tuple[Any, Any], empty_dsn: str
) -> None:
    """Only moved entries are rewritten, yet a restarted collector reads them all."""
    from pgwarden.collect import store
    from pgwarden.collect.state import State

    target, repo = conns
    state = State()
    for calls in (0, 3, 0, 2):
        run_marker(empty_dsn, calls)
        result = collect_once(target, repo, "t", state=state)
    assert state.memory is not None and state.memory.previous is not None
    with repo.transaction():
        loaded = store.load_previous(repo, result.target_id)
    assert loaded is not None and loaded.ts == state.memory.previous.ts
    assert loaded.markers == state.memory.previous.markers
    kept = _entries(state.memory.previous)
    assert _entries(loaded) == kept
    assert len(kept["statements"]) == result.statements


def _entries(previous: Any) -> dict[str, dict[Any, Any]]:
    """Entries of every part that has some (an empty part keeps no row)."""
    return {
        part: {key: (dict(row.counters), row.since) for key, row in rows.items()}
        for part, rows in previous.rows.items()
        if rows
    }
