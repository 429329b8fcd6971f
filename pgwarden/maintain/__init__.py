"""Automated maintenance: ANALYZE, VACUUM, VACUUM FULL / pg_repack and REINDEX.

The planner (:mod:`~pgwarden.maintain.plan`) decides from the target's statistics
what is due and why; the executor (:mod:`~pgwarden.maintain.execute`) runs it one
table at a time across every worker, bounded by ``lock_timeout``; every run is
recorded in ``pgwarden.maintenance_runs``.
"""

from pgwarden.maintain.cycle import Cycle, run_cycle, run_scheduled, stale_tables
from pgwarden.maintain.model import Facts, IndexStat, Item, TableStat
from pgwarden.maintain.plan import plan
from pgwarden.maintain.store import Run, active_runs
from pgwarden.maintain.window import Window

__all__ = [
    "Cycle",
    "Facts",
    "IndexStat",
    "Item",
    "Run",
    "TableStat",
    "Window",
    "active_runs",
    "plan",
    "run_cycle",
    "run_scheduled",
    "stale_tables",
]
