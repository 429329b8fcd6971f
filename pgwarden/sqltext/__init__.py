"""Statement text: literal values normalised away, callers named by comments,
pgwarden's own statements recognised, pglast trees walked.
"""

from pgwarden.sqltext import own
from pgwarden.sqltext.caller import caller_from_comments, resolve_caller
from pgwarden.sqltext.literals import Normalised, normalise, scrub
from pgwarden.sqltext.own import is_own, own_queryids
from pgwarden.sqltext.tree import ONE_LEVEL, SUBQUERIES, walk

__all__ = [
    "ONE_LEVEL",
    "SUBQUERIES",
    "Normalised",
    "caller_from_comments",
    "is_own",
    "normalise",
    "own",
    "own_queryids",
    "resolve_caller",
    "scrub",
    "walk",
]
