"""The append-only, hash-chained decision log.

Each entry's hash is ``sha256(previous hash + canonical JSON of the entry)``; the
first entry's previous hash is 64 zeros. Changing, removing or reordering an entry
breaks the chain from that entry on, which :func:`verify` reports.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64
#: The columns an entry's hash covers, besides the previous hash.
FIELDS = ("seq", "ts", "request_id", "kind", "actor", "detail")


@dataclass(frozen=True)
class Broken:
    seq: int
    reason: str


def canonical(entry: Mapping[str, Any]) -> str:
    """Sorted keys, no spaces, timestamps as UTC ISO text."""
    data = {k: _plain(entry[k]) for k in FIELDS}
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    return value


def entry_hash(prev_hash: str, entry: Mapping[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical(entry)).encode()).hexdigest()


def verify(entries: Sequence[Mapping[str, Any]]) -> Broken | None:
    """The first entry whose hash or link does not match, else None."""
    prev = GENESIS
    expected_seq = 1
    for entry in entries:
        seq = int(entry["seq"])
        if seq != expected_seq:
            return Broken(seq, f"entry {expected_seq} is missing (found {seq})")
        if entry["prev_hash"] != prev:
            return Broken(seq, f"entry {seq} does not link to entry {seq - 1}")
        if entry_hash(prev, entry) != entry["hash"]:
            return Broken(seq, f"entry {seq} was changed after it was written")
        prev = entry["hash"]
        expected_seq += 1
    return None
