"""Who ran a statement: sqlcommenter or marginalia comments, else what is known.

sqlcommenter writes ``/*action='list_assessments',route='/assessments'*/`` (sorted,
URL-encoded ``key='value'`` pairs); marginalia writes
``/*application:App,controller:users,action:index*/``. Both become a short string
such as ``list_assessments /assessments`` or ``users#index``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import unquote

_SQLCOMMENTER_RE = re.compile(r"([A-Za-z0-9_.%-]+)='((?:[^'\\]|\\.)*)'")
_MARGINALIA_RE = re.compile(r"^\s*[A-Za-z_]+:[^,]*(?:,[A-Za-z_]+:[^,]*)*\s*$")
MAX_CALLER_CHARS = 200


def comment_tags(comment: str) -> dict[str, str]:
    """The key/value pairs of one sqlcommenter or marginalia comment (or none)."""
    body = _body(comment)
    pairs = _SQLCOMMENTER_RE.findall(body)
    if pairs:
        return {unquote(key): unquote(value) for key, value in pairs}
    if _MARGINALIA_RE.match(body):
        items = (part.split(":", 1) for part in body.split(","))
        return {key.strip(): value.strip() for key, value in items}
    return {}


def _body(comment: str) -> str:
    text = comment.strip()
    if text.startswith("/*"):
        text = text[2:].removesuffix("*/")
    elif text.startswith("--"):
        text = text[2:]
    return text.strip()


def caller_from_tags(tags: Mapping[str, str]) -> str | None:
    """``controller#action route``, ``action route`` or the ``line`` tag."""
    action, controller = tags.get("action"), tags.get("controller")
    head = f"{controller}#{action}" if controller and action else action or controller
    parts = [part for part in (head, tags.get("route")) if part]
    if not parts and tags.get("line"):
        parts = [tags["line"]]
    return _short(" ".join(parts)) if parts else None


def caller_from_comments(comments: Iterable[str]) -> str | None:
    for comment in comments:
        caller = caller_from_tags(comment_tags(comment))
        if caller:
            return caller
    return None


def resolve_caller(
    comments: Iterable[str],
    reported: str | None = None,
    application_name: str | None = None,
) -> str | None:
    """Comments first, then the application's own report, then application_name."""
    return (
        caller_from_comments(comments)
        or _short(reported)
        or _short(application_name)
        or None
    )


def _short(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    return value.strip()[:MAX_CALLER_CHARS]
