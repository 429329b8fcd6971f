"""Partitioning advice: which large tables to partition, on what key, the DDL and the
migration plan.
"""

from pgwarden.plan.partitions.advice import gather
from pgwarden.plan.partitions.report import report_md

__all__ = [
    "gather",
    "report_md",
]
