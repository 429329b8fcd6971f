"""A value read at most every so often, served stale while it is read again.

For the dashboard's figures that take longer to read than a page may wait (the
index health of a large catalog, a capacity baseline over months of history, the
maintenance plan): the first request waits for the value, later ones get it at
once, and once it is older than its time to live one thread reads it again while
the old value is still served. Each answer says when its value was read.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)


class Reused:
    """A value read at most every ``ttl`` seconds: the first read waits, a stale
    value is served while a thread reads the next, so a page never waits on it."""

    def __init__(self, read: Callable[[], Any], ttl: float) -> None:
        self._read, self._ttl = read, ttl
        self._lock, self._first = threading.Lock(), threading.Lock()
        self._value: Any = None
        self._at = 0.0
        self._busy = False

    def get(self) -> Any:
        with self._lock:
            if self._value is not None:
                if time.monotonic() - self._at > self._ttl and not self._busy:
                    self._busy = True
                    threading.Thread(target=self._reload, daemon=True).start()
                return self._value
        with self._first:  # the first reads of concurrent requests wait for one
            if self._value is None:
                self._store(self._read())
            return self._value

    def forget(self) -> None:
        with self._lock:
            self._value = None

    def _store(self, value: Any) -> None:
        with self._lock:
            self._value, self._at = value, time.monotonic()

    def _reload(self) -> None:
        try:
            self._store(self._read())
        except Exception:
            logger.warning(
                "reading again failed; the last value is kept", exc_info=True
            )
        finally:
            with self._lock:
                self._busy = False
                self._at = max(self._at, time.monotonic() - self._ttl / 2)
