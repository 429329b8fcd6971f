"""Index kinds beyond plain B-tree columns: expression B-trees, GIN, GiST and BRIN."""

from pgwarden.advise.indexes.special import advice, facts
from pgwarden.advise.indexes.special.facts import Facts

__all__ = [
    "Facts",
    "advice",
    "facts",
]
