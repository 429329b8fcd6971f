"""One collection cycle: read the target, compute deltas, write the repository.

The target is read first (part by part, each guarded); then everything of the cycle
is written in one repository transaction under a per-target lock, so a cycle that
fails leaves the previous snapshot in place and the next cycle's deltas span both
intervals, counted once.

A bad row costs that row, never the cycle: rows left out are counted per part
(:attr:`CycleResult.skipped`, with the first reason) and text values whose invalid
bytes were escaped in :attr:`CycleResult.escaped`; both are in the summary line.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import psycopg

from pgwarden import pg
from pgwarden.collect import delta, pack, partitions, store, totals
from pgwarden.collect.kinds import KINDS, STATEMENT, WINDOW
from pgwarden.collect.snapshot import (
    SIMPLE_PARTS,
    Key,
    Part,
    Relation,
    Server,
    read_relations,
    read_server,
    read_simple,
)
from pgwarden.collect.state import Memory, State
from pgwarden.collect.statements import (
    DEFAULT_TEXT_LIMIT,
    StatementText,
    extension,
    read_info,
    read_statements,
)
from pgwarden.errors import MissingCapability


@dataclass(frozen=True)
class CollectOptions:
    #: longest statement text kept (characters); longer texts are truncated
    text_limit: int = DEFAULT_TEXT_LIMIT
    #: statement_timeout per part (``{"statements": 2000}``), else the session's
    part_timeouts: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Reading:
    server: Server
    parts: tuple[Part, ...]
    relations: tuple[Relation, ...]
    texts: tuple[StatementText, ...]
    disabled: Mapping[str, str]
    #: text values read with their invalid bytes escaped
    escaped: int = 0


@dataclass(frozen=True)
class CycleResult:
    target_id: int
    ts: datetime
    prev_ts: datetime | None
    duration_ms: float
    samples: Mapping[str, int]
    statements: int
    new_texts: int
    dealloc: int | None
    gaps: tuple[delta.Gap, ...]
    disabled: Mapping[str, str]
    #: rows left out per part (they could not be read or stored), and why the first
    skipped: Mapping[str, int] = field(default_factory=dict)
    skip_reason: str | None = None
    #: text values stored with their invalid bytes escaped as ``\xNN``
    escaped: int = 0

    @property
    def baseline(self) -> bool:
        """The first snapshot of a target: nothing to subtract from yet."""
        return self.prev_ts is None

    def summary(self) -> str:
        """One line for the console."""
        counts = " ".join(f"{k}={v}" for k, v in self.samples.items())
        text = f"{self.ts:%H:%M:%S} {self.duration_ms:.0f} ms"
        text += " baseline" if self.baseline else f" {counts}"
        text += f" statements={self.statements} new_texts={self.new_texts}"
        if self.dealloc:
            text += f" evicted={self.dealloc}"
        if self.gaps:
            text += " gap: " + "; ".join(f"{g.part}: {g.reason}" for g in self.gaps)
        if self.escaped:
            text += f" escaped_texts={self.escaped}"
        if self.skipped:
            counts = ", ".join(f"{k}={v}" for k, v in self.skipped.items())
            text += f" skipped rows: {counts} (first: {self.skip_reason})"
        if self.disabled:
            text += " off: " + "; ".join(dict.fromkeys(self.disabled.values()))
        return text


def read_target(
    conn: psycopg.Connection[Any], known: Collection[Key], options: CollectOptions
) -> Reading:
    """Every part that can be read; the others in ``disabled`` with the reason."""
    pg.escaped_texts(conn)  # count only this reading's
    server = read_server(conn)
    parts: list[Part] = []
    relations: list[Relation] = []
    disabled: dict[str, str] = {}
    timeouts = options.part_timeouts
    for spec in SIMPLE_PARTS:
        try:
            if spec.name in ("tables", "indexes"):
                part, found = read_relations(
                    conn, server, spec, timeouts.get(spec.name)
                )
                relations += found
            else:
                part = read_simple(conn, server, spec, timeouts.get(spec.name))
            parts.append(part)
        except MissingCapability as exc:
            disabled[spec.name] = str(exc)
    texts = _read_statements(conn, server, known, options, parts, disabled)
    escaped = pg.escaped_texts(conn)
    return Reading(server, tuple(parts), tuple(relations), texts, disabled, escaped)


def _read_statements(
    conn: psycopg.Connection[Any],
    server: Server,
    known: Collection[Key],
    options: CollectOptions,
    parts: list[Part],
    disabled: dict[str, str],
) -> tuple[StatementText, ...]:
    try:
        schema, version_num = extension(conn, server)
        info, marker = read_info(conn, server, schema)
    except MissingCapability as exc:
        disabled["statements_info"] = disabled["statements"] = str(exc)
        return ()
    parts.append(info)
    try:
        found = read_statements(
            conn, version_num, schema, marker, known, options.text_limit,
            options.part_timeouts.get("statements"),
        )  # fmt: skip
    except MissingCapability as exc:
        disabled["statements"] = str(exc)
        return ()
    parts += found.parts
    if found.texts_off is not None:
        disabled["statement_texts"] = found.texts_off
    return found.texts


def collect_once(
    target_conn: psycopg.Connection[Any],
    repo_conn: psycopg.Connection[Any],
    target_name: str,
    options: CollectOptions | None = None,
    state: State | None = None,
) -> CycleResult:
    """Take one snapshot of the target and store its deltas in the repository.

    ``state`` carries what the repository holds from one cycle to the next (a
    :class:`~pgwarden.collect.Collector` keeps one); without it, it is read back.
    """
    started = time.monotonic()
    options = options or CollectOptions()
    state = state if state is not None else State()
    known = state.texts()
    if known is None:
        with repo_conn.transaction():
            target_id = _target_id(repo_conn, target_name)
            known = frozenset(store.known_texts(repo_conn, target_id))
    reading = read_target(target_conn, known, options)
    partitions.ensure_partitions(repo_conn, reading.server.ts)
    with repo_conn.transaction():
        result, memory = _write(repo_conn, target_name, reading, started, state, known)
    state.remember(memory)
    return result


def _target_id(conn: psycopg.Connection[Any], name: str) -> int:
    row = pg.fetch_one(conn, pg.query("collect_repository", "target_id"), [name])
    return int(row["id"]) if row else -1


def _recall(
    conn: psycopg.Connection[Any], target_id: int, state: State, known: frozenset[Key]
) -> Memory:
    """The repository's state of the target: from memory while it is still true."""
    memory = state.valid(target_id, store.state_ts(conn, target_id))
    if memory is not None:
        return memory
    previous = store.load_previous(conn, target_id)
    if state.memory is not None:  # another collector wrote in between: re-read
        known = frozenset(store.known_texts(conn, target_id))
    relations = store.known_relations(conn, target_id)
    own = store.own_texts(conn, target_id)
    return Memory(target_id, previous, known, relations, own=own)


