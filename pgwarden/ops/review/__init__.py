"""Post-launch reviews: the launch cadence, the measures of each period, the report."""

from pgwarden.ops.review import gather, latency, measures, report, run, store
from pgwarden.ops.review.store import NoLaunchDate

__all__ = [
    "NoLaunchDate",
    "gather",
    "latency",
    "measures",
    "report",
    "run",
    "store",
]
