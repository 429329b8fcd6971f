"""Scenarios written in Python: a module of weighted async actions.

``--scenario checkout.py`` (a file) or ``--scenario mycompany.load.checkout`` (an
importable module) names a module that follows this protocol::

    NAME = "checkout"              # optional; default: the module's name
    THINK_MS = 50                  # optional default think time
    READ_ONLY = ["browse"]         # optional: actions a read replica may serve

    async def setup(conn):         # optional; once per worker, on the primary
        cur = await conn.execute("SELECT id FROM item")
        return {"ids": [row[0] for row in await cur.fetchall()]}

    async def browse(conn, rng, params):
        await conn.execute(
            "SELECT * FROM item WHERE id = %s", [rng.choice(params["ids"])]
        )

    async def buy(conn, rng, params): ...

    ACTIONS = [(10, browse), (1, buy)]

An action is an ``async def`` taking ``conn`` (a psycopg ``AsyncConnection`` from
the application pool; the action is one transaction, committed when it returns and
rolled back when it raises), ``rng`` (the virtual user's ``random.Random``) and
``params`` (the mapping ``setup`` returned, empty without ``setup``). Its name is
the function's name. Actions listed in ``READ_ONLY`` run on the read replica when
the run has one.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import random
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from psycopg_pool import AsyncConnectionPool

from pgwarden.demo.cache import LRUCache
from pgwarden.load.contract import Runner, ScenarioError

ActionFn = Callable[[Any, random.Random, Mapping[str, Any]], Awaitable[object]]


@dataclass(frozen=True)
class ModuleScenario:
    name: str
    actions: Mapping[str, ActionFn]
    weights: Mapping[str, float]
    read_only: frozenset[str] = frozenset()
    think_ms: float | None = None
    setup: Callable[[Any], Awaitable[Any]] | None = None
    autocommit: bool = False

    @property
    def writes(self) -> bool:
        return len(self.read_only) < len(self.actions)

    async def bind(
        self,
        pool: AsyncConnectionPool[Any],
        cache: LRUCache[Any],
        read_pool: AsyncConnectionPool[Any] | None = None,
    ) -> Runner:
        params: Mapping[str, Any] = {}
        if self.setup is not None:
            async with pool.connection() as conn:
                made = await self.setup(conn)
            if made is not None and not isinstance(made, Mapping):
                raise ScenarioError(f"{self.name}: setup() must return a dict or None")
            params = made or {}
        return _ModuleRunner(self, pool, read_pool or pool, params)


@dataclass(frozen=True)
class _ModuleRunner:
    scenario: ModuleScenario
    pool: AsyncConnectionPool[Any]
    read_pool: AsyncConnectionPool[Any]
    params: Mapping[str, Any]

    async def run(self, action: str, rng: random.Random) -> None:
        routed = action in self.scenario.read_only
        pool = self.read_pool if routed else self.pool
        async with pool.connection() as conn:
            await self.scenario.actions[action](conn, rng, self.params)


def read_module(value: str) -> ModuleScenario:
    """Import and check a scenario module; :class:`ScenarioError` says what is wrong."""
    module = _import(value)
    return parse_module(module, value, default_name=module.__name__.rpartition(".")[2])


def parse_module(
    module: ModuleType, origin: str, default_name: str = "scenario"
) -> ModuleScenario:
    entries = getattr(module, "ACTIONS", None)
    if not isinstance(entries, list | tuple) or not entries:
        raise ScenarioError(f"{origin}: no ACTIONS = [(weight, action), ...] list")
    actions: dict[str, ActionFn] = {}
    weights: dict[str, float] = {}
    for i, entry in enumerate(entries):
        name, weight, fn = _entry(f"{origin}: ACTIONS[{i}]", entry)
        if name in actions:
            raise ScenarioError(f"{origin}: action {name!r} is listed twice")
        actions[name], weights[name] = fn, weight
    return ModuleScenario(
        name=_name(module, origin, default_name),
        actions=actions,
        weights=weights,
        read_only=_read_only(module, origin, actions),
        think_ms=_think(module, origin),
        setup=_setup(module, origin),
    )


def _entry(where: str, entry: Any) -> tuple[str, float, ActionFn]:
    if not isinstance(entry, tuple | list) or len(entry) != 2:
        raise ScenarioError(f"{where}: must be a (weight, action) pair")
    weight, fn = entry
    name = getattr(fn, "__name__", repr(fn))
    if not isinstance(weight, int | float) or isinstance(weight, bool) or weight <= 0:
        raise ScenarioError(f"{where} ({name}): weight must be a number > 0")
    if not inspect.iscoroutinefunction(fn):
        raise ScenarioError(
            f"{where} ({name}): must be an async def taking (conn, rng, params)"
        )
    try:
        inspect.signature(fn).bind(None, None, None)
    except TypeError:
        raise ScenarioError(
            f"{where} ({name}): must take three arguments (conn, rng, params)"
        ) from None
    return name, float(weight), fn


def _name(module: ModuleType, origin: str, default: str) -> str:
    name = getattr(module, "NAME", default)
    if not isinstance(name, str) or not name:
        raise ScenarioError(f"{origin}: NAME must be a non-empty string")
    return name


def _read_only(
    module: ModuleType, origin: str, actions: Mapping[str, ActionFn]
) -> frozenset[str]:
    names = getattr(module, "READ_ONLY", ())
    if isinstance(names, str) or not isinstance(names, list | tuple | set | frozenset):
        raise ScenarioError(f"{origin}: READ_ONLY must be a list of action names")
    unknown = sorted(str(n) for n in names if n not in actions)
    if unknown:
        raise ScenarioError(f"{origin}: READ_ONLY names no action {unknown[0]!r}")
    return frozenset(names)


def _think(module: ModuleType, origin: str) -> float | None:
    think = getattr(module, "THINK_MS", None)
    if think is None:
        return None
    if not isinstance(think, int | float) or isinstance(think, bool) or think < 0:
        raise ScenarioError(f"{origin}: THINK_MS must be a number >= 0")
    return float(think)


def _setup(module: ModuleType, origin: str) -> Callable[[Any], Awaitable[Any]] | None:
    setup = getattr(module, "setup", None)
    if setup is None:
        return None
    if not inspect.iscoroutinefunction(setup):
        raise ScenarioError(f"{origin}: setup must be an async def taking (conn)")
    found: Callable[[Any], Awaitable[Any]] = setup
    return found


def _import(value: str) -> ModuleType:
    if not value.endswith(".py"):
        try:
            return importlib.import_module(value)
        except ModuleNotFoundError as exc:
            if exc.name and value.startswith(exc.name):
                raise ScenarioError(f"--scenario: no module named {value!r}") from exc
            raise _import_failed(value, exc) from exc
        except Exception as exc:
            raise _import_failed(value, exc) from exc
    path = Path(value)
    if not path.is_file():
        raise ScenarioError(f"{path}: no such file")
    name = f"pgwarden_scenario_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ScenarioError(f"{path}: cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look modules up here
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        raise _import_failed(value, exc) from exc
    return module


def _import_failed(value: str, exc: Exception) -> ScenarioError:
    if isinstance(exc, SyntaxError):
        where = f"{value}:{exc.lineno}" if exc.lineno else value
        return ScenarioError(f"{where}: syntax error: {exc.msg}")
    return ScenarioError(f"{value}: import failed: {type(exc).__name__}: {exc}")