def _write(
    conn: psycopg.Connection[Any],
    name: str,
    reading: Reading,
    started: float,
    state: State,
    known: frozenset[Key],
) -> tuple[CycleResult, Memory]:
    server = reading.server
    target_id = store.register_target(conn, name, server)
    store.lock_target(conn, target_id, name)
    memory = _recall(conn, target_id, state, known)
    memory = replace(memory, own=memory.own | totals.own_keys(reading.texts))
    previous = memory.previous
    samples: dict[str, int] = {}
    gaps: list[delta.Gap] = []
    dealloc = None
    if previous is not None:
        samples, gaps, dealloc = _deltas(conn, target_id, previous, reading, memory)
        store.save_gaps(conn, target_id, previous.ts, server.ts, gaps)
    store.save_texts(conn, target_id, reading.texts)
    renamed = store.save_relations(conn, target_id, reading.relations, memory.relations)
    kept = _kept(reading)
    store.save_previous(conn, target_id, kept, previous)
    packed = pack.boundary(server.ts)
    if memory.packed != packed:  # an hour has finished since the last pack
        pack.pack(conn, target_id, server.ts)
    store.save_window(conn, target_id, server.ts, WINDOW)
    result = CycleResult(
        target_id=target_id,
        ts=server.ts,
        prev_ts=previous.ts if previous else None,
        duration_ms=(time.monotonic() - started) * 1000,
        samples=samples,
        statements=_statement_count(reading),
        new_texts=len(reading.texts),
        dealloc=dealloc,
        gaps=tuple(gaps),
        disabled=dict(reading.disabled),
        skipped={p.name: p.skipped for p in reading.parts if p.skipped},
        skip_reason=next((p.skip_reason for p in reading.parts if p.skipped), None),
        escaped=reading.escaped,
    )
    figures = {
        "duration_ms": result.duration_ms, "statements": result.statements,
        "new_texts": result.new_texts, "dealloc": dealloc,
    }  # fmt: skip
    store.save_cycle(
        conn, target_id, server.ts, result.prev_ts, figures, result.disabled
    )
    return result, _next_memory(memory, kept, reading, renamed, packed)


def _kept(reading: Reading) -> delta.Previous:
    """This cycle's snapshot, as kept for the next one."""
    server, cumulative = reading.server, [p for p in reading.parts if p.cumulative]
    return delta.Previous(
        ts=server.ts,
        postmaster_start=server.postmaster_start,
        markers={p.name: p.marker for p in cumulative},
        rows={p.name: delta.last_rows(p) for p in cumulative},
    )


def _next_memory(
    memory: Memory,
    kept: delta.Previous,
    reading: Reading,
    renamed: list[Relation],
    packed: datetime,
) -> Memory:
    texts = memory.texts
    if reading.texts:
        texts = texts | {t.key for t in reading.texts}
    relations = memory.relations
    if renamed:
        relations = {**relations, **{(r.kind, r.relid): r for r in renamed}}
    return Memory(memory.target_id, kept, texts, relations, packed, memory.own)


def _deltas(
    conn: psycopg.Connection[Any],
    target_id: int,
    previous: delta.Previous,
    reading: Reading,
    memory: Memory,
) -> tuple[dict[str, int], list[delta.Gap], int | None]:
    server = reading.server
    reason = delta.interval_gap(previous, server.ts, server.postmaster_start)
    if reason is not None:
        return {}, [delta.Gap("server", reason)], None
    deltas = [delta.part_delta(previous, p) for p in reading.parts]
    interval_s = (server.ts - previous.ts).total_seconds()
    merged = {kind.name: delta.merge(kind, deltas) for kind in KINDS.values()}
    samples = {
        kind.name: store.save_samples(
            conn, kind, target_id, server.ts, interval_s, merged[kind.name]
        )
        for kind in KINDS.values()
    }
    found = totals.statement_totals(merged[STATEMENT.name], memory.own)
    store.save_totals(conn, target_id, server.ts, interval_s, found)
    gaps = [d.gap for d in deltas if d.gap is not None]
    return samples, gaps, _dealloc(deltas)


def _dealloc(deltas: list[delta.PartDelta]) -> int | None:
    for d in deltas:
        if d.part == "statements_info":
            for values in d.rows.values():
                value = values.get("statements_dealloc")
                return None if value is None else int(value)
    return None


def _statement_count(reading: Reading) -> int:
    return sum(len(p.rows) for p in reading.parts if p.name == "statements")
