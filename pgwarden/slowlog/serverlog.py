"""Incremental ingestion of the server log (jsonlog or csvlog files).

For each file the repository remembers, per target, how many bytes were read and a
digest of the file's first bytes. Each cycle reads only complete records after that
offset. A new file (rotation) starts at zero; a file shorter than the offset, or whose
first bytes changed, was truncated or replaced and is read again from the start.

Anyone who can run a statement can write a log line, so no record stops the read: a
record that cannot be read (malformed, forged with absurd values, longer than
:data:`MAX_RECORD_BYTES`, a csvlog record cut short) is skipped, counted in
:attr:`LogIngest.skipped` with the first reason (never the record's text), and the
read goes on after it.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import logging
import os
import re
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import psycopg

from pgwarden import pg
from pgwarden.skipped import Skipped
from pgwarden.slowlog import failures, store
from pgwarden.slowlog.logparse import (
    BadLogRecord,
    LogEntry,
    LogFormat,
    csv_fields,
    duration_ms,
    parse_csv_record,
    parse_json_line,
    slow_statements,
)
from pgwarden.slowlog.model import Seen, classify_all
from pgwarden.slowlog.severity import DEFAULT_THRESHOLDS, Thresholds
from pgwarden.sqltext import is_marked

if TYPE_CHECKING:
    from pgwarden.slowlog.param_values import Observer

logger = logging.getLogger(__name__)

SUFFIXES: dict[str, LogFormat] = {".json": "jsonlog", ".csv": "csvlog"}
BATCH_BYTES = 4 * 1024 * 1024
HEAD_BYTES = 256
#: a longer record is skipped (and counted); no more of one is held in memory
MAX_RECORD_BYTES = 4 * 1024 * 1024
#: lines are read in pieces of at most this many bytes
LINE_BYTES = 64 * 1024
#: the start of a csvlog record: its timestamp and the comma after it
_CSV_START_RE = re.compile(rb"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? [^,\n]{0,64},")


@dataclass(frozen=True)
class LogIngest:
    """What one ingestion read and stored, and the records it skipped."""

    files: int
    bytes_read: int
    records: int
    stored: int
    skipped: int = 0
    #: why the first skipped record was skipped, and where (never its text)
    skip_reason: str | None = None

    def summary(self) -> str:
        """One line for the operator."""
        text = (
            f"read {self.records} log records ({self.bytes_read} bytes), "
            f"stored {self.stored} slow queries"
        )
        skipped = Skipped(self.skipped, self.skip_reason).summary("log record")
        return f"{text}; {skipped}" if skipped else text


@dataclass(frozen=True)
class Raw:
    """One record as read: its bytes (none when skipped), how many, and why skipped."""

    data: bytes
    size: int
    problem: str | None = None


@dataclass
class _Pending:
    """The record being assembled from pieces of lines."""

    chunks: list[bytes] = field(default_factory=list)
    size: int = 0
    quotes: int = 0
    #: where the first line that looks like a csvlog record's start begins
    restart: int | None = None
    at_line_start: bool = True
    too_long: bool = False

    @property
    def odd(self) -> bool:
        return self.quotes % 2 == 1

    def add(self, chunk: bytes, limit: int) -> None:
        self.size += len(chunk)
        self.quotes += chunk.count(b'"')
        self.at_line_start = chunk.endswith(b"\n")
        if self.size > limit and self.restart is None:
            self.chunks, self.too_long = [], True  # hold no more of it
        elif not self.too_long:
            self.chunks.append(chunk)

    def data(self) -> bytes:
        return b"".join(self.chunks)


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


def lines_of(stream: IO[bytes]) -> Iterator[bytes]:
    """The stream's lines, a long one in pieces of at most :data:`LINE_BYTES`."""
    return iter(lambda: stream.readline(LINE_BYTES), b"")


