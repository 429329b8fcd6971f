"""Human output at its edges: 80 columns, every --format, no Python reprs.

The commands run in a subprocess with ``COLUMNS=80``, as in a small terminal.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pgwarden import pg
from tests.cli_helpers import pgwarden
from tests.integration.test_advisor_demo import collected
from tests.integration.test_observe_metrics import collect_with_load

pytestmark = pytest.mark.slow
REPR = re.compile(r"\bNone\b|\{'|\['")


def run(dsn: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return pgwarden("--dsn", dsn, *argv, COLUMNS="80")


def data(dsn: str, *argv: str) -> Any:
    result = run(dsn, *argv, "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def human(dsn: str, *argv: str) -> str:
    result = run(dsn, *argv)
    assert result.returncode == 0, result.stderr
    assert "…" not in result.stdout, result.stdout  # nothing cut short
    return result.stdout


@pytest.fixture
def advised(demo_dsn: str) -> str:
    """The reference app with history and a workload with its planted problems."""
    collected(demo_dsn, hypopg=False)
    return demo_dsn


def test_ddl_and_fixes_are_printed_whole_at_80_columns(advised: str) -> None:
    checks = data(advised, "doctor")["checks"]
    fixes = [c["fix"] for c in checks if not c["ok"] and c["fix"]]
    health = [f["ddl"] for f in data(advised, "indexes", "health") if f["ddl"]]
    advice = [r["ddl"] for r in data(advised, "indexes", "advise")["recommendations"]]
    partial = [r["ddl"] for r in data(advised, "indexes", "partial")]
    queries = [f["fix"] for f in data(advised, "queries", "advise")["findings"]]
    tables = data(advised, "partitions", "advise", "--min-rows", "100")["advised"]
    partitions = [ddl for t in tables for ddl in t["ddl"]]
    assert fixes and health and advice + partial and queries and partitions
    expected = {
        ("doctor",): fixes,
        ("indexes", "health"): health,
        ("indexes", "advise"): advice,
        ("indexes", "partial"): partial,
        ("queries", "advise"): queries,
        ("partitions", "advise", "--min-rows", "100"): partitions,
    }
    for argv, texts in expected.items():
        printed = human(advised, *argv)
        cut = [t for t in texts if t not in printed]
        assert not cut, (argv, cut, printed)
    plan = human(advised, "maintain", "plan", "--all")
    assert "public.Answer" in plan


def test_every_format_is_produced_or_refused(demo_dsn: str) -> None:
    collect_with_load(demo_dsn, pg.describe(demo_dsn))
    html = run(demo_dsn, "metrics", "--format", "html")
    assert html.returncode == 0, html.stderr
    assert html.stdout.startswith("<h2>metrics of ") and "<table>" in html.stdout
    assert "<td>queries per second</td>" in html.stdout and "| " not in html.stdout
    md = run(demo_dsn, "metrics", "--format", "md")
    assert "| metric | value |" in md.stdout and "<table>" not in md.stdout
    usage = run(demo_dsn, "indexes", "usage", "--format", "html")
    assert usage.returncode == 0 and "<th>scans_in_period</th>" in usage.stdout
    refused = [
        ("queries", "advise", "--format", "table"),
        ("queries", "advise", "--format", "html"),
        ("partitions", "advise", "--format", "html"),
        ("capacity", "baseline", "--format", "table"),
        ("--format", "table", "queries", "advise"),
        ("--format", "table", "report", "index-health"),
    ]
    for argv in refused:
        result = run(demo_dsn, *argv)
        assert result.returncode == 2, (argv, result.stdout, result.stderr)
        assert "--format" in result.stderr and not result.stdout, argv


def test_human_output_has_no_python_reprs(advised: str, tmp_path: Path) -> None:
    migration = tmp_path / "add_index.sql"
    migration.write_text('CREATE INDEX ON "Answer" ("status");\n')
    for argv in (("metrics",), ("indexes", "health"), ("queries", "advise"),
                 ("doctor",), ("maintain", "plan")):  # fmt: skip
        printed = human(advised, *argv)
        assert not REPR.search(printed), (argv, REPR.findall(printed), printed)
    request = human(advised, "ccb", "request", "new", "--title", "Index answers",
                    "--owner", "ana", "--migration", str(migration))  # fmt: skip
    assert "Index answers" in request and re.search(
        r"risk_tables: Answer \(\d", request
    )
    assert not REPR.search(request), request
