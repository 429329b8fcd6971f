"""One shard of a distributed run, on the worker that took its job.

The worker claims the shard's row (once: a retried or late job finds it taken or
its window over and does nothing), resolves the target's DSN itself (the row
holds the target's name and its DSN without password, never a secret), checks it
reaches the database the coordinator named (its identity) and that this worker may
load-test it (embedded, or in *this worker's* ``load.allowed_targets``), then runs
the engine (:func:`~pgwarden.load.engine.run_worker`) in a process of its own, so
the shard has a core, not a share of the worker's. Meanwhile it writes a heartbeat
and its last second's progress to the row every second, and at the end its result
— or why it failed. The generator process ends itself if the worker dies.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import queue
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from pgwarden import pg
from pgwarden.dsn import scrub
from pgwarden.errors import ConfigurationError, PgwardenError, WriteRefused
from pgwarden.load.contract import ScenarioError
from pgwarden.load.distributed.wire import BadShard, from_json, to_json
from pgwarden.load.engine import LoadSpec, Tick, run_worker
from pgwarden.load.histogram import Histogram
from pgwarden.load.run import check_writable_dsn
from pgwarden.load.scenario import SQL_SUFFIXES, ScenarioRef
from pgwarden.repository.targets import identity

GROUP = "load_repository"
#: seconds between heartbeats
BEAT_S = 1.0
#: a shard whose result has not come this long after its window (and drain) fails
GRACE_S = 30.0
#: bounds on what a row may ask of a worker
MAX_USERS = 100_000
MAX_SECONDS = 7 * 86400.0

#: the target's name and its DSN without password -> the DSN to connect with
Resolve = Callable[[str, str], str]


class ShardFailed(PgwardenError):
    """The shard could not run."""


@dataclass(frozen=True)
class Claimed:
    """A claimed shard: what its row says, and the two clocks."""

    index: int
    shards: int
    target: str
    spec: dict[str, Any]
    #: the agreed start on this machine's clock (epoch seconds)
    start_wall: float


def worker_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def run_shard(
    repository_dsn: str,
    run_id: str,
    index: int,
    resolve: Resolve,
    allowed_targets: tuple[str, ...],
) -> str:
    """Run shard ``index`` of ``run_id``; one line saying how it went."""
    with pg.connect(repository_dsn) as repo:
        claimed = _claim(repo, run_id, index)
        if claimed is None:
            return "skipped: the shard was taken, lost or its window is over"
        beat = _Beat(repo, run_id, index)
        dsns: list[str] = []
        try:
            spec, identity_wanted = _spec(claimed, resolve, allowed_targets)
            dsns.append(spec.dsn)
            with tempfile.TemporaryDirectory(prefix="pgwarden-shard-") as tmp:
                spec = _scenario_file(spec, claimed.spec, Path(tmp))
                _check(spec, identity_wanted)
                result = _generate(spec, claimed, beat)
        except Exception as exc:
            reason = scrub(_first_line(exc), *dsns)
            beat.finish("failed", None, reason[:500])
            raise ShardFailed(f"shard {index}: {reason}") from exc
        beat.finish("done", result, None)
    done = result["worker"]
    return (
        f"shard {index} of {claimed.shards} on {claimed.target}: "
        f"{_count(done)} actions, late {beat.late_s or 0:.1f} s"
    )


def _claim(repo: psycopg.Connection[Any], run_id: str, index: int) -> Claimed | None:
    key = {"run_id": run_id, "shard": index, "worker": worker_name()}
    rows = pg.named_rows(repo, GROUP, "shard_claim", key)
    if not rows:
        return None
    row = rows[0]
    offset = time.time() - float(row["now_s"])  # this clock minus the repository's
    return Claimed(index, int(row["shards"]), str(row["target"]), row["spec"],
                   float(row["start_s"]) + offset)  # fmt: skip


def _spec(
    claimed: Claimed, resolve: Resolve, allowed: tuple[str, ...]
) -> tuple[LoadSpec, dict[str, Any]]:
    data = claimed.spec
    if not isinstance(data, dict):
        raise BadShard("the shard's spec is not a mapping")
    dsn = resolve(claimed.target, str(data.get("dsn") or ""))
    ref = data.get("scenario")
    if not isinstance(ref, dict) or not isinstance(ref.get("ref"), str):
        raise BadShard("the shard's spec names no scenario")
    given = {"dsn": dsn, "scenario": ScenarioRef(ref["ref"]),
             "allowed_targets": allowed, "replica_dsn": None}  # fmt: skip
    spec = from_json(LoadSpec, data, given)
    if not 1 <= spec.users <= MAX_USERS or not 1 <= spec.pool_size <= MAX_USERS:
        raise BadShard("the shard's users or pool are out of bounds")
    if not 0 < spec.duration_s <= MAX_SECONDS or not 0 <= spec.warmup <= MAX_SECONDS:
        raise BadShard("the shard's duration or warm-up is out of bounds")
    if spec.rate is not None and not 0 < spec.rate <= 1e7:
        raise BadShard("the shard's rate is out of bounds")
    if not 0 <= spec.drain_s <= MAX_SECONDS:
        raise BadShard("the shard's drain time is out of bounds")
    wanted = data.get("identity")
    return spec, wanted if isinstance(wanted, dict) else {}


def _scenario_file(spec: LoadSpec, data: dict[str, Any], tmp: Path) -> LoadSpec:
    """A SQL scenario's text, written here under its own file name."""
    text = data["scenario"].get("text")
    if text is None:
        if Path(spec.scenario.value).suffix in (*SQL_SUFFIXES, ".py"):
            raise BadShard("a scenario file must travel with its text")
        return spec  # the reference scenario, or a module installed here
    name = Path(spec.scenario.value).name
    if not isinstance(text, str) or Path(name).suffix not in SQL_SUFFIXES:
        raise BadShard("only SQL scenario files (.toml, .yaml) travel as text")
    path = tmp / name
    path.write_text(text)
    ref = ScenarioRef(str(path))
    ref.resolve()  # ScenarioError, with the action's name, before anything starts
    return replace(spec, scenario=ref)


