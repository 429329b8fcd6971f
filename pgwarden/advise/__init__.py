"""Track 2: index health, index advice and query advice.

- :mod:`.workload` reads what the statements ask of each table (pglast);
- :mod:`.indexes` proposes indexes for the workload and verifies them with hypopg;
- :mod:`.health` finds bloated, unused, duplicate and invalid indexes (weekly report);
- :mod:`.queries` finds N+1 loops and plan problems (monthly report).

The catalog and history rows they share are in :mod:`.model` (read by
:mod:`.gather`), the finding shape in :mod:`.findings`, pg_stats in :mod:`.stats`.
"""

from pgwarden.advise.findings import at_or_above, check_severity
from pgwarden.advise.gather import gather_catalog, gather_history

__all__ = [
    "at_or_above",
    "check_severity",
    "gather_catalog",
    "gather_history",
]
