"""What a step did to the rehearsal database: locks, rewrites, WAL.

Locks of a step run in a transaction are read from ``pg_locks`` on its own
connection before commit (exact). Steps that cannot run in a transaction and shell
commands are watched by :class:`Sampler`, a thread polling ``pg_locks`` from its own
connection (best effort: a lock held for less than the interval can be missed).
A changed ``pg_class.relfilenode`` means the relation was rewritten.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import psycopg

from pgwarden import pg

GROUP = "rehearse"
SAMPLE_INTERVAL_S = 0.02
ACCESS_EXCLUSIVE = "AccessExclusiveLock"
_KINDS = {
    "r": "table",
    "p": "partitioned table",
    "m": "materialized view",
    "i": "index",
    "I": "partitioned index",
    "S": "sequence",
    "v": "view",
}

Relations = dict[int, dict[str, Any]]


@dataclass(frozen=True)
class Lock:
    relation: str
    mode: str
    granted: bool
    kind: str = "table"
    waited: bool = False
    table_bytes: int | None = None
    big: bool = False
    held_s: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Rewrite:
    relation: str
    kind: str
    bytes_before: int
    bytes_after: int
    big: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def named(
    conn: psycopg.Connection[Any],
    name: str,
    params: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Rows of the named query ``rehearse.<name>`` with named parameters."""
    return pg.named_rows(conn, GROUP, name, params)


def relations(conn: psycopg.Connection[Any]) -> Relations:
    """Tables, materialised views and indexes by oid, with relfilenode and size."""
    rows = named(conn, "relations")
    return {int(r["oid"]): r for r in rows}


def wal_lsn(conn: psycopg.Connection[Any]) -> str:
    return str(named(conn, "wal_lsn")[0]["lsn"])


def wal_bytes(conn: psycopg.Connection[Any], before: str, after: str) -> int:
    rows = named(conn, "wal_diff", {"before": before, "after": after})
    return int(rows[0]["bytes"])


def rewrites(before: Relations, after: Relations, big_bytes: int) -> list[Rewrite]:
    """Relations whose relfilenode changed between the two snapshots."""
    found = []
    for oid, old in before.items():
        new = after.get(oid)
        if new is None or new["relfilenode"] == old["relfilenode"]:
            continue
        size = int(old["total_bytes"] or old["bytes"])
        found.append(
            Rewrite(
                relation=str(new["name"]),
                kind=_KINDS.get(str(new["relkind"]), str(new["relkind"])),
                bytes_before=int(old["bytes"]),
                bytes_after=int(new["bytes"]),
                big=size >= big_bytes,
            )
        )
    return sorted(found, key=lambda r: (r.kind != "table", r.relation))


def locks(
    rows: Sequence[Mapping[str, Any]],
    sizes: Relations,
    big_bytes: int,
    held: Mapping[tuple[str, str], float] | None = None,
) -> list[Lock]:
    """One :class:`Lock` per relation and mode; ``waited`` if ever not granted."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        name = _resolved(row, sizes)
        if name is None:
            continue
        key = (name, str(row["mode"]))
        seen = merged.setdefault(
            key, {"granted": False, "waited": False, "oid": row["oid"]}
        )
        seen["relkind"] = row["relkind"] or sizes[int(row["oid"])]["relkind"]
        seen["granted"] |= bool(row["granted"])
        seen["waited"] |= not row["granted"]
    found = []
    for (name, mode), seen in merged.items():
        rel = sizes.get(int(seen["oid"] or 0))
        total = None if rel is None else int(rel["total_bytes"] or rel["bytes"])
        found.append(
            Lock(
                relation=name,
                mode=mode,
                granted=seen["granted"],
                kind=_KINDS.get(str(seen["relkind"]), str(seen["relkind"])),
                waited=seen["waited"],
                table_bytes=total,
                big=total is not None and total >= big_bytes,
                held_s=None if held is None else held.get((name, mode)),
            )
        )
    return sorted(
        found, key=lambda lock: (lock.mode != ACCESS_EXCLUSIVE, lock.relation)
    )


def _resolved(row: Mapping[str, Any], sizes: Relations) -> str | None:
    """The relation's name; a relation gone since (dropped by the step) by its
    name before the step; a transient one (a rewrite's new heap) is left out."""
    if row["relkind"] is not None:
        return str(row["name"])
    before = sizes.get(int(row["oid"] or 0))
    return None if before is None else str(before["name"])


def own_locks(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    """Relation locks of ``conn``'s own backend (inside its open transaction)."""
    return named(conn, "locks", {"pids": [conn.info.backend_pid]})


class Sampler(threading.Thread):
    """Poll ``pg_locks`` of some backends (``pids``), or of every backend of the
    database but ``exclude``, until :meth:`stop`."""

    def __init__(
        self, dsn: str, pids: Sequence[int] = (), exclude: Sequence[int] = ()
    ) -> None:
        super().__init__(name="pgwarden-lock-sampler", daemon=True)
        self.rows: list[dict[str, Any]] = []
        self.first: dict[tuple[str, str], float] = {}
        self.last: dict[tuple[str, str], float] = {}
        self._conn = pg.connect(dsn, application_name="pgwarden-rehearsal-sampler")
        self._pids = list(pids)
        self._exclude = list(exclude)
        self._done = threading.Event()

    def run(self) -> None:
        name = "locks" if self._pids else "locks_except"
        params = {"pids": self._pids or self._exclude}
        try:
            while not self._done.is_set():
                self._sample(name, params)
                self._done.wait(SAMPLE_INTERVAL_S)
        except psycopg.Error:  # the clone went away: stop sampling
            return

    def _sample(self, name: str, params: Mapping[str, Any]) -> None:
        now = time.monotonic()
        for row in named(self._conn, name, params):
            key = (str(row["name"]), str(row["mode"]))
            self.first.setdefault(key, now)
            self.last[key] = now
            self.rows.append(row)

    def stop(self) -> dict[tuple[str, str], float]:
        """Stop; how long each (relation, mode) was seen held, in seconds."""
        self._done.set()
        self.join(timeout=5)
        self._conn.close()
        return {
            key: self.last[key] - self.first[key] + SAMPLE_INTERVAL_S
            for key in self.first
        }


def backends(conn: psycopg.Connection[Any]) -> list[int]:
    rows = named(conn, "backends")
    return [int(p) for p in rows[0]["pids"]] if rows else []


def schema_shape(conn: psycopg.Connection[Any]) -> list[str]:
    """The user schema as sorted text lines (to see if the rollback restores it)."""
    rows = named(conn, "schema_shape")
    return [f"{r['object']}: {r['detail']}" for r in rows]
