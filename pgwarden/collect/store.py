"""The collector's writes to (and state reads from) the repository schema."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from pgwarden import pg
from pgwarden.collect.delta import (
    Gap,
    LastRow,
    Previous,
    Values,
    as_tuple,
    key_text,
    moved,
    parse_key,
)
from pgwarden.collect.kinds import FLOAT, Kind
from pgwarden.collect.snapshot import Key, Relation, Server
from pgwarden.collect.statements import StatementText
from pgwarden.collect.totals import Total, own_keys
from pgwarden.errors import PgwardenError

SCHEMA = "pgwarden"
#: the smallest step past a cycle's ``ts``: windows end with that cycle included
TICK = timedelta(microseconds=1)
#: first key of the per-target advisory lock ("pgwd")
LOCK_CLASS = int.from_bytes(b"pgwd", "big") - 2**31


class CollectorBusy(PgwardenError):
    """Another collector is writing this target's snapshot; try again later."""


def _q(name: str) -> str:
    return pg.query("collect_repository", name)


def register_target(conn: psycopg.Connection[Any], name: str, server: Server) -> int:
    """The target's id, created on first sight; identity and last_seen refreshed."""
    params = [name, server.system_identifier, server.server_version_num]
    row = pg.fetch_one(conn, _q("register_target"), params)
    assert row is not None
    return int(row["id"])


def lock_target(conn: psycopg.Connection[Any], target_id: int, name: str) -> None:
    """Serialise collectors of one target for the current transaction."""
    row = pg.fetch_one(conn, _q("lock_target"), [LOCK_CLASS, target_id])
    if row is None or not row["locked"]:
        raise CollectorBusy(f"another collector is writing target {name!r} now")


def state_ts(conn: psycopg.Connection[Any], target_id: int) -> datetime | None:
    """When the kept snapshot was taken (None before the first cycle)."""
    row = pg.fetch_one(conn, _q("load_state"), [target_id])
    return None if row is None else row["ts"]


def load_previous(conn: psycopg.Connection[Any], target_id: int) -> Previous | None:
    """The kept snapshot, every part and entry (a collector starting or catching up)."""
    state = pg.fetch_one(conn, _q("load_state"), [target_id])
    if state is None:
        return None
    rows: dict[str, dict[Key, LastRow]] = {}
    with conn.cursor() as cur:
        for part, key, since, counters in cur.execute(_q("load_last"), [target_id]):
            rows.setdefault(part, {})[parse_key(key)] = LastRow(counters, since=since)
    return Previous(state["ts"], state["postmaster_start"], state["markers"], rows)


def save_previous(
    conn: psycopg.Connection[Any],
    target_id: int,
    kept: Previous,
    before: Previous | None,
) -> int:
    """Make the kept snapshot ``kept``, rewriting only what differs from ``before``.

    ``before`` must be what the repository holds (None: nothing is trusted and every
    entry is rewritten). Returns how many entries were written.
    """
    params = [target_id, kept.ts, kept.postmaster_start, Jsonb(dict(kept.markers))]
    conn.execute(_q("save_state"), params)
    if before is None:
        conn.execute(_q("delete_last"), [target_id])
    else:
        conn.execute(_q("delete_last_parts"), [target_id, list(kept.rows)])
    written = 0
    for part, rows in kept.rows.items():
        old = {} if before is None else before.rows.get(part, {})
        changed = [(k, r) for k, r in rows.items() if moved(old.get(k), r)]
        gone = [key_text(k) for k in old if k not in rows]
        if gone:
            conn.execute(_q("delete_last_keys"), [target_id, part, gone])
        if changed:
            conn.execute(_q("upsert_last"), _last_params(target_id, part, changed))
        written += len(changed)
    return written


def _last_params(
    target_id: int, part: str, changed: Sequence[tuple[Key, LastRow]]
) -> list[Any]:
    keys = [key_text(key) for key, _ in changed]
    since = [row.since for _, row in changed]
    counters = [Jsonb(dict(row.counters)) for _, row in changed]
    return [target_id, part, keys, since, counters]


