"""The workload the advisors read: statements with their weight, and per table the
predicates, join keys, ordering and columns each statement asks for, seen through
subqueries, WITH queries and views (:class:`Shapes` holds what the target says of
them).
"""

from pgwarden.advise.workload import gather
from pgwarden.advise.workload.model import (
    EQ,
    IN,
    LIKE,
    NOT_NULL,
    NULL,
    RANGE,
    Parsed,
    Predicate,
    Shapes,
    Statement,
    TableAccess,
    View,
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
    "NOT_NULL",
    "NULL",
    "OPERATOR",
    "RANGE",
    "Parsed",
    "Predicate",
    "Shapes",
    "Statement",
    "TableAccess",
    "View",
    "Workload",
    "gather",
    "parse",
    "weighted",
]
