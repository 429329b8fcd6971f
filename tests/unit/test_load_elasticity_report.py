"""The elasticity result as data and HTML: playbook rules, replica summary, charts."""

from __future__ import annotations

import re
from dataclasses import asdict
from typing import Any

import pytest

from pgwarden.errors import ConfigurationError
from pgwarden.load.buffers import BufferStep, analyse_buffers, size_bytes
from pgwarden.load.elasticity import (
    Plan,
    Step,
    analyse_cache,
    analyse_pool,
    check_plan,
)
from pgwarden.load.engine import LoadSpec
from pgwarden.load.html import render_elasticity_html
from pgwarden.load.playbook import build_playbook
from pgwarden.load.readreplica import summarise
from pgwarden.load.scenario import ScenarioRef

READS = frozenset({"browse"})


def _report(
    throughput: float, p95: float, commits: int, replica: bool = False
) -> dict[str, Any]:
    server = {
        "load_connections_max": 4,
        "active_mean": 1.5,
        "commits": commits,
        "server_cpu_cores": 0.4,
        "cache_hit_ratio": 0.99,
    }
    report: dict[str, Any] = {
        "throughput_per_s": throughput,
        "overall": {"p95_ms": p95, "p99_ms": p95 * 2},
        "errors": {"rate": 0.0},
        "pool": {"utilisation": 0.8},
        "settings": {"duration_s": 2.0},
        "server": server,
        "actions": {
            "browse": {
                "throughput_per_s": throughput * 0.8,
                "p95_ms": p95,
                "p99_ms": 9,
            },
            "buy": {"throughput_per_s": throughput * 0.2, "p95_ms": p95, "p99_ms": 9},
        },
        "replica": None,
    }
    if replica:
        report["replica"] = {
            "target": "127.0.0.1:5433/app",
            "pool": {"size": 4, "utilisation": 0.5},
            "server": server | {"commits": 300},
        }
    return report


def _steps(sizes: list[int], throughput: list[float], hits: list[float]) -> list[Step]:
    return [
        Step(n, x, 10.0 + n, 20.0 + n, 0.0, 0.9 if n < 20 else 0.5, 0.1, h, 0.99)
        for n, x, h in zip(sizes, throughput, hits, strict=True)
    ]


def _result() -> dict[str, Any]:
    pool = analyse_pool(_steps([5, 10, 20, 40], [100, 180, 230, 210], [0.4] * 4), 70)
    cache = analyse_cache(_steps([10, 100, 1000], [200] * 3, [0.2, 0.45, 0.8]), 50)
    buffers = analyse_buffers(
        {
            "steps": [
                BufferStep("1MB", size_bytes("1MB"), 150, 30, 60, 0, 0.42, 900, 650),
                BufferStep("16MB", size_bytes("16MB"), 220, 12, 20, 0, 0.97, 40, 1300),
                BufferStep("64MB", size_bytes("64MB"), 225, 11, 19, 0, 0.975, 35, 1400),
            ],
            "original": "128MB",
        },
        50,
    )
    replica = summarise(_report(200, 20, 400), _report(260, 12, 100, True), READS)
    result = {"target": "127.0.0.1:5432/app", "users": 50, "pool": pool}
    result |= {"cache": cache, "shared_buffers": buffers, "replica": replica}
    result["playbook"] = build_playbook(result, 70, 50, 100)
    return result


def test_the_replica_summary_compares_throughput_latency_and_primary_load() -> None:
    replica = _result()["replica"]
    assert replica["replica"] == "127.0.0.1:5433/app"
    assert replica["throughput_change_pct"] == 30.0
    assert replica["p95_change_pct"] == -40.0
    assert replica["before"]["primary"]["commits_per_s"] == 200.0
    assert replica["after"]["primary"]["commits_per_s"] == 50.0
    assert replica["after"]["replica"]["commits_per_s"] == 150.0
    routed = {a["action"]: a["read_only"] for a in replica["actions"]}
    assert routed == {"browse": True, "buy": False}
    assert "add a replica" in replica["playbook"][0]


