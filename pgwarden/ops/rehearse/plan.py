"""The release plan (``release.toml``) of ``pgwarden rehearse``, validated by pydantic.

A malformed plan is a :class:`~pgwarden.errors.ConfigurationError` of one line that
names the file and the key, e.g. ``release.toml: step[2].sql_file: no such file``.
See docs/RELEASE_REHEARSAL.md for the format.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

import psycopg
from psycopg.conninfo import conninfo_to_dict
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from pgwarden.errors import ConfigurationError
from pgwarden.ops.rehearse.guard import looks_like_conninfo

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|min|h)?\s*$")
_UNIT_MS = {"ms": 1.0, "s": 1000.0, "min": 60_000.0, "h": 3_600_000.0}
#: PostgreSQL truncates identifiers to 63 bytes; a truncated clone name could be
#: an existing database, which pgwarden would then drop
MAX_IDENTIFIER_BYTES = 63
#: the pre-flight checks (pgwarden.ops.rehearse.checks), for ``[checks] skip``
CHECK_NAMES = (
    "reachable",
    "replication_lag",
    "long_running",
    "idle_in_transaction",
    "blocking_locks",
    "invalid_indexes",
    "wraparound",
    "pg_stat_statements",
    "firing_alerts",
    "change_request",
    "disk_headroom",
)


#: PostgreSQL's largest timeout setting (about 24.8 days)
MAX_TIMEOUT_MS = 2_147_483_647


def duration_ms(text: str | int | float) -> int:
    """``"5s"``, ``"2min"``, ``"500ms"``, ``"1h"`` or a number of milliseconds."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        value, unit = float(text), "ms"
    else:
        match = _DURATION_RE.match(str(text))
        if match is None:
            raise ValueError(f"{text!r} is not a duration such as 500ms, 5s, 2min, 1h")
        value, unit = float(match.group(1)), match.group(2) or "ms"
    ms = value * _UNIT_MS[unit]
    if not 0 <= ms <= MAX_TIMEOUT_MS:  # also NaN
        raise ValueError(f"{text!r} is not a duration between 0 and 24 days")
    return int(ms)


def _duration(value: str | int) -> str | int:
    duration_ms(value)
    return value


def _identifier(value: str) -> str:
    if not value or "\x00" in value:
        raise ValueError("must be a non-empty name")
    if len(value.encode()) > MAX_IDENTIFIER_BYTES:
        raise ValueError(f"longer than {MAX_IDENTIFIER_BYTES} bytes")
    return value


def _clone_name(value: str) -> str:
    if looks_like_conninfo(value):
        raise ValueError(
            "must not contain '=' or start with postgres(ql)://: libpq tools would "
            "read it as a connection string"
        )
    return value


def _dsn(value: str) -> str:
    try:
        conninfo_to_dict(value)
    except psycopg.ProgrammingError as exc:
        raise ValueError("not a valid libpq DSN or URI") from exc
    return value


def _check_names(value: list[str]) -> list[str]:
    unknown = [name for name in value if name not in CHECK_NAMES]
    if unknown:
        raise ValueError(
            f"unknown check {unknown[0]!r}; one of {', '.join(CHECK_NAMES)}"
        )
    return value


