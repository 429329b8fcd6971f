"""The coordinator of a distributed run: shards queued, followed, merged exactly.

``pgwarden load run --distributed N`` splits the run into N shards, each with its
share of the users, the rate and the pool (:meth:`LoadSpec.share`), writes one row
per shard to the repository (``pgwarden.load_shard``: the shard's spec with the
scenario's text, the target's name and its DSN without password, the target's
identity) and queues one ``load_shard`` job per shard on ``jobs.queue``, the queue
every ``pgwarden worker`` takes. The start is agreed on the repository's clock,
``start_in`` seconds ahead, so the shards' windows line up whatever the hosts'
clocks say. While they run the coordinator watches the target's server (for the
bottleneck analysis) and the rows; at the end it adds the shards' histograms
bucket by bucket into one :class:`~pgwarden.load.run.LoadRun`, so the merged
percentiles are those of every action of every shard.

A shard that dies is never dropped in silence: one not picked up by a worker
within :data:`PICKUP_GRACE_S` of the window's opening, one whose heartbeat stops
for :data:`SILENT_S` (its worker killed or its host lost), one that fails (the
worker says why) or whose result cannot be read is listed with its reason, its
figures are not merged, and :func:`check_complete` raises :class:`IncompleteRun`
(exit 1) once the report of the others is out.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import psycopg
from psycopg.types.json import Jsonb

from pgwarden import pg
from pgwarden.errors import ConfigurationError, PgwardenError
from pgwarden.fleet import strip
from pgwarden.load.distributed.wire import MAX_TEXT, BadShard, from_json, to_json
from pgwarden.load.engine import LoadSpec, Tick
from pgwarden.load.histogram import BadHistogram
from pgwarden.load.recorder import WorkerResult
from pgwarden.load.run import LoadRun, preflight, watch_window
from pgwarden.load.safety import is_loopback
from pgwarden.load.scenario import REFERENCE, SQL_SUFFIXES
from pgwarden.load.server import ServerWatch
from pgwarden.repository.targets import identity

GROUP = "load_repository"
MAX_SHARDS = 256
#: default seconds between queueing the shards and their agreed start
START_IN_S = 10.0
MAX_START_IN_S = 3600.0
#: a shard not picked up this long after the window opened is lost
PICKUP_GRACE_S = 5.0
#: a running shard whose heartbeat is this old is lost
SILENT_S = 5.0
#: seconds between reads of the shards' rows
FOLLOW_S = 0.5
#: a running shard still without result this long after its window (and drain)
DEADLINE_GRACE_S = 45.0
FEATURE = "distributed load runs (pgwarden init installs their table)"
TERMINAL = ("done", "failed", "lost")
Progress = Callable[[Mapping[int, Tick]], None]


class ShardQueue(Protocol):
    """Where the shards' jobs go (the job queue, :mod:`pgwarden.jobs.shards`)."""

    async def defer(self, run_id: str, shards: int, target: str) -> list[int]:
        """Queue one job per shard; their ids, in shard order."""

    async def cancel(self, job_ids: Sequence[int]) -> None:
        """Cancel those jobs still waiting."""


class IncompleteRun(PgwardenError):
    """The distributed run lost shards: its figures are those of the others only."""

    exit_code = 1


@dataclass(frozen=True)
class ShardFigures:
    """One shard as the report shows it."""

    shard: int
    status: str  # done, failed or lost
    worker: str | None = None
    actions: int = 0
    errors: int = 0
    throughput_per_s: float = 0.0
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    generator_cpu_s: float | None = None
    cpu_per_action_ms: float | None = None
    late_s: float | None = None
    late: bool = False
    reason: str | None = None


@dataclass
class DistributedRun:
    """The merged run of the shards that finished, and every shard's figures."""

    run: LoadRun
    shards: list[ShardFigures]
    start_in_s: float
    job_ids: list[int] = field(default_factory=list)

    @property
    def lost(self) -> list[ShardFigures]:
        return [s for s in self.shards if s.status != "done"]

    def section(self) -> dict[str, Any]:
        """The report's ``distributed`` key."""
        return {
            "shards": len(self.shards),
            "merged": len(self.shards) - len(self.lost),
            "lost": len(self.lost),
            "complete": not self.lost,
            "start_at": self.run.started_at.isoformat(),
            "start_in_s": self.start_in_s,
            "per_shard": [asdict(s) for s in self.shards],
        }


