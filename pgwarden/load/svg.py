"""Small inline SVG line charts for the HTML reports (no scripts, no CDN).

:func:`line_chart` draws series over shared x values (a run's seconds);
:func:`xy_chart` draws series with x values of their own (measured points and a
fitted curve), optionally on a logarithmic x axis, and marks each measured point
with a circle whose ``data-x``/``data-y`` and tooltip carry its values.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 24, 32
COLOURS = ("#1f77b4", "#ff7f0e", "#d62728", "#2ca02c", "#9467bd")
XySeries = tuple[str, Sequence[float], Sequence[float]]


def line_chart(
    title: str,
    xs: Sequence[float],
    series: Sequence[tuple[str, Sequence[float]]],
    y_label: str = "",
) -> str:
    """An SVG line chart of ``series`` (name, values) against ``xs``."""
    if not xs or not series:
        return f'<p class="empty">{escape(title)}: no data</p>'
    return xy_chart(title, [(n, xs, v) for n, v in series], y_label, markers=())


def xy_chart(
    title: str,
    series: Sequence[XySeries],
    x_label: str = "",
    *,
    markers: Sequence[str] | None = None,
    log_x: bool = False,
) -> str:
    """Series of (name, xs, ys); ``markers`` names those drawn with points (all)."""
    drawn = [(n, xs, ys) for n, xs, ys in series if xs and ys]
    if not drawn:
        return f'<p class="empty">{escape(title)}: no data</p>'
    marked = {n for n, _x, _y in drawn} if markers is None else set(markers)
    scale: Callable[[float], float] = (
        (lambda x: math.log10(max(x, 1e-9))) if log_x else float
    )
    all_x = [scale(x) for _n, xs, _y in drawn for x in xs]
    top = max((max(ys) for _n, _x, ys in drawn), default=0.0) or 1.0
    x0, span = min(all_x), (max(all_x) - min(all_x)) or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x: float) -> float:
        return LEFT + (scale(x) - x0) / span * plot_w

    def py(y: float) -> float:
        return TOP + plot_h - y / top * plot_h

    parts = _frame(title, top, py, x_label + (" (log)" if log_x else ""))
    if log_x or len(set(all_x)) <= 12:
        for x in sorted({x for _n, xs, _y in drawn if _n in marked for x in xs}):
            parts.append(
                f'<text x="{px(x):.1f}" y="{TOP + plot_h + 12}" font-size="9" '
                f'text-anchor="middle">{_fmt(x)}</text>'
            )
    for i, (name, xs, ys) in enumerate(drawn):
        colour = COLOURS[i % len(COLOURS)]
        pairs = list(zip(xs, ys, strict=False))
        points = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pairs)
        dash = "" if name in marked else ' stroke-dasharray="4 3"'
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="1.5"{dash} '
            f'points="{points}"/>'
        )
        if name in marked:
            parts.extend(_point(name, x, y, px(x), py(y), colour) for x, y in pairs)
        parts.append(
            f'<text x="{LEFT + 8 + i * 150}" y="{HEIGHT - 6}" font-size="11" '
            f'fill="{colour}">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(
    title: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    y_label: str = "",
) -> str:
    """Grouped bars: one group per category, one bar per series (e.g. before/after)."""
    if not categories or not series:
        return f'<p class="empty">{escape(title)}: no data</p>'
    top = max((max(v) for _n, v in series if v), default=0.0) or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def py(y: float) -> float:
        return TOP + plot_h - y / top * plot_h

    parts = _frame(title, top, py, y_label)
    group = plot_w / len(categories)
    bar = group * 0.8 / len(series)
    for c, category in enumerate(categories):
        x0 = LEFT + c * group + group * 0.1
        for i, (name, values) in enumerate(series):
            y = values[c]
            parts.append(
                f'<rect x="{x0 + i * bar:.1f}" y="{py(y):.1f}" width="{bar:.1f}" '
                f'height="{TOP + plot_h - py(y):.1f}" '
                f'fill="{COLOURS[i % len(COLOURS)]}" data-series="{escape(name)}" '
                f'data-x="{escape(category)}" data-y="{y:g}">'
                f"<title>{escape(category)} {escape(name)}: {y:g}</title></rect>"
            )
        parts.append(
            f'<text x="{x0 + group * 0.4:.1f}" y="{TOP + plot_h + 12}" '
            f'font-size="9" text-anchor="middle">{escape(category[:18])}</text>'
        )
    for i, (name, _v) in enumerate(series):
        parts.append(
            f'<text x="{LEFT + 8 + i * 150}" y="{HEIGHT - 6}" font-size="11" '
            f'fill="{COLOURS[i % len(COLOURS)]}">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _frame(
    title: str, top: float, py: Callable[[float], float], x_label: str
) -> list[str]:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{escape(title)}">',
        f'<text x="{LEFT}" y="16" font-size="13">{escape(title)}</text>',
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{LEFT + plot_w}" '
        f'y2="{TOP + plot_h}" stroke="#999"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}" stroke="#999"/>',
    ]
    for frac in (0.0, 0.5, 1.0):
        y = py(top * frac)
        parts.append(
            f'<text x="{LEFT - 4}" y="{y + 4:.1f}" font-size="10" '
            f'text-anchor="end">{_fmt(top * frac)}</text>'
        )
    parts.append(
        f'<text x="{LEFT + plot_w}" y="{HEIGHT - 6}" font-size="10" '
        f'text-anchor="end">{escape(x_label)}</text>'
    )
    return parts


def _point(name: str, x: float, y: float, cx: float, cy: float, colour: str) -> str:
    return (
        f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3" fill="{colour}" '
        f'data-series="{escape(name)}" data-x="{x:g}" data-y="{y:g}">'
        f"<title>{escape(name)} at {x:g}: {y:g}</title></circle>"
    )


def _fmt(value: float) -> str:
    return f"{value:.0f}" if value >= 10 else f"{value:.2g}"
