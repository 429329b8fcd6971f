"""Statement text: literal values normalised away, callers named by comments,
pgwarden's own statements marked and recognised, pglast trees walked.
"""

from pgwarden.sqltext import own
from pgwarden.sqltext.caller import caller_from_comments, resolve_caller
from pgwarden.sqltext.literals import Normalised, normalise, scrub
from pgwarden.sqltext.marker import MARKER, is_marked, mark
from pgwarden.sqltext.own import is_own, own_queryids
from pgwarden.sqltext.tree import ONE_LEVEL, SUBQUERIES, walk

__all__ = [
    "MARKER",
    "ONE_LEVEL",
    "SUBQUERIES",
    "Normalised",
    "caller_from_comments",
    "is_marked",
    "is_own",
    "mark",
    "normalise",
    "own",
    "own_queryids",
    "resolve_caller",
    "scrub",
    "walk",
]
