"""The reports as self-contained HTML pages (inline CSS and SVG charts).

:func:`render_html` renders one load run (``reports/load.html.j2``);
:func:`render_elasticity_html` renders an elasticity result
(``reports/elasticity.html.j2``): throughput and p95 per pool size with the fitted
USL curve, hit ratio and p95 per cache and ``shared_buffers`` size, the read
replica before and after, and the scaling playbook.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from pgwarden.load.buffers import size_bytes
from pgwarden.load.svg import bar_chart, line_chart, xy_chart
from pgwarden.load.usl import UslFit

TEMPLATES = Path(__file__).resolve().parent.parent / "reports"
USL_POINTS = 40


def _env() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "j2"]),
    )


def render_html(report: dict[str, Any]) -> str:
    template = _env().get_template("load.html.j2")
    return template.render(r=report, charts=charts(report), pct=_pct)


def charts(report: dict[str, Any]) -> str:
    timeline = report["timeline"]
    xs = [float(t["t"]) for t in timeline]
    latency = [
        (name, [float(t[f"{name}_ms"]) for t in timeline])
        for name in ("p50", "p95", "p99")
    ]
    throughput = [("actions/s", [float(t["throughput"]) for t in timeline])]
    errors = [("errors/s", [float(t["errors"]) for t in timeline])]
    pool = [("connections in use", [float(t["pool_in_use"]) for t in timeline])]
    return "".join(
        (
            line_chart("Latency percentiles (ms)", xs, latency, "seconds"),
            line_chart("Throughput", xs, throughput + errors, "seconds"),
            line_chart(f"Pool use (of {report['pool']['size']})", xs, pool, "seconds"),
        )
    )


def render_elasticity_html(result: dict[str, Any]) -> str:
    template = _env().get_template("elasticity.html.j2")
    return template.render(
        r=result, charts=elasticity_charts(result), pct=_pct, signed=_signed
    )


def elasticity_charts(result: dict[str, Any]) -> dict[str, str]:
    made: dict[str, str] = {}
    if "pool" in result:
        made["pool"] = _pool_charts(result["pool"])
    if "cache" in result:
        steps = result["cache"]["steps"]
        made["cache"] = _size_charts(
            steps, "Application cache", "cache_hit_ratio", "entries", log_x=True
        )
    if "shared_buffers" in result:
        steps = [
            s | {"size_mb": size_bytes(s["size"]) / 1024**2}
            for s in result["shared_buffers"]["steps"]
        ]
        made["shared_buffers"] = _size_charts(
            steps, "shared_buffers", "db_cache_hit_ratio", "MB", "size_mb", True
        )
    if "replica" in result:
        made["replica"] = _replica_charts(result["replica"])
    return made


def _pool_charts(pool: dict[str, Any]) -> str:
    steps = pool["steps"]
    sizes = [float(s["size"]) for s in steps]
    throughput = [
        ("measured actions/s", sizes, [float(s["throughput_per_s"]) for s in steps])
    ]
    usl = pool.get("usl")
    if usl:
        model = UslFit(**usl)
        low, high = min(sizes), max(sizes)
        xs = [low + (high - low) * i / USL_POINTS for i in range(USL_POINTS + 1)]
        throughput.append(("USL fit", xs, [model.throughput(x) for x in xs]))
    p95 = [("p95 ms", sizes, [float(s["p95_ms"]) for s in steps])]
    return xy_chart(
        "Throughput per pool size",
        throughput,
        "pool size",
        markers=["measured actions/s"],
    ) + xy_chart("p95 latency per pool size (ms)", p95, "pool size")


def _size_charts(
    steps: list[dict[str, Any]],
    title: str,
    hit_key: str,
    unit: str,
    x_key: str = "size",
    log_x: bool = False,
) -> str:
    xs = [float(s[x_key]) for s in steps]
    hits = [("hit ratio %", xs, [100 * float(s[hit_key] or 0.0) for s in steps])]
    p95 = [("p95 ms", xs, [float(s["p95_ms"]) for s in steps])]
    return xy_chart(
        f"{title}: hit ratio per size (%)", hits, unit, log_x=log_x
    ) + xy_chart(f"{title}: p95 latency per size (ms)", p95, unit, log_x=log_x)


def _replica_charts(replica: dict[str, Any]) -> str:
    actions = replica["actions"]
    names = [a["action"] for a in actions]
    p95 = [
        ("without replica", [float(a["p95_before_ms"]) for a in actions]),
        ("with replica", [float(a["p95_after_ms"]) for a in actions]),
    ]
    before, after = replica["before"], replica["after"]
    totals = [
        ("without replica", [float(before[k]) for k in ("throughput_per_s",)]),
        ("with replica", [float(after[k]) for k in ("throughput_per_s",)]),
    ]
    return bar_chart("Throughput (actions/s)", ["all actions"], totals) + bar_chart(
        "p95 per action (ms)", names, p95
    )


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f} %"


def _signed(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1f} %"
