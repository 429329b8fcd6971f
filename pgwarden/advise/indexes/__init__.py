"""Index advice: candidates from the workload, costed with hypopg, selected under a
budget; partial indexes on observed values; expression, GIN, GiST and BRIN kinds
(:mod:`.special`); before/after verification of a created index.
"""

from pgwarden.advise.indexes import hypo
from pgwarden.advise.indexes.advisor import Advice, Options, advise
from pgwarden.advise.indexes.candidates import Candidate
from pgwarden.advise.indexes.hypo import explain, nodes
from pgwarden.advise.indexes.render import markdown as advice_markdown
from pgwarden.advise.indexes.render import rows as advice_rows
from pgwarden.advise.indexes.run import Context, advise_context, gather, options
from pgwarden.advise.indexes.run import run as run_advisor
from pgwarden.advise.indexes.select import Budget
from pgwarden.advise.indexes.verify import run_verify

__all__ = [
    "Advice",
    "Budget",
    "Candidate",
    "Context",
    "Options",
    "advice_markdown",
    "advice_rows",
    "advise",
    "advise_context",
    "explain",
    "gather",
    "hypo",
    "nodes",
    "options",
    "run_advisor",
    "run_verify",
]
