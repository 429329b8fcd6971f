"""A streaming physical standby of a running embedded primary.

    primary = EmbeddedServer(Path("/tmp/primary"))
    primary.start()
    with EmbeddedReplica.of(primary, Path("/tmp/standby")) as replica:
        conn = psycopg.connect(replica.dsn("app"))   # read-only, hot standby
        replica.wait_replayed()                      # everything written is visible
        replica.pause_replay()                       # make it fall behind on purpose

The standby is cloned with ``pg_basebackup -R -X stream -C -S SLOT`` through a
physical replication slot, runs from the primary's binaries as the same system user
(``postgres`` when root starts it), listens on its own free loopback port and
streams from the primary under ``application_name`` = :attr:`EmbeddedReplica.name`
(shown in the primary's ``pg_stat_replication``). Entering the context starts it
and waits until it streams; leaving stops it and drops the slot (the files stay in
``data_dir``). :meth:`EmbeddedReplica.stop` then :meth:`EmbeddedReplica.start` keep the
slot and resume streaming from the files; a start whose slot is gone (after the
context, or :meth:`EmbeddedReplica.remove`) clones afresh. Never promoted: it is a read
replica.

The password reaches ``pg_basebackup`` and the walreceiver through a 0600 passfile in
``data_dir``, never on a command line. The primary needs ``wal_level=replica``,
WAL senders, slots and a ``host replication`` line, which
:mod:`pgwarden.embedded_conf` writes at every start.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import psycopg

from pgwarden import pg
from pgwarden.embedded import SUPERUSER, EmbeddedServer, ServerState, free_port
from pgwarden.errors import EmbeddedServerError

logger = logging.getLogger(__name__)

WAIT_TIMEOUT_S = 60.0
_POLL_S = 0.1


class EmbeddedReplica:
    """A hot standby of ``primary`` in ``data_dir`` (same layout as the primary's)."""

    def __init__(
        self,
        primary: EmbeddedServer,
        data_dir: Path,
        *,
        name: str | None = None,
        overrides: dict[str, str] | None = None,
        timeout_s: float = WAIT_TIMEOUT_S,
    ) -> None:
        """``overrides``: settings of the standby on top of the primary's overrides
        (settings such as ``max_connections`` must not be below the primary's)."""
        self.primary = primary
        self.server = EmbeddedServer(
            data_dir,
            pg_bin=primary.pg_bin,
            overrides={**primary.overrides, **(overrides or {})},
        )
        digest = hashlib.sha1(str(self.server.data_dir).encode()).hexdigest()[:10]
        #: application_name on the primary and the replication slot's name
        self.name = name or f"pgwarden_standby_{digest}"
        self.timeout_s = timeout_s

    @classmethod
    def of(
        cls,
        primary: EmbeddedServer,
        data_dir: Path,
        *,
        name: str | None = None,
        overrides: dict[str, str] | None = None,
        timeout_s: float = WAIT_TIMEOUT_S,
    ) -> EmbeddedReplica:
        """A replica of the running ``primary``; ``with`` starts and removes it."""
        return cls(
            primary, data_dir, name=name, overrides=overrides, timeout_s=timeout_s
        )

    # -- where ---------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        return self.server.data_dir

    @property
    def slot(self) -> str:
        return self.name

    @property
    def port(self) -> int:
        state = self.server.state()
        if state is None:
            raise EmbeddedServerError(f"no replica in {self.data_dir}; start it")
        return state.port

    def dsn(self, dbname: str = "postgres") -> str:
        """Superuser DSN on the standby (the primary's password: it is a copy)."""
        return self.server.dsn(dbname)

    @property
    def _passfile(self) -> Path:
        return self.data_dir / ".pgpass"

    # -- lifecycle -----------------------------------------------------------
    def start(self) -> Self:
        """Clone the primary when needed, start, and wait until it streams."""
        if not self.server.initialised() or not self._slot_exists():
            self.server.stop()
            self._clone()
        self.server.start()
        self.wait_streaming()
        return self

    def stop(self) -> bool:
        """Stop the standby (fast shutdown); False when it was not running."""
        return self.server.stop()

    def remove(self, *, delete_files: bool = False) -> None:
        """Stop, drop the slot on the primary, optionally delete ``data_dir``."""
        self.stop()
        self._drop_slot()
        if delete_files:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.remove()

    # -- replication ---------------------------------------------------------
    def wait_streaming(self, timeout_s: float | None = None) -> None:
        """Until the primary's ``pg_stat_replication`` shows this standby streaming."""
        query = "SELECT state FROM pg_stat_replication WHERE application_name = %s"

        def streaming() -> bool:
            with self._primary() as conn:
                row = conn.execute(query, [self.name]).fetchone()
            return row is not None and row[0] == "streaming"

        self._wait(streaming, "streaming", timeout_s)

    def wait_replayed(self, timeout_s: float | None = None) -> None:
        """Until the standby has replayed everything the primary has written so far."""
        with self._primary() as conn:
            row = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
        target = row[0] if row else "0/0"
        query = "SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), %s::pg_lsn) >= 0"

        def replayed() -> bool:
            with self._standby() as conn:
                done = conn.execute(query, [target]).fetchone()
            return bool(done and done[0])

        self._wait(replayed, f"replay of {target}", timeout_s)

    def pause_replay(self) -> None:
        """Stop applying WAL (it still arrives): the standby falls behind."""
        with self._standby() as conn:
            conn.execute("SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        with self._standby() as conn:
            conn.execute("SELECT pg_wal_replay_resume()")

    # -- internals -----------------------------------------------------------
    def _clone(self) -> None:
        primary = self.primary.state()
        if primary is None or self.primary.pid() is None:
            raise EmbeddedServerError(
                f"the primary in {self.primary.data_dir} is not running; start it"
            )
        server = self.server
        server.data_dir.mkdir(parents=True, exist_ok=True)
        server.data_dir.chmod(0o711)
        if server.pgdata.exists():
            shutil.rmtree(server.pgdata)
        server.pgdata.mkdir(mode=0o700)
        bin_dir = Path(primary.bin_dir)
        server._runas.grant(server.pgdata, bin_dir)
        self._write_passfile(primary)
        self._drop_slot()  # a slot left by an earlier clone of this directory
        conninfo = (
            f"host=127.0.0.1 port={primary.port} user={SUPERUSER} "
            f"passfile={self._passfile} application_name={self.name}"
        )
        logger.info("cloning the primary", extra={"replica": self.name})
        server._run(
            [str(bin_dir / "pg_basebackup"), "-D", str(server.pgdata), "-d", conninfo,
             "-R", "-X", "stream", "-C", "-S", self.slot, "-c", "fast",
             "--no-sync"],
        )  # fmt: skip
        server._save_state(ServerState(free_port(), primary.password, str(bin_dir)))

    def _write_passfile(self, primary: ServerState) -> None:
        entry = f"127.0.0.1:{primary.port}:*:{SUPERUSER}:"
        escaped = primary.password.replace("\\", "\\\\").replace(":", "\\:")
        self._passfile.write_text(entry + escaped + "\n")
        self._passfile.chmod(0o600)
        self.server._runas.chown(self._passfile)

    def _slot_exists(self) -> bool:
        query = "SELECT 1 FROM pg_replication_slots WHERE slot_name = %s"
        with self._primary() as conn:
            return conn.execute(query, [self.slot]).fetchone() is not None

    def _drop_slot(self) -> None:
        """Drop the slot once its walsender is gone (it lingers after a stop)."""
        if self.primary.pid() is None:
            return
        query = "SELECT active FROM pg_replication_slots WHERE slot_name = %s"

        def inactive() -> bool:
            with self._primary() as conn:
                row = conn.execute(query, [self.slot]).fetchone()
                if row is None:
                    return True
                if row[0]:
                    return False
                conn.execute("SELECT pg_drop_replication_slot(%s)", [self.slot])
            return True

        self._wait(inactive, f"drop of slot {self.slot}", None)

    def _primary(self) -> psycopg.Connection[Any]:
        return pg.MarkedConnection.connect(
            self.primary.dsn(), autocommit=True, connect_timeout=10
        )

    def _standby(self) -> psycopg.Connection[Any]:
        return pg.MarkedConnection.connect(
            self.dsn(), autocommit=True, connect_timeout=10
        )

    def _wait(
        self, done: Callable[[], bool], what: str, timeout_s: float | None
    ) -> None:
        deadline = time.monotonic() + (timeout_s or self.timeout_s)
        while not done():
            if time.monotonic() > deadline:
                raise EmbeddedServerError(
                    f"replica {self.name}: no {what} after "
                    f"{timeout_s or self.timeout_s:g} s"
                )
            time.sleep(_POLL_S)
