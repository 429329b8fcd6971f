"""Queue names: one for the repository-wide jobs, one per target."""

from __future__ import annotations

import hashlib


def target_queue(base: str, target: str) -> str:
    """``pgwarden:3f2a...``: the target's own queue, taken by the workers serving it.

    A digest of the target's name, not the name: queue names become LISTEN channel
    names, which PostgreSQL cuts at 63 bytes.
    """
    digest = hashlib.blake2s(target.encode(), digest_size=6).hexdigest()
    return f"{base}:{digest}"
