"""Run the release steps and the rollback steps on the rehearsal database, timed.

An SQL step runs in one transaction on a dedicated connection under ``lock_timeout``
and its ``statement_timeout``; its locks are read before commit. A step that cannot
run in a transaction runs statement by statement in autocommit mode, watched by the
lock sampler. A command runs without a shell, in the plan's directory, with
``PGWARDEN_REHEARSAL_DSN``, ``PGWARDEN_DSN`` and the libpq ``PG*`` variables pointing
at the rehearsal database. The first failing release step stops the release; the
rollback always runs.

Before the first step the caller's ``verify`` reads the identity of the database on
the connection that runs the SQL steps (see :mod:`.guard`); the samplers and commands
then get a DSN pinned to what was verified.
"""

from __future__ import annotations

import shlex
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import psycopg
from psycopg import errors as pgerrors
from psycopg.conninfo import conninfo_to_dict
from psycopg.pq import TransactionStatus

from pgwarden import pg
from pgwarden.errors import TargetError
from pgwarden.ops.rehearse import guard, measure
from pgwarden.ops.rehearse.clone import libpq_env
from pgwarden.ops.rehearse.plan import Plan, Step
from pgwarden.ops.rehearse.sql import needs_autocommit, statements

MIB = 1024**2
OUTPUT_LINES = 5
OUTPUT_CHARS = 600
#: the catalog reads before and after each step
MONITOR_TIMEOUT_MS = 60_000
Phase = Literal["release", "rollback"]
Progress = Callable[[str], None]
#: raises unless the steps may run on the database of the connection it is given
Verify = Callable[[psycopg.Connection[Any]], object]


@dataclass(frozen=True)
class StepResult:
    phase: Phase
    number: int
    name: str
    mode: str
    status: Literal["ok", "failed", "not run"]
    offset_s: float = 0.0
    duration_s: float = 0.0
    locks: tuple[measure.Lock, ...] = ()
    rewrites: tuple[measure.Rewrite, ...] = ()
    wal_bytes: int | None = None
    error: str | None = None
    output: str = ""

    def as_dict(self) -> dict[str, Any]:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        data["locks"] = [lock.as_dict() for lock in self.locks]
        data["rewrites"] = [r.as_dict() for r in self.rewrites]
        return data


@dataclass
class Rehearsal:
    started_at: datetime
    steps: list[StepResult] = field(default_factory=list)
    rollback: list[StepResult] = field(default_factory=list)
    shape_before: list[str] = field(default_factory=list)
    shape_after: list[str] | None = None


class StepFailed(Exception):
    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(message)
        self.output = output


def _mode(plan: Plan, step: Step) -> str:
    if step.kind == "command":
        return "command"
    if step.transaction is not None:
        return "transaction" if step.transaction else "autocommit"
    return "autocommit" if needs_autocommit(plan.sql_of(step)) else "transaction"