def copy_rows(
    conn: psycopg.Connection[Any],
    table: str,
    columns: Sequence[str],
    types: Sequence[str],
    rows: Iterable[Sequence[Any]],
) -> int:
    """COPY ``rows`` (binary, columns of ``types``) into ``table``; how many."""
    query = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
        sql.Identifier(SCHEMA, table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    count = 0
    with conn.cursor() as cur, cur.copy(query) as copy:
        copy.set_types(list(types))
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def save_samples(
    conn: psycopg.Connection[Any],
    kind: Kind,
    target_id: int,
    ts: datetime,
    interval_s: float,
    rows: Mapping[Key, Values],
) -> int:
    """One row per key into ``<kind>_current``."""
    if not rows:
        return 0
    columns = ("target_id", "ts", "interval_s", *kind.key_names, *kind.value_names)
    types = ("bigint", "timestamptz", FLOAT, *(c.sqltype for c in kind.keys),
             *(c.sqltype for c in kind.columns))  # fmt: skip
    data = (
        (target_id, ts, interval_s, *as_tuple(kind, key, values))
        for key, values in rows.items()
    )
    return copy_rows(conn, kind.current, columns, types, data)


def known_texts(conn: psycopg.Connection[Any], target_id: int) -> set[Key]:
    rows = pg.fetch_all(conn, _q("known_texts"), [target_id])
    return {(r["dbid"], r["userid"], r["queryid"], r["toplevel"]) for r in rows}


def own_texts(conn: psycopg.Connection[Any], target_id: int) -> frozenset[Key]:
    """Statements with a stored text that pgwarden sends itself."""
    rows = pg.fetch_all(conn, _q("texts"), [target_id])
    return own_keys(StatementText(**r) for r in rows)


def save_totals(
    conn: psycopg.Connection[Any],
    target_id: int,
    ts: datetime,
    interval_s: float,
    totals: Sequence[Total],
) -> None:
    params = [
        (target_id, ts, t.dbid, interval_s, t.calls, t.total_exec_ms, t.rows,
         t.shared_blks_hit, t.shared_blks_read, t.own_calls, t.own_exec_ms)
        for t in totals
    ]  # fmt: skip
    if params:
        with conn.cursor() as cur:
            cur.executemany(_q("insert_total"), params)


def save_window(
    conn: psycopg.Connection[Any], target_id: int, ts: datetime, window: timedelta
) -> None:
    """Replace the target's statements of the window ending with the cycle at ``ts``."""
    params = {"target_id": target_id, "ts": ts, "since": ts - window,
              "until": ts + TICK}  # fmt: skip
    conn.execute(_q("delete_window"), params)
    conn.execute(_q("save_window"), params)


def save_texts(
    conn: psycopg.Connection[Any], target_id: int, texts: Sequence[StatementText]
) -> None:
    params = [
        (target_id, t.dbid, t.userid, t.queryid, t.toplevel, t.datname, t.rolname,
         t.query, t.query_length)
        for t in texts
    ]  # fmt: skip
    if params:
        with conn.cursor() as cur:
            cur.executemany(_q("insert_text"), params)


def known_relations(
    conn: psycopg.Connection[Any], target_id: int
) -> dict[tuple[str, int], Relation]:
    return {
        (r["kind"], r["relid"]): Relation(**r)
        for r in pg.fetch_all(conn, _q("known_relations"), [target_id])
    }


def save_relations(
    conn: psycopg.Connection[Any],
    target_id: int,
    found: Sequence[Relation],
    known: Mapping[tuple[str, int], Relation],
) -> list[Relation]:
    """Upsert the relations that are new or were renamed; those that changed."""
    changed = [r for r in found if known.get((r.kind, r.relid)) != r]
    params = [
        (target_id, r.kind, r.relid, r.schema_name, r.rel_name, r.table_relid)
        for r in changed
    ]
    if params:
        with conn.cursor() as cur:
            cur.executemany(_q("upsert_relation"), params)
    return changed


def save_gaps(
    conn: psycopg.Connection[Any],
    target_id: int,
    from_ts: datetime | None,
    to_ts: datetime,
    gaps: Sequence[Gap],
) -> None:
    params = [(target_id, g.part, from_ts, to_ts, g.reason) for g in gaps]
    if params:
        with conn.cursor() as cur:
            cur.executemany(_q("insert_gap"), params)


def save_cycle(
    conn: psycopg.Connection[Any],
    target_id: int,
    ts: datetime,
    prev_ts: datetime | None,
    figures: Mapping[str, Any],
    disabled: Mapping[str, str],
) -> None:
    params = [
        target_id, ts, prev_ts, figures["duration_ms"], figures["statements"],
        figures["new_texts"], figures["dealloc"], Jsonb(dict(disabled)),
    ]  # fmt: skip
    conn.execute(_q("insert_cycle"), params)
