"""What a running collector keeps in memory between cycles.

The repository stays the truth: every cycle saves the previous snapshot there (only
the entries that moved are rewritten), so a new or restarted collector continues
where the last one stopped. The copy in memory saves re-reading it: it is trusted
only while the repository's snapshot is still the one this collector wrote, and is
reloaded after a reconnect, or when another collector wrote the target in between.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pgwarden.collect.delta import Previous
from pgwarden.collect.snapshot import Key, Relation


@dataclass(frozen=True)
class Memory:
    """The repository's state of one target as of its last cycle."""

    target_id: int
    #: None before the target's first cycle
    previous: Previous | None
    #: statements whose text is stored
    texts: frozenset[Key]
    relations: dict[tuple[str, int], Relation] = field(default_factory=dict)
    #: every row before this moment is packed (None: not known)
    packed: datetime | None = None
    #: statements with a stored text that pgwarden sends itself
    own: frozenset[Key] = frozenset()


class State:
    """The memory of one collector; empty until its first cycle is written."""

    def __init__(self) -> None:
        self.memory: Memory | None = None

    def texts(self) -> frozenset[Key] | None:
        """Statements with a stored text, if known without asking the repository."""
        return None if self.memory is None else self.memory.texts

    def valid(self, target_id: int, ts: datetime | None) -> Memory | None:
        """The memory, if the repository still holds the snapshot it describes."""
        memory = self.memory
        if memory is None or memory.target_id != target_id:
            return None
        kept = None if memory.previous is None else memory.previous.ts
        return memory if kept == ts else None

    def remember(self, memory: Memory) -> None:
        """Call after the cycle's transaction committed."""
        self.memory = memory

    def forget(self) -> None:
        self.memory = None