def records(
    lines: Iterable[bytes],
    fmt: LogFormat,
    *,
    tail: bool = False,
    limit: int = MAX_RECORD_BYTES,
) -> Iterator[Raw]:
    """Complete records (or skipped ones, with their problem) and their size.

    ``lines`` may come in pieces (:func:`lines_of`). A last line without its newline
    is still being written: it is left for the next cycle unless ``tail`` (the
    stream has ended). A csvlog record whose quotes do not close is cut short where
    a line that starts like a record begins, once it has run past ``limit`` or the
    stream has no more; what follows is read again as records.
    """
    source = _Refeed(lines)
    rec = _Pending()
    for chunk in source:
        csv_restart = (
            fmt == "csvlog" and rec.odd and rec.at_line_start
            and _CSV_START_RE.match(chunk) is not None
        )  # fmt: skip
        if csv_restart and rec.too_long:
            yield Raw(b"", rec.size, "csvlog record unfinished or too long")
            rec = _Pending()
        elif csv_restart and rec.restart is None:
            rec.restart = rec.size
        rec.add(chunk, limit)
        if rec.odd and rec.restart is not None and rec.size > limit:
            yield _cut(rec, source)
            rec = _Pending()
        elif rec.at_line_start and not (fmt == "csvlog" and rec.odd):
            if rec.restart is not None and not _fits(rec):
                yield _cut(rec, source)  # a cut record closed by the next one's quotes
            else:
                yield _whole(rec, limit)
            rec = _Pending()
    if rec.size and rec.odd and rec.restart is not None:
        yield _cut(rec, source)
        yield from records(source, fmt, tail=tail, limit=limit)
    elif rec.size and tail:
        yield _whole(rec, limit, unfinished=fmt == "csvlog" and rec.odd)


def _whole(rec: _Pending, limit: int, *, unfinished: bool = False) -> Raw:
    if rec.too_long or rec.size > limit:
        return Raw(b"", rec.size, f"record longer than {limit} bytes")
    if unfinished:
        return Raw(b"", rec.size, "csvlog record unfinished")
    return Raw(rec.data(), rec.size)


def _fits(rec: _Pending) -> bool:
    """The record is one csvlog record, not a cut one run into the next."""
    try:
        csv_fields(rec.data().decode("utf-8", errors="replace"))
    except BadLogRecord:
        return False
    return True


def _cut(rec: _Pending, source: _Refeed) -> Raw:
    """The unfinished record up to the line that starts like a record; the rest
    goes back to ``source``."""
    assert rec.restart is not None
    source.push(rec.data()[rec.restart :])
    return Raw(b"", rec.restart, "csvlog record unfinished")


class _Refeed:
    """Lines, after any bytes pushed back to be read again."""

    def __init__(self, lines: Iterable[bytes]) -> None:
        self._lines = iter(lines)
        self._again: deque[bytes] = deque()

    def push(self, data: bytes) -> None:
        self._again.extendleft(reversed(list(io.BytesIO(data))))

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self._again:
            return self._again.popleft()
        return next(self._lines)


def parse_record(
    raw: bytes, fmt: LogFormat, now: datetime | None = None
) -> LogEntry | None:
    """One record; None when blank, :class:`BadLogRecord` when it cannot be read
    (an absurd duration included)."""
    text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
    if fmt == "jsonlog":
        entry = parse_json_line(text, now)
    else:
        entry = parse_csv_record(text, now)
    if entry is not None:
        duration_ms(entry.message)
    return entry


def batches(
    lines: Iterable[bytes],
    fmt: LogFormat,
    *,
    tail: bool = False,
    limit: int = BATCH_BYTES,
    skipped: Skipped | None = None,
    start: int = 0,
    now: datetime | None = None,
) -> Iterator[tuple[list[LogEntry], int]]:
    """Parsed records in batches of about ``limit`` bytes, with the bytes consumed.

    A record that cannot be read is left out and counted in ``skipped``, with its
    offset (``start`` is the stream's offset in its file).
    """
    entries: list[LogEntry] = []
    size = 0
    for raw in records(lines, fmt, tail=tail):
        try:
            if raw.problem is not None:
                raise BadLogRecord(raw.problem)
            entry = parse_record(raw.data, fmt, now)
        except BadLogRecord as exc:
            if skipped is not None:
                skipped.add(f"{exc} at byte {start + size}")
            entry = None
        size += raw.size
        if entry is not None:
            entries.append(entry)
        if size >= limit:
            yield entries, size
            start, entries, size = start + size, [], 0
    if size:
        yield entries, size


def store_entries(
    conn: psycopg.Connection[Any],
    target_id: int,
    entries: Iterable[LogEntry],
    thresholds: Thresholds,
    retention_days: int = store.RETENTION_DAYS,
    observer: Observer | None = None,
    skipped: Skipped | None = None,
    database: str | None = None,
    *,
    count_errors: bool = False,
) -> int:
    """Store the slow statements of ``entries`` (only those of ``database`` when
    given); a statement that cannot be normalised or stored is left out and
    counted in ``skipped``. With ``count_errors`` the failed records are counted
    by class too (:mod:`pgwarden.slowlog.failures`), in the caller's transaction."""
    entries = [e for e in entries if database is None or e.database == database]
    if count_errors:
        failures.record_log(conn, target_id, failures.count(entries))
    skipped = skipped if skipped is not None else Skipped()
    workload = (s for s in slow_statements(entries, skipped) if not _pgwardens(s))
    found = classify_all(workload, thresholds, skipped)
    stored = store.record(conn, target_id, found, thresholds=thresholds,
                          retention_days=retention_days, skipped=skipped)  # fmt: skip
    if observer is not None:  # categorical parameter values, in the same transaction
        observer.record(conn, target_id, observer.from_log(entries))
    return stored


