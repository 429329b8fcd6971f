"""Normalised query text: literals become ``$n``, comments are set aside.

No user data may reach the slow query log, so every constant is replaced: first by
pglast's normaliser (the one ``pg_stat_statements`` uses), then by a pass over the
scanner's tokens for the constants it leaves (``COPY … FROM 'file'``, defaults), and
when the text does not even scan (a truncated query) by a conservative regex scrubber.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass

from pglast import parser

_CONSTANTS = frozenset({"SCONST", "ICONST", "FCONST", "BCONST", "XCONST", "USCONST"})
_COMMENTS = frozenset({"C_COMMENT", "SQL_COMMENT"})
_PARAM_RE = re.compile(r"\$(\d+)")
_SCRUB_RE = re.compile(
    r"""
      (?P<comment>/\*.*?(?:\*/|\Z)|--[^\n]*)
    | (?P<dollar>\$(?P<tag>[A-Za-z_][A-Za-z_0-9]*)?\$.*?(?:\$(?P=tag)?\$|\Z))
    | (?P<string>(?:[EeBbXxNn]|[Uu]&)?'(?:[^']|'')*(?:'|\Z))
    | (?P<ident>"(?:[^"]|"")*(?:"|\Z))
    | (?P<param>\$\d+)
    | (?P<word>[A-Za-z_][A-Za-z_0-9$]*)
    | (?P<number>0[XxOoBb][0-9A-Fa-f_]+|(?:\d[\d_]*\.?\d*|\.\d+)(?:[Ee][+-]?\d+)?)
    """,
    re.VERBOSE | re.DOTALL,
)


@dataclass(frozen=True)
class Normalised:
    """A statement without literals or comments, and its fingerprint."""

    text: str
    fingerprint: str
    comments: tuple[str, ...] = ()


def normalise(query: str) -> Normalised:
    """Replace literal values by ``$n`` and take the comments out."""
    query = _encodable(query)
    try:
        return _with_scanner(query)
    except parser.ParseError:
        return _with_regex(query)


def _encodable(query: str) -> str:
    """The text with what UTF-8 cannot hold (lone surrogates, NUL) replaced."""
    if "\x00" in query:
        query = query.replace("\x00", " ")
    try:
        query.encode()
    except UnicodeEncodeError:
        return query.encode(errors="replace").decode()
    return query


def _with_scanner(query: str) -> Normalised:
    comments = _comment_texts(query)
    try:
        text = parser.normalize(_strip_comments(query))
    except parser.ParseError:
        text = _strip_comments(query)
    text = _tidy(_replace_constants(text))
    return Normalised(text, _fingerprint(text), comments)


def _comment_texts(query: str) -> tuple[str, ...]:
    return tuple(
        query[tok.start : tok.end + 1]
        for tok in parser.scan(query)
        if tok.name in _COMMENTS
    )


def _strip_comments(query: str) -> str:
    return _splice(query, _COMMENTS, lambda _: " ")


def _replace_constants(text: str) -> str:
    counter = itertools.count(_max_param(text) + 1)
    return _splice(text, _CONSTANTS, lambda _: f"${next(counter)}")


def _splice(text: str, names: frozenset[str], repl: Callable[[str], str]) -> str:
    parts, pos = [], 0
    for tok in parser.scan(text):
        if tok.name in names:
            parts += [text[pos : tok.start], repl(text[tok.start : tok.end + 1])]
            pos = tok.end + 1
    parts.append(text[pos:])
    return "".join(parts)


def _max_param(text: str) -> int:
    """The highest ``$n`` of the text (absurdly long numbers are no parameter)."""
    return max((int(m) for m in _PARAM_RE.findall(text) if len(m) <= 18), default=0)


def _tidy(text: str) -> str:
    return text.strip().rstrip(";").strip()


def _fingerprint(text: str) -> str:
    try:
        return str(parser.fingerprint(text))
    except parser.ParseError:
        collapsed = " ".join(text.lower().split())
        return hashlib.blake2b(collapsed.encode(), digest_size=8).hexdigest()


def _with_regex(query: str) -> Normalised:
    comments: list[str] = []
    counter = itertools.count(_max_param(query) + 1)

    def replace(match: re.Match[str]) -> str:
        if match.lastgroup == "comment":
            comments.append(match.group(0))
            return " "
        if match.lastgroup in ("dollar", "string", "number"):
            return f"${next(counter)}"
        return match.group(0)

    text = _tidy(_SCRUB_RE.sub(replace, query))
    return Normalised(text, _fingerprint(text), tuple(comments))


def scrub(query: str) -> str:
    """Conservatively replace strings, dollar-quoted bodies and numbers by ``$n``.

    Comments are dropped. Used when the text does not scan (e.g. a truncated query).
    """
    return _with_regex(_encodable(query)).text
