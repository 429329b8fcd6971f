"""Tag SQL statements with sqlcommenter comments (action, route, application)."""

from __future__ import annotations

from urllib.parse import quote

APPLICATION = "reference-app"


def sqlcomment(**tags: str) -> str:
    """A sqlcommenter comment: sorted ``key='value'`` pairs, URL-encoded.

    >>> sqlcomment(route="/assessments/:id", action="open")
    "/*action='open',route='/assessments/%3Aid'*/"
    """
    pairs = ",".join(f"{_encode(k)}='{_encode(v)}'" for k, v in sorted(tags.items()))
    return f"/*{pairs}*/"


def tag(statement: str, *, action: str, route: str) -> str:
    """``statement`` with its comment appended, ready for a parameterised execute.

    The comment's ``%`` are doubled because psycopg reads ``%`` as a placeholder
    when parameters are passed (they always are in the reference application).
    """
    comment = sqlcomment(action=action, application=APPLICATION, route=route)
    return f"{statement.rstrip().rstrip(';')} {comment.replace('%', '%%')}"


def _encode(value: str) -> str:
    # quote() leaves "/" readable and encodes the quote character, as the spec asks
    return quote(value, safe="/")