def check_complete(result: DistributedRun) -> None:
    """:class:`IncompleteRun` naming the lost shards, if any."""
    if result.lost:
        listed = "; ".join(
            f"shard {s.shard}: {s.status}, {s.reason}" for s in result.lost
        )
        raise IncompleteRun(
            f"{len(result.lost)} of {len(result.shards)} shards lost, their figures "
            f"are not in the report ({listed})"
        )


def run_distributed(
    spec: LoadSpec,
    shards: int,
    *,
    target: str,
    repository_dsn: str,
    queue: ShardQueue,
    start_in: float = START_IN_S,
    progress: Progress | None = None,
) -> DistributedRun:
    """Run ``spec`` as ``shards`` shards on the workers; merged when all ended."""
    text = check_plan(spec, shards, start_in)
    spec = replace(spec, workers=shards)
    plan = _Plan(spec, shards, target, start_in, str(uuid.uuid4()))
    return asyncio.run(plan.run(repository_dsn, queue, text, progress))


def check_plan(spec: LoadSpec, shards: int, start_in: float) -> str | None:
    """:class:`ConfigurationError` for a run that cannot be distributed so; the
    scenario's text that travels (:func:`scenario_text`)."""
    if not 1 <= shards <= MAX_SHARDS:
        raise ConfigurationError(f"--distributed: from 1 to {MAX_SHARDS} shards")
    if shards > spec.users:
        raise ConfigurationError(
            f"--distributed {shards}: more shards than users ({spec.users})"
        )
    if not 0 < start_in <= MAX_START_IN_S:
        raise ConfigurationError(
            f"--start-in: above 0 and at most {MAX_START_IN_S:.0f} seconds"
        )
    if spec.replica_dsn is not None:
        raise ConfigurationError("a distributed run takes no read replica")
    return scenario_text(spec)


def scenario_text(spec: LoadSpec) -> str | None:
    """What travels of the scenario: a SQL file's text; nothing for the reference
    scenario or an installed module; a ``.py`` file does not travel."""
    value = spec.scenario.value
    path = Path(value)
    if spec.scenario.is_reference:
        return None
    if path.suffix == ".py":
        raise ConfigurationError(
            "--distributed: a .py scenario file stays on this host; install it as "
            "a module on the workers' hosts and give its dotted name"
        )
    if path.suffix not in SQL_SUFFIXES:
        return None  # a dotted module name: each worker imports its own
    spec.scenario.resolve()  # a malformed file fails here, with its reason
    text = path.read_text()
    if len(text) > MAX_TEXT:
        raise ConfigurationError(f"--scenario: longer than {MAX_TEXT} characters")
    return text


