"""Index health: bloat (estimated, then measured), unused, duplicate and invalid
indexes, structural problems, sequential-scan-heavy tables, and the weekly report.

:func:`unused_oids` applies the one definition of an unused index (``unused.py``)
to :func:`gather_indexes`' rows: every face counts unused indexes through it.
"""

from pgwarden.advise.gather import gather_indexes
from pgwarden.advise.health import bloat, report
from pgwarden.advise.health.assess import index_health
from pgwarden.advise.health.report import build, evidence_text, render
from pgwarden.advise.health.unused import unused as unused_indexes
from pgwarden.advise.health.unused import unused_oids
from pgwarden.advise.health.usage import efficiency, usage_rows
from pgwarden.advise.model import IndexInfo

__all__ = [
    "IndexInfo",
    "bloat",
    "build",
    "efficiency",
    "evidence_text",
    "gather_indexes",
    "index_health",
    "render",
    "report",
    "unused_indexes",
    "unused_oids",
    "usage_rows",
]
