"""Release rehearsal: pre-flight checks on the target, the release's steps and rollback
on a rehearsal database, measured, and the go/no-go report.
"""

from pgwarden.ops.rehearse import plan, report, run, store

__all__ = [
    "plan",
    "report",
    "run",
    "store",
]