class _Plan:
    def __init__(
        self, spec: LoadSpec, shards: int, target: str, start_in: float, run_id: str
    ) -> None:
        self.spec, self.shards, self.target = spec, shards, target
        self.start_in, self.run_id = start_in, run_id
        self.offset = 0.0  # this clock minus the repository's
        self.start_db = 0.0
        self.stop = threading.Event()

    @property
    def window_start_db(self) -> float:
        return self.start_db + self.spec.warmup

    @property
    def window_end_db(self) -> float:
        return self.window_start_db + self.spec.duration_s

    @property
    def deadline_db(self) -> float:
        drain = self.spec.drain_s if self.spec.model == "open" else 0.0
        return self.window_end_db + drain + DEADLINE_GRACE_S

    async def run(
        self,
        repository_dsn: str,
        queue: ShardQueue,
        text: str | None,
        progress: Progress | None,
    ) -> DistributedRun:
        spec = self.spec
        name = spec.scenario.resolve().name
        watch = ServerWatch(spec.dsn, is_loopback(spec.dsn))
        try:
            await asyncio.to_thread(watch.open)
            await asyncio.to_thread(preflight, watch, spec, name == REFERENCE)
            assert watch.conn is not None
            found = identity(watch.conn, pg.describe(spec.dsn))
            ident = {"system_identifier": found.system_identifier,
                     "database_oid": found.database_oid}  # fmt: skip
            await asyncio.to_thread(self._write, repository_dsn, text, ident)
            try:
                job_ids, run, rows = await self._shards(
                    repository_dsn, queue, watch, name, progress
                )
            except BaseException:  # Ctrl-C, a repository gone: the shards stop
                self.stop.set()
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(self._abandon, repository_dsn)
                raise
            figures = await asyncio.to_thread(self._merge, repository_dsn, run, rows)
            lost = [job_ids[f.shard] for f in figures if f.status != "done"]
            if lost:  # best effort: a lost shard's job, if it runs, finds no row
                with contextlib.suppress(Exception):
                    await queue.cancel(lost)
            return DistributedRun(run, figures, self.start_in, job_ids)
        finally:
            await asyncio.to_thread(watch.close)

    async def _shards(
        self,
        repository_dsn: str,
        queue: ShardQueue,
        watch: ServerWatch,
        name: str,
        progress: Progress | None,
    ) -> tuple[list[int], LoadRun, list[dict[str, Any]]]:
        """Queue the jobs, watch the server and follow the rows to the end."""
        spec = self.spec
        job_ids = await queue.defer(self.run_id, self.shards, self.target)
        await asyncio.to_thread(self._jobs, repository_dsn, job_ids)
        start_wall = self.start_db + self.offset
        run = LoadRun(spec, name, datetime.fromtimestamp(start_wall, UTC))
        sampler = asyncio.create_task(watch_window([watch], spec, start_wall))
        try:
            rows = await asyncio.to_thread(self._follow, repository_dsn, progress)
            run.server = (await sampler)[0]  # the window's end, at the latest
        finally:
            sampler.cancel()
        return job_ids, run, rows

    # -- the rows ------------------------------------------------------------------
    def _abandon(self, repository_dsn: str) -> None:
        """Every shard not over is lost: their workers stop at the next heartbeat."""
        with pg.connect(repository_dsn) as repo:
            for shard in range(self.shards):
                key = {"run_id": self.run_id, "shard": shard,
                       "reason": "the coordinator stopped before the end"}  # fmt: skip
                pg.named_rows(repo, GROUP, "shard_lose", key)

    def _write(
        self, repository_dsn: str, text: str | None, ident: dict[str, Any]
    ) -> None:
        """One row per shard, with its spec and the agreed start."""
        spec = self.spec
        bare = strip(spec.dsn).dsn
        with pg.connect(repository_dsn) as repo, pg.guarded(FEATURE):
            now_db = float(pg.named_rows(repo, GROUP, "shard_clock")[0]["now_s"])
            self.offset = time.time() - now_db
            self.start_db = now_db + self.start_in
            with repo.transaction():
                for index in range(self.shards):
                    part = to_json(replace(spec.share(index), dsn=bare))
                    part.pop("replica_dsn", None)
                    part.update(scenario={"ref": spec.scenario.value, "text": text},
                                allowed_targets=[], identity=ident)  # fmt: skip
                    pg.named_rows(repo, GROUP, "shard_insert", {
                        "run_id": self.run_id, "shard": index, "shards": self.shards,
                        "target": self.target, "spec": Jsonb(part),
                        "start_s": self.start_db, "window_end_s": self.window_end_db,
                    })  # fmt: skip

    def _jobs(self, repository_dsn: str, job_ids: list[int]) -> None:
        with pg.connect(repository_dsn) as repo:
            for index, job_id in enumerate(job_ids):
                key = {"run_id": self.run_id, "shard": index, "job_id": job_id}
                pg.named_rows(repo, GROUP, "shard_job", key)

    def _follow(
        self, repository_dsn: str, progress: Progress | None
    ) -> list[dict[str, Any]]:
        """Read the rows until every shard is done, failed or lost."""
        with pg.connect(repository_dsn) as repo:
            while True:
                rows = self._states(repo)
                if all(row["status"] in TERMINAL for row in rows):
                    return rows
                if self.stop.is_set():
                    return rows
                ticks = _ticks(rows)
                if progress is not None and ticks:
                    progress(ticks)
                time.sleep(FOLLOW_S)

    def _states(self, repo: psycopg.Connection[Any]) -> list[dict[str, Any]]:
        rows = pg.named_rows(repo, GROUP, "shard_states", {"run_id": self.run_id})
        lost = False
        for row in rows:
            why = self._lost(row)
            if why is not None:
                key = {"run_id": self.run_id, "shard": row["shard"], "reason": why}
                lost |= bool(pg.named_rows(repo, GROUP, "shard_lose", key))
        if lost:
            rows = pg.named_rows(repo, GROUP, "shard_states", {"run_id": self.run_id})
        return rows

    def _lost(self, row: dict[str, Any]) -> str | None:
        """Why the shard of ``row`` is lost, if it is."""
        now, status = float(row["now_s"]), row["status"]
        if status == "queued" and now > self.window_start_db + PICKUP_GRACE_S:
            return (
                "never picked up: no worker took its job within "
                f"{PICKUP_GRACE_S:.0f} s of the window's opening (are pgwarden "
                "workers running on this repository, with free slots?)"
            )
        if status != "running":
            return None
        silent = float(row["silent_s"] or 0.0)
        if silent > SILENT_S:
            return (
                f"its worker {row['worker']} stopped answering for {silent:.0f} s "
                "(killed, or its host lost)"
            )
        if now > self.deadline_db:
            return "no result by the deadline"
        return None

    # -- the merge -----------------------------------------------------------------
    def _merge(
        self, repository_dsn: str, run: LoadRun, rows: list[dict[str, Any]]
    ) -> list[ShardFigures]:
        """Add every readable result to ``run``; each shard's figures."""
        with pg.connect(repository_dsn) as repo:
            key = {"run_id": self.run_id}
            found = pg.named_rows(repo, GROUP, "shard_results", key)
            pg.named_rows(repo, GROUP, "shard_forget", key)
        results = {r["shard"]: r["result"] for r in found}
        figures = []
        for row in rows:
            base = ShardFigures(
                shard=int(row["shard"]), status=str(row["status"]),
                worker=row["worker"], late_s=_rounded(row["late_s"]),
                late=bool(row["late_s"] and row["late_s"] > self.spec.warmup),
                reason=row["reason"],
            )  # fmt: skip
            if base.status == "done":
                base = self._add(run, base, results.get(base.shard))
            figures.append(base)
        return figures

    def _add(self, run: LoadRun, base: ShardFigures, result: object) -> ShardFigures:
        try:
            if not isinstance(result, dict):
                raise BadShard("no result")
            part = from_json(WorkerResult, result.get("worker"))
            alone = LoadRun(run.spec, run.scenario, run.started_at)
            alone.add(part)  # a result that cannot be added fails here, alone
        except (BadShard, BadHistogram) as exc:
            return replace(base, status="failed", reason=f"result unreadable: {exc}")
        except Exception as exc:  # one bad record costs that record, never the run
            reason = f"result unreadable: {type(exc).__name__}: {exc}"[:300]
            return replace(base, status="failed", reason=reason)
        run.add(part)
        done = alone.overall.count
        errors = sum(sum(c.values()) for c in alone.errors.values())
        cpu = float(getattr(part, "cpu_s", 0.0)) or None
        return replace(
            base,
            actions=done,
            errors=errors,
            throughput_per_s=round(done / self.spec.duration_s, 2),
            p50_ms=round(alone.overall.percentile_ms(50), 3),
            p95_ms=round(alone.overall.percentile_ms(95), 3),
            p99_ms=round(alone.overall.percentile_ms(99), 3),
            generator_cpu_s=None if cpu is None else round(cpu, 3),
            cpu_per_action_ms=None
            if cpu is None or not done + errors
            else round(cpu * 1000 / (done + errors), 4),
        )


def _ticks(rows: list[dict[str, Any]]) -> dict[int, Tick]:
    ticks = {}
    for row in rows:
        if row["status"] == "running" and row["progress"] is not None:
            try:
                ticks[int(row["shard"])] = from_json(Tick, row["progress"])
            except BadShard:
                continue  # a progress line not shown; the result decides
    return ticks


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)
