"""The ``shared_buffers`` sweep: the same load at several database cache sizes.

It restarts the server, so it runs only on a pgwarden embedded server (found
behind the target by :func:`~pgwarden.load.safety.embedded_server`). For each size:
``ALTER SYSTEM SET shared_buffers`` (as the server's superuser), a restart on the
same port (:meth:`~pgwarden.embedded.EmbeddedServer.restart`), then the run, whose
warm-up refills the cache; the database cache hit ratio and the latency are kept
per size. The original setting comes back at the end whatever happens (an error,
Ctrl-C): ``ALTER SYSTEM`` to the value it had (or ``RESET`` when it came from no
``ALTER SYSTEM``) and a restart. A size the server cannot start with is removed
from ``postgresql.auto.conf`` by hand first, since ``ALTER SYSTEM`` needs a
running server.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import psycopg
from psycopg import sql

from pgwarden import pg
from pgwarden.embedded import EmbeddedServer
from pgwarden.errors import ConfigurationError, EmbeddedServerError, TargetError
from pgwarden.load.engine import LoadSpec
from pgwarden.load.report import build_report
from pgwarden.load.run import run_load
from pgwarden.load.safety import check_target, embedded_server

AUTO_CONF = "postgresql.auto.conf"
MIN_BUFFERS = 16
_SIZE = re.compile(r"^\s*(\d+)\s*(kB|MB|GB|TB)\s*$")
_UNITS = {"kB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
StepDone = Callable[[str, str, dict[str, Any]], None]


class BuffersRefused(TargetError):
    """The shared_buffers sweep restarts the server: embedded servers only."""


@dataclass(frozen=True)
class BufferStep:
    size: str
    size_bytes: int
    throughput_per_s: float
    p95_ms: float
    p99_ms: float
    error_rate: float
    db_cache_hit_ratio: float | None
    blocks_read: int
    blocks_hit: int
    #: the generator, not the database, was the limit: a lower bound (report.generator)
    generator_saturated: bool = False

    @classmethod
    def of(cls, size: str, report: dict[str, Any]) -> BufferStep:
        server = report["server"]
        hit = server["cache_hit_ratio"]
        saturated = bool((report.get("generator") or {}).get("saturated", False))
        return cls(
            size,
            size_bytes(size),
            report["throughput_per_s"],
            report["overall"]["p95_ms"],
            report["overall"]["p99_ms"],
            report["errors"]["rate"],
            None if hit is None else round(hit, 4),
            server["blocks_read"],
            server["blocks_hit"],
            saturated,
        )


def size_bytes(text: str) -> int:
    """``"16MB"`` → bytes; :class:`ConfigurationError` for anything else."""
    found = _SIZE.match(text)
    if found is None:
        raise ConfigurationError(
            f"shared_buffers size {text!r}: give a number and a unit, e.g. 16MB, 1GB"
        )
    return int(found.group(1)) * _UNITS[found.group(2)]


def sweep_shared_buffers(
    spec: LoadSpec, sizes: Sequence[str], target: str, done: StepDone | None = None
) -> dict[str, Any]:
    """Run ``spec`` once per ``shared_buffers`` size; the original comes back."""
    labels = [size.strip() for size in sizes]
    server, info = check_sweep(spec, labels, target)
    sourcefile = str(info.get("sourcefile") or "")
    original = str(info["current"]) if sourcefile.endswith(AUTO_CONF) else None
    steps = []
    try:
        for label in labels:
            _apply(server, label)
            report = build_report(run_load(spec), target)
            if done is not None:
                done("shared_buffers", label, report)
            steps.append(BufferStep.of(label, report))
    finally:
        restored = restore(server, original)
    return {"steps": steps, "original": restored}


def check_sweep(
    spec: LoadSpec, sizes: Sequence[str], target: str
) -> tuple[EmbeddedServer, dict[str, Any]]:
    """The embedded server behind the target and its setting; refuse anything else."""
    with pg.connect(spec.dsn) as conn:
        check_target(conn, spec.dsn, spec.allowed_targets)
        server = embedded_server(conn, spec.dsn)
        info = pg.fetch_one(conn, pg.query("load", "shared_buffers")) or {}
    if server is None:
        raise BuffersRefused(
            f"the shared_buffers sweep restarts the server, so it runs only on a "
            f"pgwarden embedded server on this machine; {target} is not one"
        )
    smallest = MIN_BUFFERS * int(info.get("block_size") or 8192)
    for size in sizes:
        if size_bytes(size) < smallest:
            raise ConfigurationError(
                f"shared_buffers size {size!r} is below the {smallest // 1024}kB "
                "PostgreSQL accepts"
            )
    return server, info


def _apply(server: EmbeddedServer, value: str) -> None:
    _alter(server, value)
    try:
        server.restart()
    except EmbeddedServerError as exc:
        raise EmbeddedServerError(
            f"the server did not start with shared_buffers = {value}: {exc}"
        ) from exc
    now = current(server)
    if size_bytes(now) != size_bytes(value):
        raise EmbeddedServerError(
            f"shared_buffers is {now} after the restart, not {value}: it is set "
            "on the server's command line"
        )


def restore(server: EmbeddedServer, original: str | None) -> str:
    """Put ``shared_buffers`` back (``None``: the server's default) and restart."""
    if server.pid() is None:  # the last size did not start
        try:
            server.restart()
        except EmbeddedServerError:
            _drop_from_auto_conf(server)
            server.restart()
    _alter(server, original)
    server.restart()
    return current(server)


def current(server: EmbeddedServer) -> str:
    """The running server's ``shared_buffers``, e.g. ``128MB``."""
    with pg.connect(server.dsn()) as conn:
        row = pg.fetch_one(conn, pg.query("load", "shared_buffers")) or {}
    return str(row.get("current"))


def _alter(server: EmbeddedServer, value: str | None) -> None:
    statement = (
        sql.SQL("ALTER SYSTEM RESET shared_buffers")
        if value is None
        else sql.SQL("ALTER SYSTEM SET shared_buffers = {}").format(sql.Literal(value))
    )
    try:
        with pg.connect(server.dsn()) as conn:
            conn.execute(statement)
    except psycopg.errors.DataError as exc:
        raise ConfigurationError(
            f"shared_buffers = {value}: {pg._first_line(exc)}"
        ) from exc


def _drop_from_auto_conf(server: EmbeddedServer) -> None:
    path = server.pgdata / AUTO_CONF
    lines = path.read_text().splitlines(keepends=True)
    path.write_text(
        "".join(line for line in lines if not line.startswith("shared_buffers"))
    )


def analyse_buffers(
    result: dict[str, Any], scale_cache_hit_pct: float
) -> dict[str, Any]:
    steps: list[BufferStep] = result["steps"]
    wanted = scale_cache_hit_pct / 100
    best = max((s.db_cache_hit_ratio or 0.0) for s in steps)
    knee = min(
        (s for s in steps if (s.db_cache_hit_ratio or 0.0) >= best - 0.01),
        key=lambda s: s.size_bytes,
    )
    if best < wanted:
        lines = [
            f"database cache hit ratio stays below {scale_cache_hit_pct:.0f} % up "
            f"to shared_buffers = {max(steps, key=lambda s: s.size_bytes).size}: "
            "the working set is larger than memory; add memory (a bigger instance) "
            "or cut what the top statements read (an index, a narrower query)"
        ]
    elif knee is max(steps, key=lambda s: s.size_bytes) and len(steps) > 1:
        lines = [
            f"the database cache hit ratio still rises at shared_buffers = "
            f"{knee.size}, the largest size tried ({_pct(knee.db_cache_hit_ratio)}, "
            f"p95 {knee.p95_ms} ms): try larger sizes to find where it levels off"
        ]
    else:
        lines = [
            f"shared_buffers = {knee.size} reaches a {_pct(knee.db_cache_hit_ratio)} "
            f"database cache hit ratio (p95 {knee.p95_ms} ms); larger sizes add "
            "under one point at this load: set it there and watch the hit ratio "
            "as data grows"
        ]
    low = [s.size for s in steps if (s.db_cache_hit_ratio or 0.0) < wanted]
    if low and best >= wanted:
        lines.append(
            f"at {', '.join(low)} the hit ratio falls below "
            f"{scale_cache_hit_pct:.0f} %: do not go that low"
        )
    return {
        "steps": [asdict(s) for s in steps],
        "original": result["original"],
        "recommended_shared_buffers": knee.size,
        "playbook": lines,
    }


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"
