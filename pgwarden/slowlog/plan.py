"""auto_explain plans without literal values.

A text plan's ``Query Text`` and ``Query Parameters`` lines are dropped (the
statement is stored normalised beside it) and the expressions of ``Filter``,
``Index Cond`` and similar lines are scrubbed; JSON plans get the same treatment.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pgwarden.sqltext import scrub

_EXPR_LABEL_RE = re.compile(
    r"^(?!Rows Removed).*(Cond|Filter|Key|Output|Function Call|Condition|Order By)$"
)
_DETAIL_RE = re.compile(r"^(\s*(?:->\s*)?)([A-Z][A-Za-z -]*):(.*)$")
_NODE_RE = re.compile(r"\((?:cost|actual|never)\b|^Query (?:Parameters|Identifier):")
_DROPPED = ("Query Text", "Query Parameters")


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


def _split_json(text: str) -> tuple[str | None, str]:
    try:
        data = json.loads(text)
    except ValueError:
        return None, scrub(text)
    query = data.pop("Query Text", None) if isinstance(data, dict) else None
    return (query if isinstance(query, str) else None), json.dumps(
        _scrub_json(data), indent=2
    )


def _scrub_json(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _scrub_json(v, k) for k, v in value.items() if k not in _DROPPED}
    if isinstance(value, list):
        return [_scrub_json(item, key) for item in value]
    if isinstance(value, str) and _EXPR_LABEL_RE.match(key):
        return scrub(value)
    return value
