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
    return "other"
