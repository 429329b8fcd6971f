"""What the server did during a run: deltas of its counters, sampled activity, CPU.

Reads go through :mod:`pgwarden.pg` (``application_name = 'pgwarden'``, a
statement timeout) on one connection of their own, from a thread, so the load
generator's event loop never waits on them. pg_stat_statements is optional: without
it the statement section is empty and a note says why; pgwarden's own statements
(:func:`pgwarden.sqltext.is_own`) are never in it.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from pgwarden import pg
from pgwarden.errors import MissingCapability
from pgwarden.load.engine import APPLICATION_NAME
from pgwarden.sqltext import is_own

TOP_STATEMENTS = 10
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class StatementGrowth:
    queryid: str
    query: str
    calls: int
    total_ms: float
    mean_ms: float
    share: float


@dataclass(frozen=True)
class WaitShare:
    type: str
    event: str
    samples: int
    share: float


@dataclass(frozen=True)
class ServerObservation:
    """The server side of a run (shares are of sampled active sessions)."""

    samples: int = 0
    max_connections: int | None = None
    connections_max: int = 0
    connections_mean: float = 0.0
    load_connections_max: int = 0
    active_mean: float = 0.0
    active_samples: int = 0
    on_cpu_share: float = 0.0
    wait_events: list[WaitShare] = field(default_factory=list)
    cache_hit_ratio: float | None = None
    blocks_read: int = 0
    blocks_hit: int = 0
    commits: int = 0
    rollbacks: int = 0
    deadlocks: int = 0
    temp_bytes: int = 0
    statements: list[StatementGrowth] = field(default_factory=list)
    statements_total_ms: float = 0.0
    machine_cpu_busy: float | None = None
    server_cpu_cores: float | None = None
    cores: int = field(default_factory=lambda: os.cpu_count() or 1)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def wait_share(self, event_type: str) -> float:
        return sum(w.share for w in self.wait_events if w.type == event_type)


class ServerWatch:
    """Snapshots at the window's start and end, activity samples in between."""

    def __init__(self, dsn: str, local: bool) -> None:
        self.dsn = dsn
        self.local = local
        self.conn: psycopg.Connection[Any] | None = None
        self.notes: list[str] = []
        self._before: dict[str, Any] = {}
        self._statements: dict[int, tuple[str, int, float]] | None = None
        self._samples: list[list[dict[str, Any]]] = []
        self._cpu: tuple[float, float] | None = None
        self._pid_cpu: dict[int, float] = {}
        self._started = 0.0
        self._elapsed = 0.0

    def open(self) -> None:
        self.conn = pg.connect(self.dsn, statement_timeout_ms=5000)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()

    def begin(self) -> None:
        assert self.conn is not None
        self._started = time.monotonic()
        self._before = self._database()
        self._statements = self._read_statements()
        self._cpu = _machine_cpu() if self.local else None
        self.sample()

    def sample(self) -> None:
        assert self.conn is not None
        rows = pg.fetch_all(self.conn, pg.query("load", "activity"))
        self._samples.append(rows)
        if self.local:
            for row in rows:
                if row["application_name"] == APPLICATION_NAME:
                    self._pid_cpu.setdefault(row["pid"], _process_cpu(row["pid"]))

    def end(self) -> ServerObservation:
        assert self.conn is not None
        self.sample()
        self._elapsed = max(time.monotonic() - self._started, 1e-6)
        after = self._database()
        growth, total = self._growth(self._read_statements())
        limit = pg.fetch_one(self.conn, pg.query("load", "max_connections"))
        delta = {k: (after[k] or 0) - (self._before[k] or 0) for k in after}
        lookups = delta["blks_hit"] + delta["blks_read"]
        return ServerObservation(
            **self._activity(),
            max_connections=limit["max_connections"] if limit else None,
            cache_hit_ratio=delta["blks_hit"] / lookups if lookups else None,
            blocks_read=int(delta["blks_read"]),
            blocks_hit=int(delta["blks_hit"]),
            commits=int(delta["xact_commit"]),
            rollbacks=int(delta["xact_rollback"]),
            deadlocks=int(delta["deadlocks"]),
            temp_bytes=int(delta["temp_bytes"]),
            statements=growth,
            statements_total_ms=round(total, 3),
            machine_cpu_busy=self._machine_busy(),
            server_cpu_cores=self._server_cores(),
            notes=list(self.notes),
        )

    # -- pieces ------------------------------------------------------------------
    def _database(self) -> dict[str, Any]:
        assert self.conn is not None
        row = pg.fetch_one(self.conn, pg.query("load", "database_stats"))
        assert row is not None
        return row

    def _read_statements(self) -> dict[int, tuple[str, int, float]] | None:
        assert self.conn is not None
        try:
            with pg.guarded("pg_stat_statements"):
                rows = pg.fetch_all(self.conn, pg.query("load", "statements"))
        except (MissingCapability, psycopg.errors.ObjectNotInPrerequisiteState) as e:
            note = f"statements not measured: {pg._first_line(e)}"
            if note not in self.notes:
                self.notes.append(note)
            return None
        return {
            int(r["queryid"]): (str(r["query"]), int(r["calls"]), float(r["total_ms"]))
            for r in rows
            if r["queryid"] is not None
        }

    def _growth(
        self, after: dict[int, tuple[str, int, float]] | None
    ) -> tuple[list[StatementGrowth], float]:
        before = self._statements
        if before is None or after is None:
            return [], 0.0
        deltas = []
        for queryid, (query, calls, total) in after.items():
            _q, calls0, total0 = before.get(queryid, (query, 0, 0.0))
            grew = calls - calls0 > 0 and APPLICATION_NAME not in query
            if grew and not is_own(query):
                deltas.append((queryid, query, calls - calls0, total - total0))
        grand = sum(d[3] for d in deltas)
        deltas.sort(key=lambda d: d[3], reverse=True)
        top = [
            StatementGrowth(
                str(q),
                " ".join(text.split())[:500],
                c,
                round(t, 3),
                round(t / c, 3),
                round(t / grand, 4) if grand else 0.0,
            )
            for q, text, c, t in deltas[:TOP_STATEMENTS]
        ]
        return top, grand

    def _activity(self) -> dict[str, Any]:
        samples = self._samples
        counts = [len(rows) for rows in samples] or [0]
        ours = [
            sum(1 for r in rows if r["application_name"] == APPLICATION_NAME)
            for rows in samples
        ] or [0]
        active = [r for rows in samples for r in rows if r["state"] == "active"]
        waits = Counter(
            (r["wait_event_type"], r["wait_event"])
            for r in active
            if r["wait_event_type"] is not None
        )
        n = len(active)
        on_cpu = sum(1 for r in active if r["wait_event_type"] is None)
        return {
            "samples": len(samples),
            "connections_max": max(counts),
            "connections_mean": round(sum(counts) / max(len(samples), 1), 2),
            "load_connections_max": max(ours),
            "active_mean": round(n / max(len(samples), 1), 2),
            "active_samples": n,
            "on_cpu_share": round(on_cpu / n, 4) if n else 0.0,
            "wait_events": [
                WaitShare(t, e, c, round(c / n, 4))
                for (t, e), c in waits.most_common(10)
            ],
        }

    def _machine_busy(self) -> float | None:
        if self._cpu is None:
            return None
        busy0, total0 = self._cpu
        busy1, total1 = _machine_cpu()
        return (
            round((busy1 - busy0) / (total1 - total0), 4) if total1 > total0 else None
        )

    def _server_cores(self) -> float | None:
        if not self._pid_cpu:
            return None
        spent = sum(max(0.0, _process_cpu(p) - s) for p, s in self._pid_cpu.items())
        return round(spent / self._elapsed, 3)


def _machine_cpu() -> tuple[float, float]:
    """Busy and total jiffies of all CPUs (``/proc/stat``); zeros elsewhere."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return 0.0, 0.0
    values = [float(v) for v in fields]
    idle = values[3] + (values[4] if len(values) > 4 else 0.0)
    return sum(values) - idle, sum(values)


def _process_cpu(pid: int) -> float:
    """CPU seconds a local process has used, 0 when it cannot be read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rpartition(")")[2].split()
    return (float(fields[11]) + float(fields[12])) / _CLK_TCK
