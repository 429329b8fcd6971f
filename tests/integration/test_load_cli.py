"""``load run``, ``load compare`` and ``load elasticity`` through the Typer app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from pgwarden.cli import _global, load_cmd
from pgwarden.errors import ConfigurationError
from tests.conftest import TestServer


def _app() -> typer.Typer:
    """The root callback with the load commands, as ``pgwarden load`` mounts them."""
    app = typer.Typer(pretty_exceptions_enable=False)
    app.callback()(_global)
    app.add_typer(load_cmd.app, name="load")
    return app


QUICK = [
    "--duration",
    "1",
    "--ramp-up",
    "0",
    "--warmup",
    "0",
    "--users",
    "6",
    "--pool",
    "3",
    "--think-ms",
    "5",
    "--seed",
    "3",
    "--no-progress",
]


def test_run_writes_json_and_html_and_compare_gates_regressions(
    demo_dsn: str, tmp_path: Path
) -> None:
    runner = CliRunner()
    a = tmp_path / "a.json"
    result = runner.invoke(
        _app(),
        [
            "--dsn",
            demo_dsn,
            "load",
            "run",
            *QUICK,
            "--format",
            "json",
            "--output",
            str(a),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(a.read_text())
    assert report["schema"] == "pgwarden.load/1"
    assert report["overall"]["count"] > 0
    assert report["settings"]["pool_size"] == 3

    html = tmp_path / "a.html"
    result = runner.invoke(
        _app(),
        [
            "--dsn",
            demo_dsn,
            "load",
            "run",
            *QUICK,
            "--format",
            "html",
            "--output",
            str(html),
        ],
    )
    assert result.exit_code == 0, result.output
    page = html.read_text()
    assert (
        "<svg" in page
        and "Bottleneck:" in page
        and "http" not in page.split("<body>")[0].replace("http-equiv", "")
    )

    result = runner.invoke(_app(), ["load", "compare", str(a), str(a)])
    assert result.exit_code == 0, result.output
    worse = dict(report)
    worse["overall"] = report["overall"] | {"p95_ms": report["overall"]["p95_ms"] * 2}
    b = tmp_path / "b.json"
    b.write_text(json.dumps(worse))
    result = runner.invoke(
        _app(),
        ["load", "compare", str(a), str(b), "--threshold", "10", "--format", "json"],
    )
    assert result.exit_code == 1
    assert '"regression": true' in result.output


def test_usage_errors_exit_2(demo_dsn: str, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        _app(), ["--dsn", demo_dsn, "load", "run", "--preset", "huge"]
    )
    assert isinstance(result.exception, ConfigurationError)
    assert result.exception.exit_code == 2
    assert "normal, peak, stress" in str(result.exception)
    bad = tmp_path / "bad.toml"
    bad.write_text("[actions.x]\nsql = 'SELECT %(id)s'\n")
    result = runner.invoke(
        _app(), ["--dsn", demo_dsn, "load", "run", "--scenario", str(bad)]
    )
    assert isinstance(result.exception, ConfigurationError)
    assert "no generator for %(id)s" in str(result.exception)


def test_elasticity_sweeps_pool_and_cache_and_recommends(
    demo_dsn: str, tmp_path: Path, pg_server: TestServer
) -> None:
    if pg_server.name != "embedded":
        pytest.skip("sweep behaviour: checked on the embedded server only")
    out = tmp_path / "el.json"
    result = CliRunner().invoke(
        _app(),
        [
            "--dsn",
            demo_dsn,
            "load",
            "elasticity",
            "--users",
            "8",
            "--pool-sizes",
            "1,2,4",
            "--cache-sizes",
            "1,5000",
            "--step-seconds",
            "0.5",
            "--think-ms",
            "0",
            "--ramp-up",
            "0",
            "--warmup",
            "0.2",
            "--seed",
            "1",
            "--format",
            "json",
            "--output",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    steps = data["pool"]["steps"]
    assert [s["size"] for s in steps] == [1, 2, 4]
    assert all(s["throughput_per_s"] > 0 for s in steps)
    assert data["pool"]["recommended_pool_size"] in (1, 2, 3, 4)
    assert data["pool"]["usl"] is not None
    cache = data["cache"]["steps"]
    small, large = (step["cache_hit_ratio"] or 0.0 for step in cache)
    assert small <= large
    assert data["pool"]["playbook"] and data["cache"]["playbook"]