class Runner:
    """Runs steps on the rehearsal database ``dsn`` (password never shown), once
    ``verify`` accepted the database its connection reached."""

    def __init__(
        self, plan: Plan, dsn: str, progress: Progress, verify: Verify
    ) -> None:
        self.plan = plan
        self.progress = progress
        self.big_bytes = int(plan.big_table_mb * MIB)
        self.started = time.monotonic()
        self.work = pg.connect(
            dsn, statement_timeout_ms=None, application_name="pgwarden-rehearsal"
        )
        try:
            verify(self.work)
            self.dsn = guard.pinned(dsn, self.work)
            self.monitor = pg.connect(
                self.dsn,
                statement_timeout_ms=MONITOR_TIMEOUT_MS,
                application_name="pgwarden-rehearsal-monitor",
            )
        except BaseException:
            self.work.close()
            raise

    def close(self) -> None:
        self.work.close()
        self.monitor.close()

    def run(self, phase: Phase, number: int, step: Step) -> StepResult:
        mode = _mode(self.plan, step)
        self.progress(f"{phase} step {number}: {step.name} ({mode})")
        before = measure.relations(self.monitor)
        lsn = measure.wal_lsn(self.monitor)
        offset = time.monotonic() - self.started
        status: Literal["ok", "failed"] = "ok"
        error: str | None = None
        output = ""
        rows: list[dict[str, Any]] = []
        held: dict[tuple[str, str], float] | None = None
        try:
            rows, held, output = self._execute(step, mode)
        except StepFailed as exc:
            status, error, output = "failed", str(exc), exc.output
        duration = time.monotonic() - self.started - offset
        after = measure.relations(self.monitor)
        return StepResult(
            phase, number, step.name, mode, status, round(offset, 3),
            round(duration, 3),
            tuple(measure.locks(rows, before, self.big_bytes, held)),
            tuple(measure.rewrites(before, after, self.big_bytes)),
            measure.wal_bytes(self.monitor, lsn, measure.wal_lsn(self.monitor)),
            error, output,
        )  # fmt: skip

    def _execute(
        self, step: Step, mode: str
    ) -> tuple[list[dict[str, Any]], dict[tuple[str, str], float] | None, str]:
        if mode == "transaction":
            return self._in_transaction(step), None, ""
        if mode == "autocommit":
            sampler = measure.Sampler(self.dsn, pids=[self.work.info.backend_pid])
            return self._sampled(sampler, lambda: self._autocommit(step))
        exclude = measure.backends(self.monitor)
        sampler = measure.Sampler(self.dsn, exclude=exclude)
        return self._sampled(sampler, lambda: self._command(step))

    def _sampled(
        self, sampler: measure.Sampler, action: Callable[[], str]
    ) -> tuple[list[dict[str, Any]], dict[tuple[str, str], float], str]:
        sampler.start()
        try:
            output = action()
        finally:
            held = sampler.stop()
        return sampler.rows, held, output

    def _timeouts(self, step: Step, local: bool) -> None:
        self.work.execute(
            "SELECT set_config('lock_timeout', %s, %s),"
            " set_config('statement_timeout', %s, %s)",
            [f"{self.plan.lock_timeout_ms}ms", local,
             f"{self.plan.timeout_ms(step)}ms", local],
        )  # fmt: skip

    def _in_transaction(self, step: Step) -> list[dict[str, Any]]:
        text = self.plan.sql_of(step)
        try:
            with self.work.transaction():
                self._timeouts(step, local=True)
                self.work.execute(text.encode())
                return measure.own_locks(self.work)
        except psycopg.Error as exc:
            raise StepFailed(self._reason(exc, step)) from exc

    def _autocommit(self, step: Step) -> str:
        try:
            self._timeouts(step, local=False)
            for statement in statements(self.plan.sql_of(step)):
                self.work.execute(statement.encode())
        except psycopg.Error as exc:
            if self.work.info.transaction_status != TransactionStatus.IDLE:
                self.work.execute("ROLLBACK")
            raise StepFailed(self._reason(exc, step)) from exc
        return ""

    def _reason(self, exc: psycopg.Error, step: Step) -> str:
        message = exc.diag.message_primary or str(exc).splitlines()[0]
        if isinstance(exc, pgerrors.LockNotAvailable):
            return f"lock_timeout ({self.plan.lock_timeout}) exceeded: {message}"
        if isinstance(exc, pgerrors.QueryCanceled):
            limit = step.timeout or self.plan.statement_timeout
            return f"statement_timeout ({limit}) exceeded: {message}"
        return f"{exc.sqlstate or 'error'}: {message}"

    def _command(self, step: Step) -> str:
        assert step.command is not None
        argv = (
            shlex.split(step.command)
            if isinstance(step.command, str)
            else list(step.command)
        )
        env = libpq_env(self.dsn) | {
            "PGWARDEN_REHEARSAL_DSN": self.dsn,
            "PGWARDEN_DSN": self.dsn,
        }
        timeout_s = self.plan.timeout_ms(step) / 1000
        try:
            done = subprocess.run(
                argv, cwd=self.plan.base_dir, env=env, capture_output=True,
                text=True, timeout=timeout_s, stdin=subprocess.DEVNULL, check=False,
            )  # fmt: skip
        except FileNotFoundError as exc:
            raise StepFailed(f"command not found: {argv[0]}") from exc
        except subprocess.TimeoutExpired as exc:
            raise StepFailed(f"timed out after {timeout_s:g} s") from exc
        output = self._tail(done.stdout + done.stderr)
        if done.returncode != 0:
            last = output.splitlines()[-1] if output else "no output"
            raise StepFailed(f"exit status {done.returncode}: {last}", output)
        return output

    def _tail(self, text: str) -> str:
        """The last lines of a command's output, without the clone's password."""
        password = conninfo_to_dict(self.dsn).get("password")
        if password:
            text = text.replace(str(password), "****")
        lines = [line for line in text.splitlines() if line.strip()]
        return "\n".join(lines[-OUTPUT_LINES:])[-OUTPUT_CHARS:]


def _phase(
    runner: Runner, plan: Plan, phase: Phase, steps: list[Step]
) -> list[StepResult]:
    """Run ``steps`` in order; after a failure the rest are ``not run``."""
    results: list[StepResult] = []
    for number, step in enumerate(steps, start=1):
        if results and results[-1].status != "ok":
            mode = _mode(plan, step)
            results.append(StepResult(phase, number, step.name, mode, "not run"))
            continue
        results.append(runner.run(phase, number, step))
    return results


def rehearse(plan: Plan, dsn: str, progress: Progress, verify: Verify) -> Rehearsal:
    """Run the release steps (stopping at the first failure), then the rollback,
    on the database at ``dsn`` once ``verify`` accepted it."""
    done = Rehearsal(started_at=datetime.now(UTC))
    runner = Runner(plan, dsn, progress, verify)
    try:
        done.shape_before = measure.schema_shape(runner.monitor)
        done.steps = _phase(runner, plan, "release", plan.step)
        done.rollback = _phase(runner, plan, "rollback", plan.rollback)
        if plan.rollback and all(r.status == "ok" for r in done.rollback):
            done.shape_after = measure.schema_shape(runner.monitor)
    except psycopg.Error as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise TargetError(
            f"lost the rehearsal database {pg.describe(dsn)}: {reason}"
        ) from exc
    finally:
        runner.close()
    return done