def test_the_playbook_has_a_rule_per_step_with_thresholds_and_steps() -> None:
    book = _result()["playbook"]
    assert book["thresholds"]["pool_utilisation_pct"] == 70
    assert book["thresholds"]["cache_hit_pct"] == 50
    rules = {r["signal"]: r for r in book["rules"]}
    assert set(rules) == {
        "pool utilisation",
        "application cache hit ratio",
        "database cache hit ratio",
        "read replica gain",
        "load generator",
    }
    assert rules["load generator"]["scale"] is False  # no step was generator-bound
    assert rules["application cache hit ratio"]["scale"] is True  # 45 % at 100
    assert "1000 entries" in rules["application cache hit ratio"]["step"]
    assert rules["database cache hit ratio"]["scale"] is False
    assert "shared_buffers = 16MB" in rules["database cache hit ratio"]["step"]
    assert rules["read replica gain"]["scale"] is True
    assert any("do not go that low" in line for line in book["steps"])


def test_the_shared_buffers_knee_is_the_smallest_size_near_the_best_hit_ratio() -> None:
    result = _result()["shared_buffers"]
    assert result["recommended_shared_buffers"] == "16MB"
    assert result["original"] == "128MB"
    assert [s["size"] for s in result["steps"]] == ["1MB", "16MB", "64MB"]


@pytest.mark.parametrize("text", ["16", "16 mb", "MB", "1.5GB", ""])
def test_shared_buffers_sizes_need_a_number_and_a_unit(text: str) -> None:
    with pytest.raises(ConfigurationError, match="give a number and a unit"):
        size_bytes(text)


def test_the_html_report_draws_every_step_with_its_data_points() -> None:
    result = _result()
    page = render_elasticity_html(result)
    assert "http" not in page.split("<body>")[0]
    assert page.count("<svg") == 8
    points = set(re.findall(r'data-series="([^"]+)" data-x="([^"]+)"', page))
    for step in result["pool"]["steps"]:
        assert ("measured actions/s", f"{step['size']:g}") in points
        assert f'data-y="{step["throughput_per_s"]:g}"' in page
    assert "USL fit" in page
    for size in ("10", "100", "1000"):
        assert ("hit ratio %", size) in points
    assert ("hit ratio %", "16") in points  # shared_buffers in MB
    assert ("with replica", "browse") in points
    assert ("without replica", "buy") in points
    assert 'id="playbook"' in page and "Scaling playbook" in page
    for rule in result["playbook"]["rules"]:
        assert rule["signal"] in page
    assert "restored to 128MB" in page


def test_steps_serialise_as_plain_data() -> None:
    step = asdict(_steps([5], [1.0], [0.5])[0])
    assert step["size"] == 5 and step["cache_hit_ratio"] == 0.5


def test_a_plan_refuses_two_replicas_or_a_replica_without_reads() -> None:
    spec = LoadSpec("", ScenarioRef("shop.toml"), users=1, duration_s=1)
    reads = frozenset({"browse"})
    with pytest.raises(ConfigurationError, match="not both"):
        check_plan(spec, Plan(replica=True, replica_dsn="x", read_only=reads), "t")
    with pytest.raises(ConfigurationError, match="no read-only actions"):
        check_plan(spec, Plan(replica_dsn="host=replica"), "t")


def test_a_generator_bound_step_is_named_a_lower_bound() -> None:
    result = _result()
    result["pool"]["steps"][1]["generator_saturated"] = True
    size = result["pool"]["steps"][1]["size"]
    book = build_playbook(result, 70, 50, 100)
    [rule] = [r for r in book["rules"] if r["signal"] == "load generator"]
    assert rule["scale"] is True and rule["measured"] == f"saturated at pool {size}"
    assert "lower bound" in rule["step"]
