"""A collection session: connections kept between cycles, reopened after a loss.

The repository's state of the target (previous counters, stored texts, relation
names) is kept in memory between cycles and read back after a reconnect.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any

import psycopg

from pgwarden import pg
from pgwarden.collect.cycle import CollectOptions, CycleResult, collect_once
from pgwarden.collect.partitions import apply_retention
from pgwarden.collect.state import State
from pgwarden.config import CollectSettings
from pgwarden.errors import ConnectionFailed, TargetError

logger = logging.getLogger(__name__)

RETENTION_EVERY = timedelta(hours=1)


class CycleFailed(TargetError):
    """A collection cycle failed; the next cycle reconnects and continues."""


class Collector:
    """Cycles of one target; a failed cycle is reported and the next one reconnects."""

    def __init__(
        self,
        target_dsn: str,
        repository_dsn: str,
        target_name: str,
        *,
        settings: CollectSettings | None = None,
        statement_timeout_ms: int = 5000,
        options: CollectOptions | None = None,
    ) -> None:
        self.target_dsn = target_dsn
        self.repository_dsn = repository_dsn
        self.target_name = target_name
        self.settings = settings or CollectSettings()  # type: ignore[call-arg]
        self.statement_timeout_ms = statement_timeout_ms
        self.options = options or CollectOptions(text_limit=self.settings.text_limit)
        self.state = State()
        self.target: psycopg.Connection[Any] | None = None
        self.repository: psycopg.Connection[Any] | None = None
        self._retention_at: datetime | None = None

    def _connections(self) -> tuple[psycopg.Connection[Any], psycopg.Connection[Any]]:
        if self.target is None or self.target.closed:
            self.target = pg.connect(
                self.target_dsn, statement_timeout_ms=self.statement_timeout_ms
            )
        if self.repository is None or self.repository.closed:
            self.repository = pg.connect(self.repository_dsn, statement_timeout_ms=None)
        return self.target, self.repository

    def cycle(self) -> CycleResult:
        """One cycle; :class:`CycleFailed` (one line) when a connection was lost."""
        try:
            target, repository = self._connections()
            result = collect_once(
                target, repository, self.target_name, self.options, self.state
            )
            self._retention(repository, result.ts)
        except ConnectionFailed as exc:
            self.close()
            raise CycleFailed(
                f"collection cycle of {self.target_name} failed: {exc}; "
                "the next cycle reconnects"
            ) from exc
        except psycopg.Error as exc:
            self.close()
            reason = exc.diag.message_primary or str(exc).strip().splitlines()[0]
            raise CycleFailed(
                f"collection cycle of {self.target_name} failed: {reason}; "
                "the next cycle reconnects"
            ) from exc
        return result

    def _retention(self, repository: psycopg.Connection[Any], now: datetime) -> None:
        if self._retention_at is None or now - self._retention_at >= RETENTION_EVERY:
            apply_retention(repository, now, self.settings)
            self._retention_at = now

    def close(self) -> None:
        self.state.forget()
        for conn in (self.target, self.repository):
            if conn is not None:
                conn.close()
        self.target = self.repository = None

    def __enter__(self) -> Collector:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
