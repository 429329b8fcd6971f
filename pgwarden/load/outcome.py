"""How an action ended: ok, or one of four error classes."""

from __future__ import annotations

from typing import Literal

from psycopg import errors as pgerrors
from psycopg_pool import PoolTimeout

ErrorClass = Literal["timeout", "pool_exhausted", "serialization", "other"]
ERROR_CLASSES: tuple[ErrorClass, ...] = (
    "timeout",
    "pool_exhausted",
    "serialization",
    "other",
)
# SQLSTATEs of the classes, for drivers whose errors are not psycopg's (asyncpg)
_TIMEOUT_STATES = frozenset({"57014", "55P03"})  # query_canceled, lock_not_available
_SERIALIZATION_STATES = frozenset({"40001", "40P01"})  # serialization, deadlock


def classify(exc: BaseException) -> ErrorClass:
    """``pool_exhausted`` when no connection came in time; ``timeout`` when a
    statement or lock timeout cancelled it; ``serialization`` for serialization
    failures and deadlocks (the retryable ones); ``other`` for the rest."""
    if isinstance(exc, PoolTimeout):
        return "pool_exhausted"
    if isinstance(exc, pgerrors.QueryCanceled | pgerrors.LockNotAvailable):
        return "timeout"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, pgerrors.SerializationFailure | pgerrors.DeadlockDetected):
        return "serialization"
    state = getattr(exc, "sqlstate", None)
    if state in _TIMEOUT_STATES:
        return "timeout"
    if state in _SERIALIZATION_STATES:
        return "serialization"
    return "other"
