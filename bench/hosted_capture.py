"""Slow-query capture on a hosted database (pg_monitor, no server log), per source.

Starts an embedded server whose JSON server log (``log_min_duration_statement =
100ms``) is the truth, and a workload of statements of 100-500 ms (``pg_sleep``
joined to small tables, so each shape has its own queryid), statements that are
usually fast and now and then slow, and fast ones. pgwarden collects it as a role
with only ``pg_monitor`` (created here) that is given the source a hosted server
gives it: no log file (the log directory is on this machine, so the loop is handed
``discover(local_files=False)``, as a Neon, RDS or Cloud SQL server would give).

Two collectors run side by side into two repositories: one with the defaults, one
with ``slow_queries.statements_minmax_reset`` (PostgreSQL 17+). Prints, per source
(activity sampling; derived from pg_stat_statements, without and with the interval
maxima; the server log as the truth), the share of > 100 ms executions captured, the
executions counted beyond the truth, and the duration error (median, p95) of the
records against the executions they stand for.

    python bench/hosted_capture.py [--seconds 60] [--interval 10] [--clients 3]
                                   [--system]   # the system's PostgreSQL (e.g. 15)
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from pgwarden import pg
from pgwarden.collect.loop import CollectionLoop
from pgwarden.config import Settings
from pgwarden.embedded import EmbeddedServer, system_bin_dir
from pgwarden.repository import migrate
from pgwarden.slowlog import discover_log_source, normalise

SHAPES = 6
SLOW_MS = 100.0
RESET = "pg_stat_statements_reset(oid, oid, bigint, boolean)"


@dataclass(frozen=True)
class Execution:
    end: datetime
    duration_ms: float
    fingerprint: str


def prepare(admin: str) -> str:
    """The bench database with its tables, and the monitoring role's DSN."""
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in ("bench", "repo_mean", "repo_max"):
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        password = "bench-" + str(random.randrange(10**12))
        conn.execute(
            sql.SQL("CREATE ROLE mon LOGIN PASSWORD {} IN ROLE pg_monitor").format(
                sql.Literal(password)
            )
        )
    bench = make_conninfo(admin, dbname="bench")
    with psycopg.connect(bench, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        if conn.info.server_version >= 170000:
            conn.execute(f"GRANT EXECUTE ON FUNCTION {RESET} TO mon")
        for k in range(SHAPES):
            conn.execute(f"CREATE TABLE t{k} (id int PRIMARY KEY, v int)")
            conn.execute(f"INSERT INTO t{k} SELECT g, g FROM generate_series(1, 100) g")
    return make_conninfo(bench, user="mon", password=password)


def workload(dsn: str, until: float, seed: int) -> None:
    """Slow shapes (some once an interval, some often), mixed shapes, fast ones."""
    rng = random.Random(seed)
    with psycopg.connect(dsn, autocommit=True) as conn:
        while time.monotonic() < until:
            roll = rng.random()
            k = min(int(rng.expovariate(1.0)), SHAPES - 1)  # some shapes are rare
            if roll < 0.10:  # slow: 100-500 ms
                seconds = rng.uniform(0.1, 0.5)
                conn.execute(f"SELECT count(*) FROM t{k}, pg_sleep(%s)", [seconds])
            elif roll < 0.25:  # usually fast, 1 in 8 slow
                seconds = rng.uniform(0.1, 0.5) if rng.random() < 0.125 else 0.002
                conn.execute(f"SELECT max(v) FROM t{k}, pg_sleep(%s)", [seconds])
            else:  # fast
                conn.execute(f"SELECT v FROM t{k} WHERE id = %s", [rng.randint(1, 100)])


def collector(monitor: str, repo: str, name: str, **slow: Any) -> CollectionLoop:
    settings = Settings(slow_queries=slow)  # type: ignore[arg-type]
    loop = CollectionLoop(monitor, repo, name, settings, report=print, alerts=False,
                          progress=lambda line: None)  # fmt: skip
    with psycopg.connect(monitor) as conn:
        hosted = discover_log_source(conn, local_files=False)
    assert not hosted.reads_log, hosted.detail
    loop.slow.log_source = lambda *args, **kwargs: hosted  # type: ignore[method-assign]
    return loop


def run_loop(loop: CollectionLoop, interval: float, seconds: float) -> None:
    loop.run(interval, max_seconds=seconds)
    loop.cycle()  # the interval that holds the workload's last statements


def truth(log_dir: Path) -> list[Execution]:
    """Executions over 100 ms of the bench database, from the JSON server log."""
    found = []
    for path in sorted(log_dir.glob("*.json")):
        for line in path.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            message = str(record.get("message", ""))
            if record.get("dbname") != "bench" or not message.startswith("duration:"):
                continue
            head, _, text = message.partition(": ")[2].partition(" ms  ")
            statement = text.split(": ", 1)[-1]
            if "pg_sleep" not in statement:
                continue
            end = datetime.fromisoformat(record["timestamp"].replace(" UTC", "+00:00"))
            duration = float(head)
            if duration >= SLOW_MS:
                found.append(Execution(end, duration, normalise(statement).fingerprint))
    return found


def intervals(repo: str) -> list[tuple[datetime, datetime]]:
    with pg.connect(repo) as conn:
        rows = pg.fetch_all(conn, "SELECT prev_ts, ts FROM pgwarden.collect_cycle "
                            "WHERE prev_ts IS NOT NULL ORDER BY ts")  # fmt: skip
    return [(row["prev_ts"], row["ts"]) for row in rows]


def recorded(repo: str, source: str) -> list[dict[str, Any]]:
    with pg.connect(repo) as conn:
        return pg.fetch_all(
            conn,
            "SELECT ts, started_at, duration_ms, fingerprint, exactness, executions"
            " FROM pgwarden.slow_query_log WHERE source = %s ORDER BY ts",
            [source],
        )


def bucket(ts: datetime, spans: list[tuple[datetime, datetime]]) -> int | None:
    return next((i for i, (a, b) in enumerate(spans) if a < ts <= b), None)


def score_activity(rows: list[dict[str, Any]], true: list[Execution]) -> Score:
    """Each sampled execution matched to the logged one that started nearest."""
    errors, captured = [], set()
    for row in rows:
        same = [e for e in true if e.fingerprint == row["fingerprint"]]
        start = row["started_at"].timestamp()
        best = min(same, key=lambda e: abs(_start(e) - start), default=None)
        if best is None or abs(_start(best) - start) > 1.0:
            continue
        captured.add(best)
        errors.append(row["duration_ms"] - best.duration_ms)
    return Score(len(captured), 0, errors)


def _start(e: Execution) -> float:
    return e.end.timestamp() - e.duration_ms / 1000


def score_derived(
    rows: list[dict[str, Any]],
    true: list[Execution],
    spans: list[tuple[datetime, datetime]],
) -> Score:
    """Per interval and statement: executions counted against the logged ones, and
    each record's duration against each logged execution it stands for (a mean against
    every one of them)."""
    logged: dict[tuple[int, str], list[float]] = defaultdict(list)
    for e in true:
        at = bucket(e.end, spans)
        if at is not None:
            logged[(at, e.fingerprint)].append(e.duration_ms)
    counted: dict[tuple[int, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        at = bucket(row["ts"], spans)
        if at is not None:
            counted[(at, row["fingerprint"])].append(row)
    hits = extra = 0
    errors: list[float] = []
    for key, records in counted.items():
        durations = sorted(logged.get(key, []), reverse=True)
        n = sum(r["executions"] for r in records)
        hits += min(n, len(durations))
        extra += max(0, n - len(durations))
        rest = list(durations)
        for r in sorted(records, key=lambda r: r["exactness"] != "max"):
            if not rest:
                break
            if r["exactness"] == "max":
                errors.append(r["duration_ms"] - rest.pop(0))
            else:  # a mean against each execution it stands for
                stood, rest = rest[: r["executions"]], rest[r["executions"] :]
                errors += [r["duration_ms"] - d for d in stood]
    return Score(hits, extra, errors)


@dataclass(frozen=True)
class Score:
    captured: int
    extra: int
    errors: list[float]

    def line(self, name: str, total: int) -> str:
        share = self.captured / total if total else 0.0
        errs = sorted(abs(e) for e in self.errors)
        median = statistics.median(errs) if errs else float("nan")
        p95 = errs[min(len(errs) - 1, int(0.95 * len(errs)))] if errs else float("nan")
        return (
            f"{name:<44} {share:7.1%} {self.captured:6d} {self.extra:6d} "
            f"{median:9.1f} {p95:9.1f}"
        )


def in_threads(*jobs: Callable[[], None]) -> None:
    threads = [threading.Thread(target=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--interval", type=float, default=10)
    parser.add_argument("--clients", type=int, default=3)
    parser.add_argument(
        "--system", action="store_true", help="the system's PostgreSQL binaries"
    )
    args = parser.parse_args()
    pg_bin = system_bin_dir() if args.system else None
    if args.system and pg_bin is None:
        raise SystemExit("no system PostgreSQL binaries found")
    with tempfile.TemporaryDirectory(prefix="pgwarden-bench-") as tmp:
        server = EmbeddedServer(Path(tmp) / "server", pg_bin=pg_bin)
        server.start()
        try:
            report(server, args)
        finally:
            server.stop()


def report(server: EmbeddedServer, args: argparse.Namespace) -> None:
    admin = server.dsn()
    monitor = prepare(admin)
    repos = {n: make_conninfo(admin, dbname=n) for n in ("repo_mean", "repo_max")}
    for dsn in repos.values():
        with pg.connect(dsn) as conn:
            migrate(conn)
    app = make_conninfo(admin, dbname="bench")
    plain = collector(monitor, repos["repo_mean"], "hosted")
    maxed = collector(
        monitor, repos["repo_max"], "hosted", statements_minmax_reset=True
    )
    for loop in (plain, maxed):
        loop.cycle()  # the baselines
    until = time.monotonic() + args.seconds
    clients = [
        (lambda seed=seed: workload(app, until, seed)) for seed in range(args.clients)
    ]
    loops = [
        lambda loop=loop: run_loop(loop, args.interval, args.seconds)
        for loop in (plain, maxed)
    ]
    in_threads(*clients, *loops)
    time.sleep(1.0)  # the logging collector writes on its own schedule
    true = truth(server.pgdata / "log")
    spans = intervals(repos["repo_mean"])
    true_in = [e for e in true if bucket(e.end, spans) is not None]
    total = len(true_in)
    version = server_version(app)
    print(f"PostgreSQL {version}, {args.seconds:.0f} s workload, "
          f"{args.clients} clients, cycles every {args.interval:.0f} s, "
          "samples every 5 s")  # fmt: skip
    print(f"server log (truth): {total} executions over {SLOW_MS:.0f} ms "
          f"in {len(spans)} intervals")  # fmt: skip
    print(f"{'source':<44} {'share':>7} {'hits':>6} {'extra':>6} "
          f"{'med_err':>9} {'p95_err':>9}")  # fmt: skip
    print(Score(total, 0, [0.0] * total).line("server log (truth)", total))
    activity = recorded(repos["repo_mean"], "activity")
    print(score_activity(activity, true_in).line("activity sampling", total))
    derived = recorded(repos["repo_mean"], "statements")
    print(score_derived(derived, true_in, spans).line("derived (exact/mean)", total))
    derived_max = recorded(repos["repo_max"], "statements")
    spans_max = intervals(repos["repo_max"])
    print(score_derived(derived_max, true_in, spans_max).line(
        "derived (exact/mean + max, PG 17+ reset)", total))  # fmt: skip
    exact = [r for r in derived_max if r["exactness"] in ("exact", "max")]
    print(score_derived(exact, true_in, spans_max).line(
        "  of which the exact and max rows", total))  # fmt: skip
    kinds: dict[str, int] = defaultdict(int)
    for row in derived_max:
        kinds[row["exactness"]] += row["executions"]
    print("derived with max, executions by exactness:", dict(sorted(kinds.items())))
    for loop in (plain, maxed):
        loop.close()


def server_version(dsn: str) -> str:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "?"


if __name__ == "__main__":
    main()