Duration = Annotated[str | int, AfterValidator(_duration)]
Identifier = Annotated[str, AfterValidator(_identifier)]
CloneName = Annotated[Identifier, AfterValidator(_clone_name)]
Dsn = Annotated[str, AfterValidator(_dsn)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Step(_Strict):
    """One step: SQL (inline or from a file) or a command, run on the clone."""

    name: str = Field(min_length=1)
    sql: str | None = None
    sql_file: str | None = None
    command: str | list[str] | None = None
    timeout: Duration | None = None
    transaction: bool | None = None

    @model_validator(mode="after")
    def _one_action(self) -> Step:
        given = [k for k in ("sql", "sql_file", "command") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("give exactly one of sql, sql_file or command")
        return self

    @property
    def kind(self) -> Literal["sql", "command"]:
        return "command" if self.command else "sql"


class Checks(_Strict):
    """Pre-flight thresholds (seconds, counts, percentages)."""

    replication_lag_warn_s: float = Field(default=10, ge=0)
    replication_lag_fail_s: float = Field(default=60, ge=0)
    long_running_warn_s: float = Field(default=60, ge=0)
    long_running_fail_s: float = Field(default=300, ge=0)
    idle_in_transaction_warn_s: float = Field(default=30, ge=0)
    idle_in_transaction_fail_s: float = Field(default=600, ge=0)
    blocked_sessions_fail: int = Field(default=1, ge=1)
    invalid_indexes_warn: int = Field(default=1, ge=1)
    wraparound_warn_pct: float = Field(default=50, gt=0, le=100)
    wraparound_fail_pct: float = Field(default=75, gt=0, le=100)
    disk_free_gb: float | None = Field(default=None, gt=0)
    connect_warn_ms: float = Field(default=1000, gt=0)
    skip: Annotated[list[str], AfterValidator(_check_names)] = Field(
        default_factory=list
    )


class Plan(_Strict):
    title: str = Field(min_length=1)
    change_request: int | None = Field(default=None, ge=1)
    window_minutes: float = Field(gt=0)
    lock_timeout: Duration = "5s"
    statement_timeout: Duration = "30min"
    clone: Literal["template", "dump"] = "template"
    clone_source: Identifier | None = None
    clone_name: CloneName | None = None
    rehearsal_dsn: Dsn | None = None
    #: steps may run on a ``rehearsal_dsn`` database without the rehearsal marker
    allow_existing: bool = False
    big_table_mb: float = Field(default=1024, ge=0)
    checks: Checks = Field(default_factory=Checks)
    step: list[Step] = Field(min_length=1)
    rollback: list[Step] = Field(default_factory=list)
    #: the plan file's directory; ``sql_file`` paths are relative to it
    base_dir: Path = Path()

    @model_validator(mode="after")
    def _existing_needs_dsn(self) -> Plan:
        if self.allow_existing and not self.rehearsal_dsn:
            raise ValueError("allow_existing: goes with rehearsal_dsn")
        return self

    @property
    def lock_timeout_ms(self) -> int:
        return duration_ms(self.lock_timeout)

    def timeout_ms(self, step: Step) -> int:
        return duration_ms(step.timeout or self.statement_timeout)

    def sql_of(self, step: Step) -> str:
        """The SQL of a step (its file is read when the plan is loaded)."""
        if step.sql is not None:
            return step.sql
        assert step.sql_file is not None
        return (self.base_dir / step.sql_file).read_text(encoding="utf-8")


def load(path: Path) -> Plan:
    """Read and validate ``path``; one-line :class:`ConfigurationError` if bad."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigurationError(f"{path}: not UTF-8 text") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path}: not valid TOML: {exc}") from exc
    data.pop("base_dir", None)
    try:
        plan = Plan(**data, base_dir=path.resolve().parent)
    except ValidationError as exc:
        raise ConfigurationError(f"{path}: {_first_error(exc)}") from exc
    _check_files(path, plan)
    return plan


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ""
    for part in error["loc"]:
        where += f"[{part + 1}]" if isinstance(part, int) else f".{part}"
    where = where.lstrip(".") or "plan"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}".replace("\n", " ")


def _check_files(path: Path, plan: Plan) -> None:
    for section in ("step", "rollback"):
        for number, step in enumerate(getattr(plan, section), start=1):
            if step.sql_file is None:
                continue
            try:
                plan.sql_of(step)
            except OSError as exc:
                raise ConfigurationError(
                    f"{path}: {section}[{number}].sql_file: cannot read "
                    f"{step.sql_file}: {exc.strerror}"
                ) from exc
            except UnicodeDecodeError as exc:
                raise ConfigurationError(
                    f"{path}: {section}[{number}].sql_file: {step.sql_file} is "
                    "not UTF-8 text"
                ) from exc


def as_summary(plan: Plan) -> dict[str, Any]:
    """What the report repeats of the plan (no DSN: it may hold a password)."""
    return {
        "title": plan.title,
        "change_request": plan.change_request,
        "window_minutes": plan.window_minutes,
        "lock_timeout": str(plan.lock_timeout),
        "statement_timeout": str(plan.statement_timeout),
        "clone": "existing copy" if plan.rehearsal_dsn else plan.clone,
        "steps": len(plan.step),
        "rollback_steps": len(plan.rollback),
    }
