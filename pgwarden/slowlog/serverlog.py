"""Incremental ingestion of the server log (jsonlog or csvlog files).

For each file the repository remembers, per target, how many bytes were read and a
digest of the file's first bytes. Each cycle reads only complete records after that
offset. A new file (rotation) starts at zero; a file shorter than the offset, or whose
first bytes changed, was truncated or replaced and is read again from the start.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import psycopg

from pgwarden import pg
from pgwarden.slowlog import store
from pgwarden.slowlog.logparse import (
    LogEntry,
    LogFormat,
    parse_csv_record,
    parse_json_line,
    slow_statements,
)
from pgwarden.slowlog.model import classify_all
from pgwarden.slowlog.severity import DEFAULT_THRESHOLDS, Thresholds

if TYPE_CHECKING:
    from pgwarden.slowlog.param_values import Observer

logger = logging.getLogger(__name__)

SUFFIXES: dict[str, LogFormat] = {".json": "jsonlog", ".csv": "csvlog"}
BATCH_BYTES = 4 * 1024 * 1024
HEAD_BYTES = 256


@dataclass(frozen=True)
class LogIngest:
    """What one ingestion read and stored."""

    files: int
    bytes_read: int
    records: int
    stored: int


def log_files(path: Path) -> list[Path]:
    """The jsonlog/csvlog files of a directory (oldest first), or the file itself."""
    if not path.is_dir():
        return [path]
    found = [p for p in path.iterdir() if p.suffix in SUFFIXES and p.is_file()]
    return sorted(found, key=lambda p: (p.stat().st_mtime, p.name))


def detect_format(path: Path, head: bytes = b"") -> LogFormat:
    if path.suffix in SUFFIXES:
        return SUFFIXES[path.suffix]
    return "jsonlog" if head.lstrip().startswith(b"{") else "csvlog"


def records(
    lines: Iterable[bytes], fmt: LogFormat, *, tail: bool = False
) -> Iterator[tuple[bytes, int]]:
    """Complete records and their length in bytes.

    A last line without its newline is still being written: it is left for the next
    cycle unless ``tail`` (the stream has ended).
    """
    pending = b""
    for line in lines:
        if not line.endswith(b"\n") and not tail:
            return
        pending += line
        if fmt == "csvlog" and pending.count(b'"') % 2:
            continue  # a quoted field runs on to the next line
        yield pending, len(pending)
        pending = b""


def parse_record(raw: bytes, fmt: LogFormat) -> LogEntry | None:
    text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
    if not text.strip():
        return None
    return parse_json_line(text) if fmt == "jsonlog" else parse_csv_record(text)


def batches(
    lines: Iterable[bytes],
    fmt: LogFormat,
    *,
    tail: bool = False,
    limit: int = BATCH_BYTES,
) -> Iterator[tuple[list[LogEntry], int]]:
    """Parsed records in batches of about ``limit`` bytes, with the bytes consumed."""
    entries: list[LogEntry] = []
    size = 0
    for raw, length in records(lines, fmt, tail=tail):
        size += length
        entry = parse_record(raw, fmt)
        if entry is not None:
            entries.append(entry)
        if size >= limit:
            yield entries, size
            entries, size = [], 0
    if size:
        yield entries, size


def store_entries(
    conn: psycopg.Connection[Any],
    target_id: int,
    entries: Iterable[LogEntry],
    thresholds: Thresholds,
    retention_days: int = store.RETENTION_DAYS,
    observer: Observer | None = None,
) -> int:
    entries = list(entries)
    found = classify_all(slow_statements(entries), thresholds)
    stored = store.record(conn, target_id, found, thresholds=thresholds,
                          retention_days=retention_days)  # fmt: skip
    if observer is not None:  # categorical parameter values, in the same transaction
        observer.record(conn, target_id, observer.from_log(entries))
    return stored


def ingest_server_log(
    repo_conn: psycopg.Connection[Any],
    target_id: int,
    log_dir_or_file: str | Path,
    *,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    retention_days: int = store.RETENTION_DAYS,
    observer: Observer | None = None,
) -> LogIngest:
    """Read what is new in the log file(s) and store their slow statements.

    With an ``observer`` the categorical parameter values of every logged statement
    are counted too (:mod:`pgwarden.slowlog.param_values`).
    """
    totals = LogIngest(0, 0, 0, 0)
    for path in log_files(Path(log_dir_or_file)):
        result = _ingest_file(
            repo_conn, target_id, path, thresholds, retention_days, observer
        )
        totals = _add(totals, result)
    return totals


def _add(a: LogIngest, b: LogIngest) -> LogIngest:
    return LogIngest(
        a.files + b.files,
        a.bytes_read + b.bytes_read,
        a.records + b.records,
        a.stored + b.stored,
    )


def _ingest_file(
    conn: psycopg.Connection[Any],
    target_id: int,
    path: Path,
    thresholds: Thresholds,
    retention_days: int,
    observer: Observer | None = None,
) -> LogIngest:
    with path.open("rb") as stream:
        stat = os.fstat(stream.fileno())
        offset = _start_offset(conn, target_id, path, stream, stat)
        stream.seek(offset)
        fmt = detect_format(path, os.pread(stream.fileno(), HEAD_BYTES, 0))
        read = count = stored = 0
        for entries, size in batches(iter(stream.readline, b""), fmt):
            with conn.transaction():
                stored += store_entries(
                    conn, target_id, entries, thresholds, retention_days, observer
                )
                read, count = read + size, count + len(entries)
                state = [target_id, str(path), stat.st_ino, offset + read]
                digest = _digest(stream, offset + read)
                conn.execute(pg.query("slowlog", "save_file_state"), [*state, digest])
    return LogIngest(1, read, count, stored)


def _start_offset(
    conn: psycopg.Connection[Any],
    target_id: int,
    path: Path,
    stream: IO[bytes],
    stat: os.stat_result,
) -> int:
    key = [target_id, str(path), stat.st_ino]
    with pg.guarded("server log state (run pgwarden init)"):
        row = pg.fetch_one(conn, pg.query("slowlog", "file_state"), key)
    if row is None:
        return 0
    offset = int(row["read_bytes"])
    if offset > stat.st_size or row["head_digest"] != _digest(stream, offset):
        logger.info("log file truncated or replaced; reading it again: %s", path)
        return 0
    return offset


def _digest(stream: IO[bytes], offset: int) -> str:
    """A digest of the file's first bytes (up to ``offset``): its identity."""
    head = os.pread(stream.fileno(), min(offset, HEAD_BYTES), 0)
    return hashlib.blake2b(head, digest_size=16).hexdigest()


def ingest_stream(
    repo_conn: psycopg.Connection[Any],
    target_id: int,
    stream: IO[bytes],
    fmt: LogFormat | None = None,
    *,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    retention_days: int = store.RETENTION_DAYS,
    observer: Observer | None = None,
) -> LogIngest:
    """Ingest a whole stream (e.g. stdin) without remembering a position."""
    first = stream.readline()
    chosen = fmt or ("jsonlog" if first.lstrip().startswith(b"{") else "csvlog")
    lines = itertools.chain([first], iter(stream.readline, b""))
    read = count = stored = 0
    for entries, size in batches(lines, chosen, tail=True):
        stored += store_entries(
            repo_conn, target_id, entries, thresholds, retention_days, observer
        )
        read, count = read + size, count + len(entries)
    return LogIngest(0, read, count, stored)
