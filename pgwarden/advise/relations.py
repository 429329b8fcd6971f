"""What kind each relation of the target is, and its partition tree.

The index DDL the advisors print depends on it (:func:`findings.index_steps`):
a partitioned table takes no ``CREATE INDEX CONCURRENTLY``, a foreign table no
index at all, an index attached to a partitioned index is not dropped alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg

from pgwarden import pg
from pgwarden.advise.findings import FOREIGN, PARTITIONED, Rel
from pgwarden.errors import MissingCapability

GROUP = "relations"


@dataclass(frozen=True)
class Relations:
    """Relations by (schema, name), and the partitioned index each index is
    attached to (by index oid)."""

    by_name: Mapping[tuple[str, str], Rel] = field(default_factory=dict)
    attached: Mapping[int, tuple[str, str]] = field(default_factory=dict)
    #: B-tree partitioned indexes without predicate: table oid -> key attnums
    partitioned_keys: Mapping[int, tuple[tuple[int, ...], ...]] = field(
        default_factory=dict
    )

    def get(self, schema: str, name: str) -> Rel | None:
        return self.by_name.get((schema, name))

    def named(self, name: str) -> Rel | None:
        """The relation called ``name`` (the first schema wins, as the advisor's
        tables do)."""
        for (_schema, rel_name), rel in self.by_name.items():
            if rel_name == name:
                return rel
        return None

    def foreign(self) -> list[Rel]:
        return [r for r in self.by_name.values() if r.kind == FOREIGN]


def from_rows(
    rows: Iterable[Mapping[str, Any]],
    attached: Iterable[Mapping[str, Any]] = (),
    partitioned: Iterable[Mapping[str, Any]] = (),
) -> Relations:
    """Trees of the ``relations`` rows (oid, schema, name, kind, parent oid)."""
    listed = list(rows)
    by_oid = {int(r["oid"]): r for r in listed}
    children: dict[int, list[int]] = {}
    for r in listed:
        if r["parent"] is not None:
            children.setdefault(int(r["parent"]), []).append(int(r["oid"]))

    def build(oid: int, seen: frozenset[int]) -> Rel:
        r = by_oid[oid]
        parent = by_oid.get(int(r["parent"])) if r["parent"] is not None else None
        kids: tuple[Rel, ...] = ()
        if r["kind"] == PARTITIONED:
            kids = tuple(
                build(k, seen | {oid})
                for k in sorted(children.get(oid, ()), key=lambda k: by_oid[k]["name"])
                if k not in seen
            )
        return Rel(
            r["schema"], r["name"], r["kind"], kids,
            None if parent is None else (parent["schema"], parent["name"]),
        )  # fmt: skip

    out = {(r["schema"], r["name"]): build(int(r["oid"]), frozenset()) for r in listed}
    links = {int(a["oid"]): (a["parent_schema"], a["parent_name"]) for a in attached}
    keys: dict[int, tuple[tuple[int, ...], ...]] = {}
    for x in partitioned:
        if x["method"] == "btree" and not x["partial"]:
            table = int(x["table_oid"])
            keys[table] = (*keys.get(table, ()), tuple(x["key_attnums"] or ()))
    return Relations(out, links, keys)


def gather_or_note(
    conn: psycopg.Connection[Any],
) -> tuple[Relations | None, list[str]]:
    """:func:`gather`, or None and why (the DDL printed is then the plain one)."""
    try:
        return gather(conn), []
    except MissingCapability as exc:
        return None, [f"{exc}: the index DDL assumes plain tables"]


def gather(conn: psycopg.Connection[Any]) -> Relations:
    """The target's relations, attached and partitioned indexes (guarded reads)."""
    with pg.guarded("relation kinds"):
        rows = pg.fetch_all(conn, pg.query(GROUP, "relations"))
        attached = pg.fetch_all(conn, pg.query(GROUP, "attached_indexes"))
        partitioned = pg.fetch_all(conn, pg.query(GROUP, "partitioned_indexes"))
    return from_rows(rows, attached, partitioned)
