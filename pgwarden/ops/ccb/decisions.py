"""The append-only, hash-chained decision log, signed and anchored outside the table.

Each entry's chain hash is ``sha256(previous stored hash + canonical JSON of the
entry)``; the first entry's previous hash is 64 zeros. Changing, removing or
reordering an entry breaks the chain from that entry on, which :func:`verify` reports.

The chain alone cannot tell a forged history from the real one: whoever can write the
table can change an entry and recompute every later hash, or delete the last
entries. Two anchors outside the table close that gap:

- **the log key** (``ccb.log_key``): with it, each entry is stored as
  ``chain hash:HMAC-SHA256(key, chain hash)``. Without the key nobody can sign a
  recomputed entry, so a verifier holding it detects any change of a signed entry,
  and any unsigned entry after a signed one;
- **anchors** (:class:`Anchor`): an entry's chain hash seen outside the database, in
  a witness file or in the minutes. An anchor detects the removal of the entries up
  to it, and any rewrite of them, with or without the key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pgwarden.errors import ConfigurationError

GENESIS = "0" * 64
#: The columns an entry's hash covers, besides the previous hash.
FIELDS = ("seq", "ts", "request_id", "kind", "actor", "detail")
#: where a signed entry's stored hash separates chain hash and signature
SEPARATOR = ":"
#: an anchor's hash may be shortened to this many hex digits (as printed)
MIN_ANCHOR_DIGITS = 16
KEY_VARIABLE = "PGWARDEN_CCB__LOG_KEY"
_DOMAIN = b"pgwarden ccb decision log entry\0"


class LogKeyMissing(ConfigurationError):
    """The decision log is signed: set PGWARDEN_CCB__LOG_KEY (ccb.log_key)."""


class LogKeyMismatch(ConfigurationError):
    """The decision log's last entry is not signed with the configured ccb.log_key."""


@dataclass(frozen=True)
class Broken:
    seq: int
    reason: str


@dataclass(frozen=True)
class Anchor:
    """Entry ``seq`` had chain hash ``hash`` when ``source`` saw it."""

    seq: int
    hash: str
    source: str


def canonical(entry: Mapping[str, Any]) -> str:
    """Sorted keys, no spaces, timestamps as UTC ISO text."""
    data = {k: _plain(entry[k]) for k in FIELDS}
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    return value


def entry_hash(prev_hash: str, entry: Mapping[str, Any]) -> str:
    """The chain hash of ``entry`` after the stored hash ``prev_hash``."""
    return hashlib.sha256((prev_hash + canonical(entry)).encode()).hexdigest()


def signature(key: str, chain_hash: str) -> str:
    return hmac.new(key.encode(), _DOMAIN + chain_hash.encode(), "sha256").hexdigest()


def stored_hash(prev_hash: str, entry: Mapping[str, Any], key: str | None) -> str:
    """What the ``hash`` column holds: the chain hash, signed when there is a key."""
    chain = entry_hash(prev_hash, entry)
    return f"{chain}{SEPARATOR}{signature(key, chain)}" if key else chain


def split(stored: str) -> tuple[str, str | None]:
    """A stored hash as (chain hash, signature or None)."""
    chain, _, signed = stored.partition(SEPARATOR)
    return chain, signed or None


def is_signed(stored: str) -> bool:
    return split(stored)[1] is not None


def signed_by(stored: str, key: str) -> bool:
    chain, signed = split(stored)
    return signed is not None and hmac.compare_digest(signed, signature(key, chain))


def anchor(entries: Sequence[Mapping[str, Any]], source: str) -> Anchor | None:
    """The head of the log as an anchor (None for an empty log)."""
    if not entries:
        return None
    last = entries[-1]
    return Anchor(int(last["seq"]), split(last["hash"])[0], source)


