"""Scenarios written as TOML or YAML: weighted SQL with parameter generators.

::

    name = "catalogue"
    think_ms = 50                      # optional default think time

    [actions.lookup]
    weight = 10
    sql = "SELECT * FROM item WHERE id = %(id)s"
    params.id = { int_range = [1, 10000] }

    [actions.by_tenant]
    weight = 3
    sql = 'SELECT count(*) FROM "Assessment" WHERE "tenantId" = %(tenant)s'
    params.tenant = { zipf = 'SELECT id FROM "Tenant" ORDER BY id', exponent = 1.1 }

Generators: ``int_range = [lo, hi]`` (uniform, inclusive), ``choice = [...]``
(uniform), ``sample = "SELECT ..."`` (uniform over the query's first column) and
``zipf = "SELECT ..."`` (rank r drawn with weight 1/r^exponent, in the query's
order). Queries run once, when the scenario is bound to a pool. An action is
read-only when its statement starts with SELECT, unless ``read_only`` says otherwise;
read-only actions run on the read replica when there is one.

The same scenario in YAML (``.yaml`` or ``.yml``)::

    name: catalogue
    think_ms: 50
    actions:
      lookup:
        weight: 10
        sql: SELECT * FROM item WHERE id = %(id)s
        params:
          id: {int_range: [1, 10000]}

Each statement is parsed when the file is read (PostgreSQL's own parser, through
pglast), so a syntax error is reported with the action's name before a run starts.
"""

from __future__ import annotations

import random
import re
import tomllib
from bisect import bisect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import Any

from pglast import parser as pg_parser
from psycopg_pool import AsyncConnectionPool

from pgwarden.demo.cache import LRUCache
from pgwarden.load.contract import Runner, ScenarioError

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
_ACTION_KEYS = {"weight", "sql", "params", "read_only"}
_GENERATORS = {"int_range", "choice", "sample", "zipf"}


@dataclass(frozen=True)
class Generator:
    """One parameter's generator; ``values`` filled from ``query`` when bound."""

    kind: str
    values: tuple[Any, ...] = ()
    query: str | None = None
    exponent: float = 1.0

    def bound(self, values: Sequence[Any]) -> Generator:
        return Generator(self.kind, tuple(values), None, self.exponent)

    def draw(self, rng: random.Random, cumulative: Sequence[float]) -> Any:
        if self.kind == "int_range":
            return rng.randint(self.values[0], self.values[1])
        if self.kind == "zipf":
            return rng.choices(self.values, cum_weights=cumulative)[0]
        return rng.choice(self.values)

    def compile(self) -> Callable[[random.Random], Any]:
        """A draw with everything but the random number worked out once."""
        values = self.values
        if self.kind == "int_range":
            low, span = values[0], values[1] - values[0] + 1
            if span > 2**48:  # random() has 53 bits: keep every value reachable
                high = values[1]
                return lambda rng: rng.randint(low, high)
            return lambda rng: low + int(rng.random() * span)
        if self.kind == "zipf":
            cumulative = _zipf_cumulative(len(values), self.exponent)
            total, last = cumulative[-1], len(values) - 1
            return lambda rng: values[
                min(bisect(cumulative, rng.random() * total), last)
            ]
        count = len(values)
        return lambda rng: values[int(rng.random() * count)]


@dataclass(frozen=True)
class SqlAction:
    name: str
    weight: float
    sql: str
    params: Mapping[str, Generator]
    read_only: bool


@dataclass(frozen=True)
class SqlScenario:
    name: str
    actions: Mapping[str, SqlAction]
    think_ms: float | None = None
    autocommit: bool = True

    @property
    def weights(self) -> Mapping[str, float]:
        return {name: a.weight for name, a in self.actions.items()}

    @property
    def read_only(self) -> frozenset[str]:
        return frozenset(n for n, a in self.actions.items() if a.read_only)

    @property
    def writes(self) -> bool:
        return len(self.read_only) < len(self.actions)

    async def bind(
        self,
        pool: AsyncConnectionPool[Any],
        cache: LRUCache[Any],
        read_pool: AsyncConnectionPool[Any] | None = None,
    ) -> Runner:
        actions = {}
        async with pool.connection() as conn:
            for name, action in self.actions.items():
                params = {}
                for key, gen in action.params.items():
                    if gen.query is not None:
                        rows = await (await conn.execute(gen.query)).fetchall()
                        if not rows:
                            raise ScenarioError(
                                f"{self.name}: actions.{name}.params.{key}: "
                                "the query returned no rows"
                            )
                        gen = gen.bound([row[0] for row in rows])
                    params[key] = gen
                actions[name] = SqlAction(
                    name, action.weight, action.sql, params, action.read_only
                )
        return _SqlRunner(pool, actions, read_pool)


class _SqlRunner:
    def __init__(
        self,
        pool: AsyncConnectionPool[Any],
        actions: Mapping[str, SqlAction],
        read_pool: AsyncConnectionPool[Any] | None = None,
    ) -> None:
        self.pool = pool
        self.read_pool = read_pool or pool
        self.actions = actions
        self.cumulative = {
            (name, key): _zipf_cumulative(len(gen.values), gen.exponent)
            for name, action in actions.items()
            for key, gen in action.params.items()
            if gen.kind == "zipf"
        }

    async def run(self, action: str, rng: random.Random) -> None:
        spec = self.actions[action]
        params = {
            key: gen.draw(rng, self.cumulative.get((action, key), ()))
            for key, gen in spec.params.items()
        }
        pool = self.read_pool if spec.read_only else self.pool
        async with pool.connection() as conn:
            cur = await conn.execute(spec.sql, params)
            if cur.description is not None:
                await cur.fetchall()