def _pgwardens(seen: Seen) -> bool:
    """pgwarden's own statement (its sessions, or its marker): never workload."""
    name = seen.application_name or ""
    own_session = name == pg.APPLICATION_NAME or name.startswith(
        pg.APPLICATION_NAME + "-"
    )
    return own_session or is_marked(seen.query)


def ingest_server_log(
    repo_conn: psycopg.Connection[Any],
    target_id: int,
    log_dir_or_file: str | Path,
    *,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    retention_days: int = store.RETENTION_DAYS,
    observer: Observer | None = None,
    database: str | None = None,
) -> LogIngest:
    """Read what is new in the log file(s), store their slow statements and count
    their errors by class (:mod:`pgwarden.slowlog.failures`).

    With an ``observer`` the categorical parameter values of every logged statement
    are counted too (:mod:`pgwarden.slowlog.param_values`); with a ``database`` only
    that database's statements and errors are kept.
    """
    totals = LogIngest(0, 0, 0, 0)
    for path in log_files(Path(log_dir_or_file)):
        result = _ingest_file(
            repo_conn, target_id, path, thresholds, retention_days, observer, database
        )
        totals = add(totals, result)
    failures.log_read(repo_conn, target_id)
    return totals


def add(a: LogIngest, b: LogIngest) -> LogIngest:
    """Two ingestions' totals."""
    return LogIngest(
        a.files + b.files,
        a.bytes_read + b.bytes_read,
        a.records + b.records,
        a.stored + b.stored,
        a.skipped + b.skipped,
        a.skip_reason or b.skip_reason,
    )


def _ingest_file(
    conn: psycopg.Connection[Any],
    target_id: int,
    path: Path,
    thresholds: Thresholds,
    retention_days: int,
    observer: Observer | None = None,
    database: str | None = None,
) -> LogIngest:
    with path.open("rb") as stream:
        stat = os.fstat(stream.fileno())
        offset = _start_offset(conn, target_id, path, stream, stat)
        stream.seek(offset)
        fmt = detect_format(path, os.pread(stream.fileno(), HEAD_BYTES, 0))
        read = count = stored = 0
        skipped = Skipped()
        lines = lines_of(stream)
        for entries, size in batches(lines, fmt, skipped=skipped, start=offset):
            with conn.transaction():
                stored += store_entries(conn, target_id, entries, thresholds,
                                        retention_days, observer, skipped,
                                        database, count_errors=True)  # fmt: skip
                read, count = read + size, count + len(entries)
                state = [target_id, _path_key(path), stat.st_ino, offset + read]
                digest = _digest(stream, offset + read)
                conn.execute(pg.query("slowlog", "save_file_state"), [*state, digest])
    if skipped.count:
        logger.info(
            "skipped %d unreadable records in %s", skipped.count, path,
            extra={"first_reason": skipped.reason},
        )  # fmt: skip
    reason = f"{skipped.reason} of {path.name}" if skipped.reason else None
    return LogIngest(1, read, count, stored, skipped.count, reason)


def _path_key(path: Path) -> str:
    """The path as stored: a name of bytes that are not UTF-8 is escaped."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _start_offset(
    conn: psycopg.Connection[Any],
    target_id: int,
    path: Path,
    stream: IO[bytes],
    stat: os.stat_result,
) -> int:
    key = [target_id, _path_key(path), stat.st_ino]
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
    """Ingest a whole stream (e.g. stdin) without remembering a position; its
    errors are not counted (a stream read twice would count them twice)."""
    first = stream.readline(LINE_BYTES)
    chosen = fmt or ("jsonlog" if first.lstrip().startswith(b"{") else "csvlog")
    lines = itertools.chain([first], lines_of(stream))
    read = count = stored = 0
    skipped = Skipped()
    for entries, size in batches(lines, chosen, tail=True, skipped=skipped):
        stored += store_entries(repo_conn, target_id, entries, thresholds,
                                retention_days, observer, skipped)  # fmt: skip
        read, count = read + size, count + len(entries)
    return LogIngest(0, read, count, stored, skipped.count, skipped.reason)
