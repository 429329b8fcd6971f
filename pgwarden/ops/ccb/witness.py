"""The decision log's witness: its head as last seen, kept outside the database.

One JSON file per log (per repository database) in ``ccb.witness_dir``: the sequence
number and chain hash of the last entry this machine wrote or verified. Whoever can
write the log table can delete its last entries or recompute its hashes; the witness
cannot be reached from the database, so :func:`check` finds both, up to the entry it
saw. A copy kept elsewhere (``ccb log --verify --witness FILE``), or the head printed
in the minutes (``--head SEQ:HASH``), serves the same way.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg

from pgwarden.errors import ConfigurationError
from pgwarden.ops.ccb import board
from pgwarden.ops.ccb import decisions as decision_log
from pgwarden.ops.ccb.decisions import Anchor, Broken, LogKeyMissing
from pgwarden.paths import default_data_dir


@dataclass(frozen=True)
class Witness:
    path: Path
    log: str
    seq: int
    hash: str
    seen_at: str

    def anchor(self) -> Anchor:
        return Anchor(self.seq, self.hash, f"witness {self.path}, {self.seen_at}")


@dataclass(frozen=True)
class Check:
    """What :func:`check` found; ``missing_key`` when signed entries went unchecked."""

    log: str
    entries: int
    head: Anchor | None
    broken: Broken | None
    signed: bool
    witness: Witness | None
    witness_path: Path
    missing_key: LogKeyMissing | None


def directory(configured: Path | None) -> Path:
    return configured or default_data_dir() / "ccb-witness"


def path_for(witness_dir: Path, log: str) -> Path:
    """``SYSTEM_IDENTIFIER-DATABASE.json`` (other characters %-quoted)."""
    return witness_dir / f"{quote(log.replace('/', '-', 1), safe='-')}.json"


def read(path: Path, log: str) -> Witness | None:
    """The witness in ``path`` (None when there is none yet); it must be ``log``'s."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        found = Witness(
            path, str(data["log"]), int(data["seq"]), str(data["hash"]), data["seen_at"]
        )
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigurationError(
            f"witness {path}: cannot read: {exc.strerror}"
        ) from exc
    except (ValueError, TypeError, KeyError) as exc:
        raise ConfigurationError(f"witness {path}: not a witness file") from exc
    if found.log != log:
        raise ConfigurationError(
            f"witness {path} is of the decision log {found.log}, not of {log}"
        )
    if found.seq < 1:
        raise ConfigurationError(f"witness {path}: not a witness file")
    return found


def write(path: Path, log: str, head: Anchor) -> None:
    """Record ``head`` atomically, readable by this user only."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    data = {
        "log": log,
        "seq": head.seq,
        "hash": head.hash,
        "seen_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)


def check(
    entries: Sequence[Mapping[str, Any]],
    log: str,
    key: str | None,
    witness_path: Path,
    anchors: Sequence[Anchor] = (),
) -> Check:
    """Verify the log: its chain, its signatures with ``key``, the witness and
    ``anchors`` (from the minutes)."""
    seen = read(witness_path, log)
    every = [*anchors, *([seen.anchor()] if seen else [])]
    missing = None
    try:
        broken = decision_log.verify(entries, key, every)
    except LogKeyMissing as exc:
        broken, missing = None, exc
    return Check(
        log=log,
        entries=len(entries),
        head=decision_log.anchor(entries, "the log"),
        broken=broken,
        signed=key is not None and bool(entries),
        witness=seen,
        witness_path=witness_path,
        missing_key=missing,
    )


def check_log(
    conn: psycopg.Connection[Any],
    witness_dir: Path,
    key: str | None,
    witness_file: Path | None = None,
    anchors: Sequence[Anchor] = (),
) -> Check:
    """:func:`check` the repository's log against this machine's witness in
    ``witness_dir``, or against the copy ``witness_file``."""
    log = board.log_identity(conn)
    if witness_file is not None and not witness_file.is_file():
        raise ConfigurationError(f"witness {witness_file}: no such file")
    path = witness_file or path_for(witness_dir, log)
    return check(board.log_entries(conn), log, key, path, anchors)


def keep(found: Check) -> str | None:
    """After a clean check, the witness moves to the head just verified; a warning
    when it cannot be written."""
    if found.head is None or found.broken is not None or found.missing_key:
        return None
    try:
        write(found.witness_path, found.log, found.head)
    except OSError as exc:
        return f"witness {found.witness_path}: cannot write: {exc.strerror}"
    return None


def record(conn: psycopg.Connection[Any], witness_dir: Path) -> str | None:
    """Move the witness to the log's head after a write; a warning instead when the
    log no longer holds the entry last witnessed (the witness is then kept)."""
    log = board.log_identity(conn)
    path = path_for(witness_dir, log)
    try:
        seen = read(path, log)
    except ConfigurationError as exc:
        return str(exc)
    if seen is not None:
        stored = board.stored_hash_at(conn, seen.seq)
        if stored is None or not decision_log.split(stored)[0].startswith(seen.hash):
            return (
                f"the decision log no longer holds entry {seen.seq} as witness "
                f"{path} saw it: run pgwarden ccb log --verify"
            )
    head = board.log_head(conn)
    if head is None:
        return None
    chain = decision_log.split(head["hash"])[0]
    try:
        write(path, log, Anchor(int(head["seq"]), chain, "the log"))
    except OSError as exc:
        return f"witness {path}: cannot write: {exc.strerror}"
    return None
