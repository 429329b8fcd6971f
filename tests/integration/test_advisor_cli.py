"""The advisor's commands end to end: JSON on stdout, notes on stderr, exit codes."""

from __future__ import annotations

import json

from pgwarden import pg
from tests.cli_helpers import pgwarden
from tests.integration.test_advisor_demo import workload


def test_advise_partial_queries_and_report_commands(demo_dsn: str) -> None:
    with pg.connect(demo_dsn) as conn:
        conn.execute("ANALYZE")
    workload(demo_dsn, {"open_assessment_n_plus_one": 6, "list_assessments": 30})
    advise = pgwarden("--dsn", demo_dsn, "indexes", "advise", "--budget-mb", "1",
                      "--format", "json")  # fmt: skip
    assert advise.returncode == 0, advise.stderr
    data = json.loads(advise.stdout)
    assert data["mode"] in ("hypopg", "heuristic")
    assert "pg_stat_statements" in advise.stderr  # no history: read live, said so
    partial = pgwarden("--dsn", demo_dsn, "indexes", "partial", "--format", "json")
    assert partial.returncode == 0, partial.stderr
    assert any(p["where"] == "\"status\" = 'IN_PROGRESS'" for p in json.loads(
        partial.stdout))  # fmt: skip
    queries = pgwarden("--dsn", demo_dsn, "queries", "advise", "--format", "json")
    assert queries.returncode == 0, queries.stderr
    kinds = {f["kind"] for f in json.loads(queries.stdout)["findings"]}
    assert "n_plus_one" in kinds
    md = pgwarden("--dsn", demo_dsn, "report", "optimization", "--format", "md")
    assert md.returncode == 0, md.stderr
    assert md.stdout.startswith("# Optimisation report") and "n_plus_one" in md.stdout
    bad = pgwarden("--dsn", demo_dsn, "queries", "advise", "--format", "table")
    assert bad.returncode == 2
    missing = pgwarden("--dsn", demo_dsn, "indexes", "verify", "no_such_index")
    assert missing.returncode == 3 and "no_such_index" in missing.stderr