def _check(spec: LoadSpec, wanted: dict[str, Any]) -> None:
    """The DSN reaches the coordinator's database, which this worker may load."""
    with pg.connect(spec.dsn) as conn:
        found = identity(conn, pg.describe(spec.dsn))
    seen = {"system_identifier": found.system_identifier,
            "database_oid": found.database_oid}  # fmt: skip
    if any(wanted.get(k) != v for k, v in seen.items()):
        raise WriteRefused(
            f"the DSN this worker has for the target reaches another database "
            f"({pg.describe(spec.dsn)}); give the worker the target's DSN"
        )
    check_writable_dsn(spec)


def _generate(spec: LoadSpec, claimed: Claimed, beat: _Beat) -> dict[str, Any]:
    """Run the engine in a child process; its result as JSON."""
    ctx = multiprocessing.get_context("spawn")
    messages: Any = ctx.Queue()
    child = ctx.Process(
        target=_child,
        args=(spec, claimed.index, claimed.start_wall, messages, os.getpid()),
        name=f"pgwarden-shard-{claimed.index}",
        daemon=True,
    )
    drain = spec.drain_s if spec.model == "open" else 0.0
    deadline = claimed.start_wall + spec.warmup + spec.duration_s + drain + GRACE_S
    child.start()
    try:
        while True:
            try:
                kind, payload = messages.get(timeout=BEAT_S)
            except queue.Empty:
                kind, payload = "", None
            if kind == "ready":
                beat.late_s = max(0.0, float(payload) - claimed.start_wall)
            elif kind == "tick":
                beat.progress = payload
            elif kind == "result":
                return {"worker": payload}
            elif kind == "error":
                raise ShardFailed(str(payload))
            elif not child.is_alive():
                raise ShardFailed(f"the generator process exited ({child.exitcode})")
            elif time.time() > deadline:
                raise ShardFailed("no result by the deadline")
            elif beat.abandoned.is_set():
                raise ShardFailed("given up by the coordinator")
    finally:
        if child.is_alive():
            child.terminate()
        child.join(5)


class _Beat:
    """The row's heartbeat, progress and lateness, written every second by a thread
    of its own (the row goes silent only when this worker does); its final state."""

    def __init__(self, repo: psycopg.Connection[Any], run_id: str, index: int) -> None:
        self.repo, self.key = repo, {"run_id": run_id, "shard": index}
        self.progress: dict[str, Any] | None = None
        self.late_s: float | None = None
        self.stopped = threading.Event()
        #: the coordinator gave the shard up (lost): its load is no longer wanted
        self.abandoned = threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True)
        self.thread.start()

    def _beat(self) -> None:
        while not self.stopped.wait(BEAT_S):
            progress = None if self.progress is None else Jsonb(self.progress)
            try:
                alive = pg.named_rows(self.repo, GROUP, "shard_beat",
                                      {**self.key, "progress": progress,
                                       "late_s": self.late_s})  # fmt: skip
            except psycopg.Error:
                return  # the repository is gone: the coordinator sees the silence
            if not alive:
                self.abandoned.set()
                return

    def finish(
        self, status: str, result: dict[str, Any] | None, reason: str | None
    ) -> None:
        self.stopped.set()
        self.thread.join()
        pg.named_rows(
            self.repo, GROUP, "shard_finish",
            {**self.key, "status": status, "reason": reason, "late_s": self.late_s,
             "result": None if result is None else Jsonb(result)},
        )  # fmt: skip


# -- the generator process ---------------------------------------------------------
class _Coordinator:
    """The engine's coordinator in a shard: the start is agreed already."""

    def __init__(self, messages: Any, start_wall: float) -> None:
        self.messages, self.start_wall = messages, start_wall

    async def ready(self) -> float:
        self.messages.put(("ready", time.time()))
        return self.start_wall

    def tick(self, tick: Tick) -> None:
        self.messages.put(("tick", to_json(tick)))


def _child(
    spec: LoadSpec, index: int, start_wall: float, messages: Any, parent: int
) -> None:
    threading.Thread(target=_orphaned, args=(parent,), daemon=True).start()
    try:
        result = asyncio.run(
            run_worker(spec, index, _Coordinator(messages, start_wall))
        )
    except Exception as exc:
        messages.put(("error", scrub(_first_line(exc), spec.dsn)))
    else:
        messages.put(("result", to_json(result)))


def _orphaned(parent: int) -> None:
    """End this process when the worker that started it is gone (kill -9)."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(3)


def _count(result: dict[str, Any]) -> int:
    return Histogram.decode(str(result.get("overall", ""))).count


def _first_line(exc: BaseException) -> str:
    if isinstance(exc, ScenarioError | ConfigurationError | PgwardenError | BadShard):
        text = str(exc)
    else:
        text = f"{type(exc).__name__}: {exc}"
    lines = text.strip().splitlines()
    return lines[0] if lines else type(exc).__name__
