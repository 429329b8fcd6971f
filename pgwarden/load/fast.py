"""The fast path for SQL scenarios: asyncpg, prepared statements, binary protocol.

A TOML/YAML scenario's statements are prepared once on every connection of a
light pool of asyncpg connections (:class:`FastPool`), and each action is then one
``Bind``/``Execute`` in the binary protocol. Everything that does not depend on
the random draw is worked out when the scenario is bound: the ``$n`` statement,
the parameter generators (:meth:`~pgwarden.load.sqlfile.Generator.compile`), the
action picker. The pool is metered like :class:`~pgwarden.load.pool.MeteredPool`
(wait per acquisition, connection-seconds in use) from the timestamps the
engine takes anyway.

The fast path is used when the scenario is a SQL file, asyncpg is installed, the
DSN says nothing asyncpg cannot honour, and every generator's values fit the
types the server infers for the statement's parameters (asyncpg encodes by the
parameter's type; psycopg lets the server cast). Otherwise :func:`open_fast`
says why and the engine runs the scenario through psycopg's pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from bisect import bisect
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from psycopg import ProgrammingError
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import PoolTimeout

from pgwarden.load.contract import ScenarioError
from pgwarden.load.histogram import Histogram
from pgwarden.load.sqlfile import Generator, SqlScenario, numbered

Connect = Callable[[], Awaitable[Any]]
Draw = Callable[[random.Random], Any]

#: libpq keywords asyncpg honours the same way; any other keeps psycopg
_KEYWORDS = {
    "host",
    "port",
    "user",
    "password",
    "dbname",
    "sslmode",
    "connect_timeout",
    "application_name",
}
_SSLMODES = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}
_INT_RANGES = {
    "int2": (-(2**15), 2**15 - 1),
    "int4": (-(2**31), 2**31 - 1),
    "int8": (-(2**63), 2**63 - 1),
    "oid": (0, 2**32 - 1),
}
_FLOATS = {"float4", "float8", "numeric"}
_TEXTS = {"text", "varchar", "bpchar", "name", "json", "jsonb"}


class NotFast(Exception):
    """Why a scenario cannot take the fast path (it then runs through psycopg)."""


def connect_options(dsn: str) -> dict[str, Any]:
    """asyncpg.connect keyword arguments for a libpq DSN, else :class:`NotFast`."""
    try:
        params = conninfo_to_dict(dsn)
    except ProgrammingError as exc:
        raise NotFast("the DSN is not one asyncpg can read") from exc
    other = sorted(set(params) - _KEYWORDS)
    if other:
        raise NotFast(f"the DSN sets {other[0]!r}, which asyncpg does not take")
    options: dict[str, Any] = {}
    host = params.get("host")
    if host is not None:
        if "," in str(host):
            raise NotFast("the DSN names several hosts")
        options["host"] = str(host)
    if params.get("port") is not None:
        try:
            options["port"] = int(str(params["port"]))
        except ValueError as exc:
            raise NotFast("the DSN's port is not a number") from exc
    for key, name in (
        ("user", "user"),
        ("password", "password"),
        ("dbname", "database"),
    ):
        if params.get(key) is not None:
            options[name] = str(params[key])
    mode = params.get("sslmode")
    if mode is not None:
        if mode not in _SSLMODES:
            raise NotFast(f"sslmode {mode!r}")
        options["ssl"] = str(mode)
    if params.get("connect_timeout") is not None:
        try:
            options["timeout"] = max(1.0, float(str(params["connect_timeout"])))
        except ValueError as exc:
            raise NotFast("the DSN's connect_timeout is not a number") from exc
    return options


@dataclass(frozen=True)
class FastAction:
    """One action as the fast loop runs it."""

    index: int
    name: str
    sql: str
    draws: tuple[Draw, ...]
    read_only: bool

    def args(self, rng: random.Random) -> list[Any]:
        return [draw(rng) for draw in self.draws]


def picker(weights: Sequence[float]) -> Callable[[random.Random], int]:
    """Index of a weighted choice from one random number."""
    if len(weights) == 1:
        return lambda rng: 0
    cumulative = list(accumulate(weights))
    total, last = cumulative[-1], len(weights) - 1
    return lambda rng: min(bisect(cumulative, rng.random() * total), last)


class Slot:
    """One pooled connection and its prepared statements, by action index:
    ``run[i](args)`` executes action ``i``'s statement and reads all its rows."""

    __slots__ = ("conn", "run")

    def __init__(self) -> None:
        self.conn: Any = None
        self.run: dict[int, Callable[[list[Any]], Awaitable[Any]]] = {}

    async def open(self, connect: Connect, actions: Sequence[FastAction]) -> None:
        self.conn = await connect()
        self.run = {
            a.index: _executor(self.conn, await self.conn.prepare(a.sql))
            for a in actions
        }


