"""auto_explain plans without literal values.

A text plan's ``Query Text`` and ``Query Parameters`` lines are dropped (the
statement is stored normalised beside it) and the expressions of ``Filter``,
``Index Cond`` and similar lines are scrubbed; JSON plans get the same treatment.
Any text is taken (a plan may be forged with ``RAISE LOG``): what does not parse as
JSON is scrubbed as text, and JSON nested deeper than :data:`MAX_DEPTH` is cut.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pgwarden.sqltext import scrub as scrub_text

_EXPR_LABEL_RE = re.compile(
    r"^(?!Rows Removed).*(Cond|Filter|Key|Output|Function Call|Condition|Order By)$"
)
_DETAIL_RE = re.compile(r"^(\s*(?:->\s*)?)([A-Z][A-Za-z -]*):(.*)$")
_NODE_RE = re.compile(r"\((?:cost|actual|never)\b|^Query (?:Parameters|Identifier):")
_DROPPED = ("Query Text", "Query Parameters")
#: JSON plans deeper than this (a plan node is two levels) are cut there
MAX_DEPTH = 200
_CUT = "..."
#: what replaces an expression the scrubber cannot take: nothing of it is kept
_UNREADABLE = "$?"


def split_plan(body: str) -> tuple[str | None, str]:
    """``(query text, plan)`` of an auto_explain message body (after ``plan:``)."""
    text = body.strip("\n")
    if text.lstrip().startswith("{"):
        return _split_json(text)
    return _split_text(text)


def _split_text(text: str) -> tuple[str | None, str]:
    lines = text.splitlines()
    if not lines or not lines[0].startswith("Query Text:"):
        return None, scrub_text_plan(lines)
    first_node = next(
        (i for i, line in enumerate(lines[1:], 1) if _NODE_RE.search(line)), 1
    )
    query = "\n".join([lines[0].removeprefix("Query Text:"), *lines[1:first_node]])
    return query.strip(), scrub_text_plan(lines[first_node:])


def scrub_text_plan(lines: list[str]) -> str:
    """Keep node lines and counters; scrub expressions and anything unrecognised."""
    kept = []
    for line in lines:
        match = _DETAIL_RE.match(line)
        if match and match.group(2).strip() in _DROPPED:
            continue
        if match and _EXPR_LABEL_RE.match(match.group(2).strip()):
            line = f"{match.group(1)}{match.group(2)}: {scrub(match.group(3))}"
        elif match is None and not _NODE_RE.search(line):
            line = line[: len(line) - len(line.lstrip())] + scrub(line)
        kept.append(line)
    return "\n".join(kept)


def scrub(text: str) -> str:
    """Literal values out of an expression; ``$?`` when the text defeats the
    scrubber (a forged plan may hold anything)."""
    try:
        return scrub_text(text)
    except Exception:  # whatever the text is, none of it is kept
        return _UNREADABLE


def _split_json(text: str) -> tuple[str | None, str]:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: absurd nesting
        return None, scrub(text)
    query = data.pop("Query Text", None) if isinstance(data, dict) else None
    return (query if isinstance(query, str) else None), json.dumps(
        _scrub_json(data), indent=2
    )


def _scrub_json(value: Any, key: str = "", depth: int = 0) -> Any:
    if depth >= MAX_DEPTH and isinstance(value, dict | list):
        return _CUT
    if isinstance(value, dict):
        return {
            k: _scrub_json(v, k, depth + 1)
            for k, v in value.items()
            if k not in _DROPPED
        }
    if isinstance(value, list):
        return [_scrub_json(item, key, depth + 1) for item in value]
    if isinstance(value, str) and _EXPR_LABEL_RE.match(key):
        return scrub(value)
    return value
