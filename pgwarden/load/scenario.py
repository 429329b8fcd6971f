"""Scenarios: weighted actions a virtual user picks from, and how to run one.

A scenario is named by :class:`ScenarioRef` (picklable, so worker processes can
rebuild it): the built-in ``reference`` scenario runs the reference application's
own code (:class:`~pgwarden.demo.app.ReferenceApp`) with its action mix and
Zipf-skewed tenants; a ``.toml``, ``.yaml`` or ``.yml`` file is a scenario of
weighted SQL (:mod:`pgwarden.load.sqlfile`); a ``.py`` file or a dotted module name
is a Python module of weighted actions (:mod:`pgwarden.load.pymodule`).

Binding a scenario gives it the application's pool and, when a read replica is in
use, a second pool on the replica: actions in :attr:`Scenario.read_only` run there.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from psycopg_pool import AsyncConnectionPool

from pgwarden.demo.app import ReferenceApp
from pgwarden.demo.cache import LRUCache
from pgwarden.demo.context import WorkloadContext, fetch_context
from pgwarden.demo.workload import ACTION_MIX, run_action
from pgwarden.load.contract import Runner, ScenarioError
from pgwarden.load.pymodule import read_module
from pgwarden.load.sqlfile import read_scenario

REFERENCE = "reference"
SQL_SUFFIXES = (".toml", ".yaml", ".yml")
_MODULE_NAME = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
REFERENCE_READ_ONLY = frozenset(
    {
        "list_assessments",
        "open_assessment",
        "open_assessment_n_plus_one",
        "read_audit_log",
        "dashboard_counts",
        "search",
        "assessment_history",
    }
)


class Scenario(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def weights(self) -> Mapping[str, float]: ...
    @property
    def read_only(self) -> frozenset[str]: ...
    @property
    def writes(self) -> bool: ...
    @property
    def think_ms(self) -> float | None: ...
    @property
    def autocommit(self) -> bool:
        """Each statement its own transaction (SQL files) or the app's own."""

    async def bind(
        self,
        pool: AsyncConnectionPool[Any],
        cache: LRUCache[Any],
        read_pool: AsyncConnectionPool[Any] | None = None,
    ) -> Runner:
        """A runner on ``pool``; read-only actions on ``read_pool`` when given."""


@dataclass(frozen=True)
class ScenarioRef:
    """``reference``, a scenario file, or a Python module (file or dotted name)."""

    value: str

    @property
    def is_reference(self) -> bool:
        return self.value == REFERENCE

    @property
    def is_sql_file(self) -> bool:
        """A TOML/YAML scenario of SQL statements (the fast path's kind)."""
        return Path(self.value).suffix in SQL_SUFFIXES

    def resolve(self) -> Scenario:
        if self.is_reference:
            return ReferenceScenario()
        path = Path(self.value)
        if path.suffix in SQL_SUFFIXES:
            return read_scenario(path)
        if path.suffix == ".py" or _MODULE_NAME.match(self.value):
            return read_module(self.value)
        raise ScenarioError(
            f"--scenario: {self.value!r} is not 'reference', a .toml/.yaml file, "
            "a .py file or a module name"
        )


class ReferenceScenario:
    """The reference application's action mix, through its real code path."""

    name = REFERENCE
    weights: Mapping[str, float] = ACTION_MIX
    read_only = REFERENCE_READ_ONLY
    writes = True
    think_ms: float | None = None
    autocommit = False

    async def bind(
        self,
        pool: AsyncConnectionPool[Any],
        cache: LRUCache[Any],
        read_pool: AsyncConnectionPool[Any] | None = None,
    ) -> Runner:
        context = await fetch_context(pool)
        app = ReferenceApp(pool, cache)
        reader = app if read_pool is None else ReferenceApp(read_pool, cache)
        return _ReferenceRunner(app, reader, context)


@dataclass(frozen=True)
class _ReferenceRunner:
    app: ReferenceApp
    reader: ReferenceApp
    context: WorkloadContext

    async def run(self, action: str, rng: random.Random) -> None:
        app = self.reader if action in REFERENCE_READ_ONLY else self.app
        await run_action(app, self.context, rng, action)