def _executor(conn: Any, stmt: Any) -> Callable[[list[Any]], Awaitable[Any]]:
    """Bind-and-execute of a prepared statement, straight on the connection's
    protocol (what ``PreparedStatement.fetch`` does under its wrappers, a
    quarter of the client's time per query); the public call where the
    protocol is not there to take it."""
    protocol = getattr(conn, "_protocol", None)
    state = getattr(stmt, "_state", None)
    bind = getattr(protocol, "bind_execute", None)
    if bind is None or state is None:
        return lambda args: stmt.fetch(*args)  # pragma: no cover - other asyncpg

    def run(args: list[Any], _keep: Any = stmt) -> Awaitable[Any]:
        # _keep: the statement object must outlive its use, as asyncpg closes
        # the server's prepared statement when the object is collected
        return bind(state, args, "", 0, True, None)  # type: ignore[no-any-return]

    return run


class FastPool:
    """A fixed set of asyncpg connections with the metering of MeteredPool."""

    def __init__(
        self, size: int, timeout: float, connect: Connect, actions: Sequence[FastAction]
    ) -> None:
        self.size = size
        self.timeout = timeout
        self.connect = connect
        self.actions = actions
        self.free: list[Slot] = []
        self.slots: list[Slot] = []
        self.waiters: deque[asyncio.Future[Slot]] = deque()
        self.acquire_wait = Histogram()
        self.recording = False
        self.in_use = 0
        self.waiting = 0
        self.peak_waiting = 0
        self.waits: dict[int, int] = {}
        self.no_wait = 0  # acquisitions that found a free connection (recorded)
        self._busy = 0.0
        self._changed = time.monotonic()
        self._repairs: set[asyncio.Task[None]] = set()

    async def open(self) -> None:
        self.slots = [Slot() for _ in range(self.size)]
        try:
            await asyncio.gather(
                *(s.open(self.connect, self.actions) for s in self.slots)
            )
        except BaseException:
            await self.close()
            raise
        self.free = list(self.slots)

    async def close(self) -> None:
        for task in self._repairs:
            task.cancel()
        for slot in self.slots:
            if slot.conn is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(slot.conn.close(), 5)

    # -- the fast loop's side ----------------------------------------------------
    def take(self, now: float) -> Slot | None:
        """A free connection at once, or None (then :meth:`wait`)."""
        if self.free:
            self._busy += self.in_use * (now - self._changed)
            self._changed = now
            self.in_use += 1
            if self.recording:
                self.no_wait += 1
            return self.free.pop()
        return None

    async def wait(self, since: float) -> Slot:
        """Queue for a connection; :class:`PoolTimeout` after ``timeout``."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Slot] = loop.create_future()
        self.waiters.append(future)
        self.waiting += 1
        self.peak_waiting = (
            max(self.peak_waiting, self.waiting) if self.recording else 0
        )
        expiry = loop.call_later(self.timeout, _expire, future, self.timeout)
        try:
            return await future
        finally:
            expiry.cancel()
            self.waiting -= 1
            if self.recording:
                micros = int((time.monotonic() - since) * 1e6)
                self.waits[micros] = self.waits.get(micros, 0) + 1

    def give(self, slot: Slot, now: float, broken: bool = False) -> None:
        self._busy += self.in_use * (now - self._changed)
        self._changed = now
        self.in_use -= 1
        if broken and (slot.conn is None or slot.conn.is_closed()):
            task = asyncio.get_running_loop().create_task(self._repair(slot))
            self._repairs.add(task)
            task.add_done_callback(self._repairs.discard)
        elif self.waiters:
            self._hand(slot, now)
        else:
            self.free.append(slot)

    def _hand(self, slot: Slot, now: float) -> None:
        while self.waiters:
            future = self.waiters.popleft()
            if not future.done():
                self._account(1, now)
                future.set_result(slot)
                return
        self.free.append(slot)

    async def _repair(self, slot: Slot) -> None:
        """Reconnect a connection the server closed, then give it back."""
        while True:
            try:
                await slot.open(self.connect, self.actions)
            except Exception:
                await asyncio.sleep(1.0)
            else:
                self._hand(slot, time.monotonic())
                return

    # -- metering ----------------------------------------------------------------
    def busy_seconds(self) -> float:
        """Connection-seconds spent in use since the pool was created."""
        return self._busy + self.in_use * (time.monotonic() - self._changed)

    def flush(self) -> None:
        waits, self.waits = self.waits, {}
        if self.no_wait:
            waits[0] = waits.get(0, 0) + self.no_wait
            self.no_wait = 0
        for micros, n in waits.items():
            self.acquire_wait.record(micros, n)

    def _account(self, delta: int, now: float) -> None:
        self._busy += self.in_use * (now - self._changed)
        self._changed = now
        self.in_use += delta


def _expire(future: asyncio.Future[Slot], timeout: float) -> None:
    if not future.done():
        future.set_exception(PoolTimeout(f"no connection in {timeout:g} s"))


@dataclass
class FastBinding:
    """A scenario bound to its fast pools: what the fast loops need."""

    actions: list[FastAction]
    pools: list[FastPool]  # by action index
    pick: Callable[[random.Random], int]
    primary: FastPool
    replica: FastPool | None

    async def close(self) -> None:
        for pool in (self.primary, self.replica):
            if pool is not None:
                await pool.close()


async def open_fast(
    scenario: SqlScenario,
    dsn: str,
    size: int,
    timeout: float,
    settings: dict[str, str],
    replica: tuple[str, int] | None = None,
) -> FastBinding:
    """Bind ``scenario`` to asyncpg pools; :class:`NotFast` when it cannot be."""
    try:
        import asyncpg  # type: ignore[import-untyped]
    except ImportError as exc:  # pragma: no cover - asyncpg is a dependency
        raise NotFast("asyncpg is not installed") from exc
    options = connect_options(dsn)
    replica_options = None if replica is None else connect_options(replica[0])

    def connector(opts: dict[str, Any]) -> Connect:
        async def connect() -> Any:
            return await asyncpg.connect(**opts, server_settings=settings)

        return connect

    first = await connector(options)()
    try:
        actions = await _compile(first, scenario)
    finally:
        await first.close()
    if replica_options is None:
        read_only: list[FastAction] = []
        writes = actions
    else:
        read_only = [a for a in actions if a.read_only]
        writes = [a for a in actions if not a.read_only]
    primary = FastPool(size, timeout, connector(options), writes or actions[:1])
    reader = None
    if replica is not None and replica_options is not None and read_only:
        reader = FastPool(replica[1], timeout, connector(replica_options), read_only)
    try:
        await primary.open()
        if reader is not None:
            await reader.open()
    except BaseException:
        await primary.close()
        raise
    pools = [reader if reader is not None and a.read_only else primary for a in actions]
    weights = [scenario.actions[a.name].weight for a in actions]
    return FastBinding(actions, pools, picker(weights), primary, reader)


async def _compile(conn: Any, scenario: SqlScenario) -> list[FastAction]:
    """Prepare each statement once to learn its parameter types; fetch query
    generators' values; check every value fits its parameter."""
    made: list[FastAction] = []
    for index, (name, action) in enumerate(scenario.actions.items()):
        text, names = numbered(action.sql)
        try:
            stmt = await conn.prepare(text)
        except Exception as exc:
            raise NotFast(f"actions.{name}: cannot prepare: {exc}") from exc
        types = [t.name for t in stmt.get_parameters()]
        draws: list[Draw] = []
        for key, type_name in zip(names, types, strict=True):
            gen = action.params[key]
            source: str | None = None
            if gen.query is not None:
                gen, source = await _fetch(conn, scenario.name, name, key, gen)
            where = f"actions.{name}.params.{key}"
            _check(where, gen, type_name, source)
            draws.append(gen.compile())
        made.append(FastAction(index, name, text, tuple(draws), action.read_only))
    return made


async def _fetch(
    conn: Any, scenario: str, action: str, key: str, gen: Generator
) -> tuple[Generator, str | None]:
    assert gen.query is not None
    stmt = await conn.prepare(gen.query)
    rows = await stmt.fetch()
    if not rows:
        raise ScenarioError(
            f"{scenario}: actions.{action}.params.{key}: the query returned no rows"
        )
    attributes = stmt.get_attributes()
    column = attributes[0].type.name if attributes else None
    return gen.bound([row[0] for row in rows]), column


def _check(where: str, gen: Generator, type_name: str, column: str | None) -> None:
    for value in gen.values:
        if not _fits(value, type_name, column):
            raise NotFast(
                f"{where}: {type(value).__name__} value for a {type_name} parameter"
            )


def _fits(value: Any, type_name: str, column: str | None) -> bool:
    if isinstance(value, bool):
        return type_name == "bool"
    if isinstance(value, int):
        if type_name in _INT_RANGES:
            low, high = _INT_RANGES[type_name]
            return low <= value <= high
        return type_name in _FLOATS
    if isinstance(value, float):
        return type_name in {"float4", "float8"}
    if isinstance(value, str):
        return type_name in _TEXTS
    return column is not None and column == type_name
