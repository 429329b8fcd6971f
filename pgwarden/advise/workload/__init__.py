"""The workload the advisors read: statements with their weight, and per table the
predicates, join keys, ordering and columns each statement asks for.
"""

from pgwarden.advise.workload import gather
from pgwarden.advise.workload.model import (
    EQ,
    IN,
    LIKE,
    RANGE,
    Parsed,
    Predicate,
    Statement,
    TableAccess,
)
from pgwarden.advise.workload.operators import (
    EXPR_LIKE,
    EXPR_PARAM,
    EXPRESSION_OPS,
    KNN,
    LIKE_INFIX,
    OPERATOR,
)
from pgwarden.advise.workload.reader import Workload, parse, weighted

__all__ = [
    "EQ",
    "EXPRESSION_OPS",
    "EXPR_LIKE",
    "EXPR_PARAM",
    "IN",
    "KNN",
    "LIKE",
    "LIKE_INFIX",
    "OPERATOR",
    "RANGE",
    "Parsed",
    "Predicate",
    "Statement",
    "TableAccess",
    "Workload",
    "gather",
    "parse",
    "weighted",
]
