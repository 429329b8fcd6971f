"""Index health: bloat (estimated, then measured), unused, duplicate and invalid
indexes, structural problems, sequential-scan-heavy tables, and the weekly report.
"""

from pgwarden.advise.health import bloat, report
from pgwarden.advise.health.assess import index_health
from pgwarden.advise.health.report import build, evidence_text, render
from pgwarden.advise.health.unused import unused as unused_indexes
from pgwarden.advise.health.usage import efficiency, usage_rows

__all__ = [
    "bloat",
    "build",
    "efficiency",
    "evidence_text",
    "index_health",
    "render",
    "report",
    "unused_indexes",
    "usage_rows",
]