def parse_anchor(text: str, source: str) -> Anchor:
    """``SEQ:HASH`` as printed in the minutes (the hash may be shortened)."""
    seq, _, digest = text.strip().partition(":")
    digest = digest.strip().lower()
    if (
        not seq.isdigit()
        or int(seq) < 1
        or len(digest) < MIN_ANCHOR_DIGITS
        or any(c not in "0123456789abcdef" for c in digest)
    ):
        raise ConfigurationError(
            f"{source}: {text!r}: expected SEQ:HASH, the hash in at least "
            f"{MIN_ANCHOR_DIGITS} hex digits (as the minutes print it)"
        )
    return Anchor(int(seq), digest, source)


def verify(
    entries: Sequence[Mapping[str, Any]],
    key: str | None = None,
    anchors: Sequence[Anchor] = (),
) -> Broken | None:
    """The first entry whose hash, link, signature or anchor does not match, else None.

    With ``key``, signatures are checked and the log must be signed from its first
    signed entry on, and at least at its end. Without it, a log holding signed entries
    cannot be verified: :class:`LogKeyMissing`, after the checks that need no key.
    """
    broken = _chain(entries, key) or _anchored(entries, anchors)
    if broken is not None:
        return broken
    signed = [int(e["seq"]) for e in entries if is_signed(e["hash"])]
    if key is None and signed:
        raise LogKeyMissing(
            f"decision log: entries {signed[0]} to {signed[-1]} are signed, and no "
            f"ccb.log_key is set: set {KEY_VARIABLE} to verify them"
        )
    return None


def _chain(entries: Sequence[Mapping[str, Any]], key: str | None) -> Broken | None:
    prev = GENESIS
    first_signed: int | None = None
    for expected_seq, entry in enumerate(entries, start=1):
        seq = int(entry["seq"])
        if seq != expected_seq:
            return Broken(seq, f"entry {expected_seq} is missing (found {seq})")
        if entry["prev_hash"] != prev:
            return Broken(seq, f"entry {seq} does not link to entry {seq - 1}")
        if entry_hash(prev, entry) != split(entry["hash"])[0]:
            return Broken(seq, f"entry {seq} was changed after it was written")
        signed = is_signed(entry["hash"])
        if key is not None and signed and not signed_by(entry["hash"], key):
            return Broken(
                seq,
                f"entry {seq} has a signature that does not match the log key: "
                "it was rewritten, or signed with another key",
            )
        if key is not None and not signed and first_signed is not None:
            return Broken(
                seq,
                f"entry {seq} is not signed although entry {first_signed} before it "
                "is: it was rewritten, or written without the log key",
            )
        if signed and first_signed is None:
            first_signed = seq
        prev = entry["hash"]
    if key is not None and entries and first_signed is None:
        return Broken(
            len(entries),
            f"none of the {len(entries)} entries is signed with the log key: the log "
            "was rewritten without it, or the key was set after the last entry was "
            "written (the next entry written with the key signs the log)",
        )
    return None


def _anchored(
    entries: Sequence[Mapping[str, Any]], anchors: Sequence[Anchor]
) -> Broken | None:
    for seen in sorted(anchors, key=lambda a: a.seq):
        if seen.seq < 1:
            continue
        if seen.seq > len(entries):
            return Broken(
                seen.seq,
                f"the log ends at entry {len(entries)}, but entry {seen.seq} was seen "
                f"before ({seen.source}): entries were removed from its end",
            )
        chain = split(entries[seen.seq - 1]["hash"])[0]
        if not chain.startswith(seen.hash):
            return Broken(
                seen.seq,
                f"entry {seen.seq} is not the one seen before ({seen.source}): "
                "the log was rewritten",
            )
    return None


def check_head(entries_head: str | None, key: str | None) -> None:
    """Refuse to extend a log whose last entry the writer cannot sign after.

    A signed log stays signed: without the key, or with another key, the next entry
    would break it for every verifier.
    """
    if entries_head is None or not is_signed(entries_head):
        return
    if key is None:
        raise LogKeyMissing(
            f"the decision log is signed: set {KEY_VARIABLE} (ccb.log_key) to write "
            "to it"
        )
    if not signed_by(entries_head, key):
        raise LogKeyMismatch(
            "the decision log's last entry is not signed with this ccb.log_key: "
            "the key is wrong, or the entry was tampered with "
            "(run pgwarden ccb log --verify)"
        )