def _zipf_cumulative(n: int, exponent: float) -> list[float]:
    return list(accumulate(1.0 / (rank**exponent) for rank in range(1, n + 1)))


def read_scenario(path: Path) -> SqlScenario:
    """Parse and check a scenario file; :class:`ScenarioError` says what is wrong."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror}") from exc
    data = _load_yaml(path, text) if path.suffix != ".toml" else _load_toml(path, text)
    return parse_scenario(data, str(path), default_name=path.stem)


def _load_toml(path: Path, text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: malformed TOML: {exc}") from exc


def _load_yaml(path: Path, text: str) -> dict[str, Any]:
    import yaml  # type: ignore[import-untyped]

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise ScenarioError(f"{path}: malformed YAML{where}: {problem}") from exc
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: must be a mapping with an 'actions' key")
    return data


def parse_scenario(
    data: Mapping[str, Any], origin: str, default_name: str = "scenario"
) -> SqlScenario:
    unknown = set(data) - {"name", "think_ms", "actions"}
    if unknown:
        raise ScenarioError(f"{origin}: unknown key {sorted(unknown)[0]!r}")
    actions = data.get("actions")
    if not isinstance(actions, dict) or not actions:
        raise ScenarioError(f"{origin}: no [actions.NAME] tables")
    think = data.get("think_ms")
    if think is not None and (not _is_number(think) or think < 0):
        raise ScenarioError(f"{origin}: think_ms must be a number >= 0")
    parsed = {
        name: _parse_action(f"{origin}: actions.{name}", name, spec)
        for name, spec in actions.items()
    }
    name = data.get("name", default_name)
    if not isinstance(name, str) or not name:
        raise ScenarioError(f"{origin}: name must be a non-empty string")
    return SqlScenario(name, parsed, None if think is None else float(think))


def _parse_action(where: str, name: str, spec: Any) -> SqlAction:
    if not isinstance(spec, dict):
        raise ScenarioError(f"{where}: must be a table")
    unknown = set(spec) - _ACTION_KEYS
    if unknown:
        raise ScenarioError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    weight = spec.get("weight", 1)
    if not _is_number(weight) or weight <= 0:
        raise ScenarioError(f"{where}: weight must be a number > 0")
    text = spec.get("sql")
    if not isinstance(text, str) or not text.strip():
        raise ScenarioError(f"{where}: sql must be a non-empty string")
    raw = spec.get("params", {})
    if not isinstance(raw, dict):
        raise ScenarioError(f"{where}: params must be a table")
    params = {
        key: _parse_generator(f"{where}.params.{key}", g) for key, g in raw.items()
    }
    missing = set(_PLACEHOLDER.findall(text)) - set(params)
    if missing:
        raise ScenarioError(f"{where}: no generator for %({sorted(missing)[0]})s")
    check_sql(where, text)
    read_only = spec.get("read_only", text.lstrip().lower().startswith("select"))
    if not isinstance(read_only, bool):
        raise ScenarioError(f"{where}: read_only must be true or false")
    return SqlAction(name, float(weight), text, params, read_only)


def _parse_generator(where: str, spec: Any) -> Generator:
    if not isinstance(spec, dict):
        raise ScenarioError(
            f"{where}: must be a table such as {{ int_range = [1, 9] }}"
        )
    kinds = set(spec) & _GENERATORS
    extra = set(spec) - _GENERATORS - {"exponent"}
    if extra:
        raise ScenarioError(
            f"{where}: unknown generator {sorted(extra)[0]!r}; "
            f"use one of {', '.join(sorted(_GENERATORS))}"
        )
    if len(kinds) != 1:
        raise ScenarioError(
            f"{where}: needs exactly one of {', '.join(sorted(_GENERATORS))}"
        )
    kind = kinds.pop()
    value = spec[kind]
    if kind == "int_range":
        ok = isinstance(value, list) and len(value) == 2
        ok = ok and all(isinstance(v, int) for v in value) and value[0] <= value[1]
        if not ok:
            raise ScenarioError(f"{where}: int_range must be [low, high] integers")
        return Generator(kind, tuple(value))
    if kind == "choice":
        if not isinstance(value, list) or not value:
            raise ScenarioError(f"{where}: choice must be a non-empty list")
        return Generator(kind, tuple(value))
    if not isinstance(value, str) or not value.strip():
        raise ScenarioError(f"{where}: {kind} must be a SELECT returning values")
    exponent = spec.get("exponent", 1.0)
    if not _is_number(exponent) or exponent <= 0:
        raise ScenarioError(f"{where}: exponent must be a number > 0")
    return Generator(kind, (), value, float(exponent))


def numbered(text: str) -> tuple[str, tuple[str, ...]]:
    """The statement with ``$n`` placeholders, and the parameter names in order."""
    names: dict[str, int] = {}

    def placeholder(match: re.Match[str]) -> str:
        return f"${names.setdefault(match.group(1), len(names) + 1)}"

    return _PLACEHOLDER.sub(placeholder, text).replace("%%", "%"), tuple(names)


def check_sql(where: str, text: str) -> None:
    """One statement PostgreSQL can parse, else :class:`ScenarioError` at ``where``."""
    plain, _names = numbered(text)
    try:
        statements = pg_parser.parse_sql(plain)
    except pg_parser.ParseError as exc:
        reason = str(exc).rsplit(", at index", 1)[0]  # of the rewritten text
        raise ScenarioError(f"{where}: SQL syntax error: {reason}") from exc
    if len(statements) != 1:
        raise ScenarioError(f"{where}: sql must be exactly one statement")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
