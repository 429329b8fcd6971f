"""The server log read through the connection: ``pg_ls_logdir()`` lists the
jsonlog/csvlog files, ``pg_read_binary_file()`` reads what is new in them.

Reading is incremental as for local files (:mod:`pgwarden.slowlog.serverlog`): the
repository keeps, per target and file, the bytes read and a digest of the file's
first bytes, so a truncated or replaced file is read again from its start. One call
fetches at most :data:`FETCH_BYTES`, and one cycle reads at most
:data:`CYCLE_BYTES` of a file; the rest waits for the next cycle.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

from pgwarden import pg
from pgwarden.skipped import Skipped
from pgwarden.slowlog import failures, store
from pgwarden.slowlog.serverlog import (
    HEAD_BYTES,
    MAX_RECORD_BYTES,
    LogIngest,
    add,
    batches,
    detect_format,
    lines_of,
    store_entries,
)
from pgwarden.slowlog.severity import DEFAULT_THRESHOLDS, Thresholds
from pgwarden.slowlog.source import server_path

if TYPE_CHECKING:
    from pgwarden.slowlog.param_values import Observer

Conn = psycopg.Connection[Any]

#: bytes one pg_read_binary_file call returns at most
FETCH_BYTES = 1024 * 1024
#: bytes of one file read in one cycle at most (more than the longest record)
CYCLE_BYTES = 4 * MAX_RECORD_BYTES
#: how a file read through the connection is keyed in the repository
KEY_PREFIX = "server:"


class RemoteFile(io.RawIOBase):
    """A server file from ``start`` to ``end``, fetched in bounded pieces."""

    def __init__(self, conn: Conn, path: str, start: int, end: int) -> None:
        super().__init__()
        self.conn, self.path, self.pos, self.end = conn, path, start, end

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        want = min(len(buffer), FETCH_BYTES, self.end - self.pos)
        if want <= 0:
            return 0
        data = read(self.conn, self.path, self.pos, want)
        buffer[: len(data)] = data
        self.pos += len(data)
        return len(data)


def read(conn: Conn, path: str, offset: int, length: int) -> bytes:
    """Up to ``length`` bytes of a server file; none when it is gone."""
    query = pg.query("slowlog", "read_log_file")
    row = pg.fetch_one(conn, query, [path, offset, length])
    data = None if row is None else row["data"]
    return bytes(data) if data is not None else b""


def ingest_remote_log(
    target_conn: Conn,
    repo_conn: Conn,
    target_id: int,
    server_dir: str,
    *,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    retention_days: int = store.RETENTION_DAYS,
    observer: Observer | None = None,
    database: str | None = None,
) -> LogIngest:
    """Read what is new in the server's log files, store their slow statements and
    count their errors by class (only those of ``database`` when given)."""
    with pg.guarded("server log through pg_ls_logdir"):
        files = pg.fetch_all(target_conn, pg.query("slowlog", "ls_logdir"))
    totals = LogIngest(0, 0, 0, 0)
    for row in files:
        path = server_path(server_dir, str(row["name"]))
        state = _State(repo_conn, target_id, path)
        result = _ingest(target_conn, state, int(row["size"]), thresholds,
                         retention_days, observer, database)  # fmt: skip
        totals = add(totals, result)
    failures.log_read(repo_conn, target_id)
    return totals


class _State:
    """A file's position in the repository."""

    def __init__(self, conn: Conn, target_id: int, path: str) -> None:
        self.conn, self.target_id, self.path = conn, target_id, path
        self.key = [target_id, KEY_PREFIX + path, 0]

    def load(self) -> tuple[int, str] | None:
        with pg.guarded("server log state (run pgwarden init)"):
            row = pg.fetch_one(self.conn, pg.query("slowlog", "file_state"), self.key)
        return None if row is None else (int(row["read_bytes"]), row["head_digest"])

    def save(self, offset: int, head: bytes) -> None:
        params = [*self.key, offset, digest(head, offset)]
        self.conn.execute(pg.query("slowlog", "save_file_state"), params)


def digest(head: bytes, offset: int) -> str:
    """A digest of the file's first bytes (up to ``offset``): its identity."""
    return hashlib.blake2b(head[: min(offset, HEAD_BYTES)], digest_size=16).hexdigest()


def _ingest(
    conn: Conn,
    state: _State,
    size: int,
    thresholds: Thresholds,
    retention_days: int,
    observer: Observer | None,
    database: str | None,
) -> LogIngest:
    saved = state.load()
    offset = 0 if saved is None else saved[0]
    if saved is not None and offset == size:
        return LogIngest(1, 0, 0, 0)
    head = read(conn, state.path, 0, HEAD_BYTES)
    if saved is not None and (offset > size or saved[1] != digest(head, offset)):
        offset = 0  # truncated or replaced: read again from the start
    end = min(size, offset + CYCLE_BYTES)
    fmt = detect_format(Path(state.path), head)
    stream = io.BufferedReader(RemoteFile(conn, state.path, offset, end), FETCH_BYTES)
    read_bytes = count = stored = 0
    skipped = Skipped()
    for entries, used in batches(lines_of(stream), fmt, skipped=skipped, start=offset):
        with state.conn.transaction():
            stored += store_entries(state.conn, state.target_id, entries, thresholds,
                                    retention_days, observer, skipped, database,
                                    count_errors=True)  # fmt: skip
            read_bytes, count = read_bytes + used, count + len(entries)
            state.save(offset + read_bytes, head)
    if read_bytes == 0 and end < size:  # one record longer than a cycle's read
        skipped.add(f"record longer than {CYCLE_BYTES} bytes at byte {offset}")
        read_bytes = end - offset
        with state.conn.transaction():
            state.save(end, head)
    name = state.path.rsplit("/", 1)[-1]
    reason = f"{skipped.reason} of {name}" if skipped.reason else None
    return LogIngest(1, read_bytes, count, stored, skipped.count, reason)
