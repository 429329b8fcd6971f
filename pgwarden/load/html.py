"""The run report as one self-contained HTML page (inline CSS and SVG charts)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from pgwarden.load.svg import line_chart

TEMPLATES = Path(__file__).resolve().parent.parent / "reports"


def render_html(report: dict[str, Any]) -> str:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "j2"]),
    )
    template = env.get_template("load.html.j2")
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


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f} %"
