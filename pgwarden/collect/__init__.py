"""Snapshots of a monitored server, stored as compact deltas in the repository.

``collect_once(target_conn, repo_conn, name)`` takes one snapshot; :class:`Collector`
runs cycles with reconnection; :mod:`pgwarden.collect.history` reads the history back.
"""

from pgwarden.collect.cycle import CollectOptions, CycleResult, collect_once
from pgwarden.collect.delta import Gap
from pgwarden.collect.partitions import apply_retention, ensure_partitions
from pgwarden.collect.session import Collector, CycleFailed

__all__ = [
    "CollectOptions",
    "Collector",
    "CycleFailed",
    "CycleResult",
    "Gap",
    "apply_retention",
    "collect_once",
    "ensure_partitions",
]
