"""Packed statement history: compact encoding, exact round trip, appended hours."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from pgwarden import pg
from pgwarden.collect import collect_once
from pgwarden.collect.history import statement_series
from pgwarden.collect.pack import pack
from pgwarden.repository import migrate


@pytest.fixture
def conns(empty_dsn: str) -> Iterator[tuple[psycopg.Connection[Any], ...]]:
    with pg.connect(empty_dsn, autocommit=False, statement_timeout_ms=None) as conn:
        migrate(conn)
    with pg.connect(empty_dsn) as target, pg.connect(empty_dsn) as repo:
        yield target, repo


def run(dsn: str, calls: int, marker: str = "pack-marker") -> None:
    """``calls`` of one statement (each marker its own: ``::int`` or ``::text``)."""
    cast = "int" if marker == "pack-marker" else "text"
    with psycopg.connect(dsn, autocommit=True) as conn:
        for n in range(calls):
            conn.execute(f"SELECT /* {marker} */ %s::{cast}", [str(n)])


def marker_id(repo: psycopg.Connection[Any], marker: str = "pack-marker") -> int:
    row = pg.fetch_one(
        repo,
        "SELECT queryid FROM pgwarden.statement_text WHERE query LIKE %s",
        [f"%{marker}%"],
    )
    assert row is not None
    return int(row["queryid"])


def packed_row(repo: psycopg.Connection[Any], queryid: int) -> dict[str, Any]:
    row = pg.fetch_one(
        repo,
        "SELECT cardinality(at_ms) AS samples, interval_ms, calls, rows,"
        " temp_blks_written, wal_records, jit_ms"
        " FROM pgwarden.statement_history WHERE queryid = %s AND toplevel",
        [queryid],
    )
    assert row is not None
    return row


def test_round_trip_keeps_exact_deltas(conns: tuple[Any, Any], empty_dsn: str) -> None:
    """Zero and repeated measures and cycle intervals are stored once, read exactly."""
    target, repo = conns
    first = collect_once(target, repo, "t")
    cycles = [first]
    for calls in (37, 0, 5):
        run(empty_dsn, calls)
        run(empty_dsn, 2, "pack-steady")
        cycles.append(collect_once(target, repo, "t"))
    queryid = marker_id(repo)
    until = cycles[-1].ts + timedelta(hours=2)
    before = statement_series(repo, first.target_id, first.ts, until, queryid)
    with repo.transaction():
        pack(repo, first.target_id, cycles[-1].ts + timedelta(hours=1))
    after = statement_series(repo, first.target_id, first.ts, until, queryid)
    assert after == before
    assert [p.values["calls"] for p in after] == [37, 5]
    assert [p.values["rows"] for p in after] == [37, 5]
    moved = [c for c in cycles[1:] if c.ts in {p.ts for p in after}]
    assert [p.interval_s for p in after] == [
        (c.ts - c.prev_ts).total_seconds() for c in moved if c.prev_ts
    ]
    assert all(p.values["temp_blks_written"] == 0 for p in after)
    row = packed_row(repo, queryid)
    assert row["samples"] == 2 and row["interval_ms"] is None
    assert row["calls"] == [37, 5] and row["temp_blks_written"] == []
    assert row["wal_records"] == []  # a read writes no WAL
    steady = marker_id(repo, "pack-steady")
    assert packed_row(repo, steady)["calls"] == [2]
    points = statement_series(repo, first.target_id, first.ts, until, steady)
    assert [p.values["calls"] for p in points] == [2, 2, 2]


def test_appended_samples_stay_aligned(conns: tuple[Any, Any], empty_dsn: str) -> None:
    """Samples added to an already packed hour keep each measure in step."""
    target, repo = conns
    first = collect_once(target, repo, "t")
    run(empty_dsn, 3)
    second = collect_once(target, repo, "t")
    with repo.transaction():
        pack(repo, first.target_id, second.ts + timedelta(hours=1))
    run(empty_dsn, 4)
    third = collect_once(target, repo, "t")
    repo.execute(
        "UPDATE pgwarden.statement_current SET interval_s = 12.5 WHERE ts = %s",
        [third.ts],
    )
    with repo.transaction():
        pack(repo, first.target_id, third.ts + timedelta(hours=1))
    queryid = marker_id(repo)
    until = third.ts + timedelta(hours=2)
    points = statement_series(repo, first.target_id, first.ts, until, queryid)
    if len({p.ts.hour for p in points}) > 1:
        pytest.skip("the cycles fell in two hours: nothing was appended")
    assert [p.values["calls"] for p in points] == [3, 4]
    assert [p.values["wal_records"] for p in points] == [0, 0]
    assert [p.interval_s for p in points] == [
        (second.ts - first.ts).total_seconds(),
        12.5,
    ]
    row = packed_row(repo, queryid)
    assert row["samples"] == 2 and row["interval_ms"] == [None, 12500]
    assert row["calls"] == [3, 4] and len(row["wal_records"]) == 2


def test_window_of_each_cycle_ranks_like_the_samples(
    conns: tuple[Any, Any], empty_dsn: str
) -> None:
    """The collector's per-statement window sums equal the sums of the samples."""
    target, repo = conns
    collect_once(target, repo, "t")
    run(empty_dsn, 6)
    collect_once(target, repo, "t")
    run(empty_dsn, 2)
    last = collect_once(target, repo, "t")
    queryid = marker_id(repo)
    window = pg.fetch_all(
        repo, "SELECT * FROM pgwarden.statement_window WHERE target_id = %s",
        [last.target_id],
    )  # fmt: skip
    assert {r["ts"] for r in window} == {last.ts}
    [marker] = [r for r in window if r["queryid"] == queryid]
    assert (marker["calls"], marker["rows"]) == (8, 8)
    samples = statement_series(
        repo, last.target_id, last.ts - timedelta(hours=1), last.ts + timedelta(1)
    )
    top = [p for p in samples if p.key["toplevel"]]
    assert sum(r["calls"] for r in window) == sum(p.values["calls"] for p in top)
