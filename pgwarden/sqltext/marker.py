"""The marker of pgwarden's own statements: a comment right after each first word.

Every statement pgwarden sends carries :data:`MARKER` (``pg.py`` puts it on), so
it is told apart from the application's workload on every server version.
``pg_stat_statements`` keeps the first text it sees for a statement, comments
included, but only from the statement's first token on: PostgreSQL 18 drops a
comment written before it, and in a script of several statements each one is
kept apart. The marker therefore follows the first token of every statement of
a text (``SELECT /* pgwarden */ ...``), where every version keeps it, and where
``pg_stat_activity`` and the server log show it too.

The statements of a PL/pgSQL ``DO`` block run nested, each recorded with its own
text from the block's body: they are marked inside the body the same way. A
function's body is stored, not sent each time; its statements are recognised by
what they name (see :mod:`pgwarden.sqltext.own`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from typing import Any

from pglast import parser

MARKER = "/* pgwarden */"
_COMMENTS = frozenset({"C_COMMENT", "SQL_COMMENT"})
_SEMICOLON = "ASCII_59"
#: PL/pgSQL words after which a statement starts (besides ``;``)
_BLOCK_WORDS = frozenset({"begin", "declare", "else", "exception", "loop", "then"})


def is_marked(text: str) -> bool:
    """True for a statement text that carries pgwarden's marker."""
    return MARKER in text


@functools.lru_cache(maxsize=4096)
def mark(text: str) -> str:
    """``text`` with the marker after the first token of each of its statements.

    A marked text is returned as it is; so is one without any statement. A text
    the scanner cannot read (the server will refuse it too) gets the marker first.
    """
    if MARKER in text:
        return text
    try:
        tokens = _tokens(text)
    except parser.ParseError:
        return f"{MARKER} {text}"
    pieces, at = [], 0
    for statement in _statements(tokens):
        cut = statement[0].end + 1
        pieces += [text[at:cut], f" {MARKER}"]
        at = cut
        body = _plpgsql_body(text, statement)
        if body is not None:
            start, end = body
            pieces += [text[at:start], _mark_block(text[start:end])]
            at = end
    return "".join([*pieces, text[at:]])


def _tokens(text: str) -> list[Any]:
    return [t for t in parser.scan(text) if t.name not in _COMMENTS]


def _statements(tokens: Sequence[Any]) -> Iterator[list[Any]]:
    """The tokens of each statement, split at top-level ``;``."""
    statement: list[Any] = []
    for token in tokens:
        if token.name == _SEMICOLON:
            if statement:
                yield statement
            statement = []
        else:
            statement.append(token)
    if statement:
        yield statement


def _word(text: str, token: Any) -> str:
    return str(text[token.start : token.end + 1]).lower()


def _plpgsql_body(text: str, statement: Sequence[Any]) -> tuple[int, int] | None:
    """Where the dollar-quoted PL/pgSQL body of a ``DO`` statement lies."""
    words = [_word(text, t) for t in statement]
    if words[0] != "do":
        return None
    if "language" in words[:-1]:
        language = words[words.index("language") + 1].strip("'\"")
        if language != "plpgsql":
            return None
    for token, word in zip(statement, words, strict=True):
        if token.name == "SCONST" and word.startswith("$"):
            quote = word.index("$", 1) + 1
            return token.start + quote, token.end + 1 - quote
    return None


def _mark_block(body: str) -> str:
    """A PL/pgSQL body with the marker after each statement's first token."""
    try:
        tokens = _tokens(body)
    except parser.ParseError:
        return body
    cuts, starting = [], False
    for token in tokens:
        word = _word(body, token)
        if token.name == _SEMICOLON:
            starting = True
        elif starting:
            cuts.append(token.end + 1)
            starting = word in _BLOCK_WORDS
        elif word in _BLOCK_WORDS:
            starting = True
    for cut in reversed(cuts):
        body = f"{body[:cut]} {MARKER}{body[cut:]}"
    return body
