"""``pgwarden doctor``: capabilities and privileges, each missing one with its fix.

``gather`` reads the server (guarded, never fatal), ``evaluate`` judges the facts
without I/O, ``run`` does both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg

from pgwarden.config import SlowQuerySettings
from pgwarden.doctor.checks import evaluate
from pgwarden.doctor.facts import DoctorFacts, Extension, Maintenance
from pgwarden.doctor.gather import gather
from pgwarden.doctor.report import Check, DoctorReport

__all__ = [
    "Check",
    "DoctorFacts",
    "DoctorReport",
    "Extension",
    "Maintenance",
    "evaluate",
    "gather",
    "run",
]


def run(
    conn: psycopg.Connection[Any],
    log_dir: Path | None = None,
    slow: SlowQuerySettings | None = None,
) -> DoctorReport:
    """Gather and evaluate: the report ``pgwarden doctor`` prints."""
    facts = gather(conn, log_dir, slow)
    return DoctorReport(facts.server_version_num, tuple(evaluate(facts)))
