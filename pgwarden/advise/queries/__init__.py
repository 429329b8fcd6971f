"""Query advice: N+1 loops (from statistics and slow-log sequences), plan problems,
OFFSET pagination, planning time, and the monthly optimisation report.
"""

from pgwarden.advise.queries import report
from pgwarden.advise.queries.run import markdown as query_advice_markdown
from pgwarden.advise.queries.run import run as run_query_advice

__all__ = [
    "query_advice_markdown",
    "report",
    "run_query_advice",
]
