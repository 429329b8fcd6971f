"""The review's outcome section (error rates, adoption, satisfaction, support
tickets, the action items that follow them) as Markdown and HTML, placed before
the review's trend (md) or its methods (html)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jinja2 import Environment

MD = """\
## Error rates, adoption, satisfaction and support

Against the previous period ({{ m.previous_period.start[:16] }} to \
{{ m.previous_period.end[:16] }}).

| measure | this period | previous | trend |
|---|---|---|---|
{% for f in figures %}
| {{ f.label }} | {{ shown(f) }} | {{ before(f) }} | {{ arrow(f) }} |
{% endfor %}
{% if m.error_rate.by_class %}

Errors by class: {% for c, n in m.error_rate.by_class.items() %}{{ c }} {{ n }}\
{{ ", " if not loop.last }}{% endfor %}.
{% endif %}
{% if missing %}

Not recorded (never counted as zero):
{% for f in missing %}
- {{ f.label }}: {{ f.how_to_record }}
{% endfor %}
{% endif %}
{% if linked %}

Action items following a measure:
{% for a in linked %}
- #{{ a.id }} {{ a.title }}: {{ a.measure }} {{ num(a.figure.now) }} \
(previous {{ num(a.figure.previous) }}, {{ a.figure.trend or "no trend" }})
{% endfor %}
{% endif %}

How it was measured: {{ m.method }}


"""

HTML = """\
<h2>Error rates, adoption, satisfaction and support</h2>
<table>
<tr><th>measure</th><th>this period</th><th>previous</th><th>trend</th></tr>
{% for f in figures %}
<tr><td>{{ f.label }}</td><td>{{ shown(f) }}</td><td>{{ before(f) }}</td>
<td class="{{ 'bad' if f.verdict == 'worse' else 'ok' }}">{{ arrow(f) }}</td></tr>
{% endfor %}
</table>
{% if missing %}
<p>Not recorded (never counted as zero):</p>
<ul>
{% for f in missing %}<li>{{ f.label }}: <code>{{ f.how_to_record }}</code></li>
{% endfor %}
</ul>
{% endif %}
{% if linked %}
<p>Action items following a measure:</p>
<ul>
{% for a in linked %}<li>#{{ a.id }} {{ a.title }}: {{ a.measure }} \
{{ num(a.figure.now) }} (previous {{ num(a.figure.previous) }}, \
{{ a.figure.trend or "no trend" }})</li>
{% endfor %}
</ul>
{% endif %}
<p>How it was measured: {{ m.method }}</p>
"""

#: where the section goes in each format (before the first marker found)
MARKERS = {
    "md": ("## Trend against the previous review", "## How it was measured"),
    "html": ("<h2>How it was measured</h2>", "</body>"),
}


def _num(value: Any) -> str:
    if value is None:
        return "n/a"
    return f"{value:g}" if isinstance(value, int | float) else str(value)


def _shown(f: dict[str, Any]) -> str:
    if not f["recorded"]:
        return "not recorded"
    text = f"{_num(f['now'])} {f['unit']}"
    if f.get("responses"):
        text += f" ({f['responses']} responses)"
    if f.get("share_pct") is not None:
        text += f" ({f['share_pct']:g} % of calls)"
    if f.get("sources") == ["query"]:
        text += " (query)"
    return text


def _before(f: dict[str, Any]) -> str:
    return "not recorded" if f["previous"] is None else _num(f["previous"])


def _arrow(f: dict[str, Any]) -> str:
    if f["trend"] is None:
        return "n/a"
    if f["trend"] == "flat":
        return f"flat ({_num(f['change'])})"
    good = "up is good" if f["up_is_good"] else "up is bad"
    return f"{f['trend']} {_num(f['change'])}: {f['verdict']} ({good})"


def section(report: dict[str, Any], fmt: str, env: Environment) -> str:
    m = report["measures"]
    figures = [m["error_rate"], *(f for g in m["groups"] for f in g["figures"])]
    helpers: dict[str, Callable[..., str]] = {
        "shown": _shown, "before": _before, "arrow": _arrow, "num": _num,
    }  # fmt: skip
    linked = [a for a in report["actions"]["open_items"] if a.get("figure")]
    source = HTML if fmt == "html" else MD
    return env.from_string(source).render(
        m=m,
        figures=figures,
        missing=[f for f in figures if not f["recorded"]],
        linked=linked,
        **helpers,
    )


def place(text: str, report: dict[str, Any], fmt: str, env: Environment) -> str:
    """``text`` (a rendered review) with the outcome section in its place."""
    if fmt not in MARKERS or "measures" not in report:
        return text
    part = section(report, fmt, env)
    for marker in MARKERS[fmt]:
        at = text.find(marker)
        if at >= 0:
            return text[:at] + part + text[at:]
    return text + "\n" + part
