"""Change control: request states, the board's records, quorum votes, risk classes,
DORA figures, meeting agendas and the hash-chained decision log with its witness.
"""

from pgwarden.ops.ccb import agenda, board, decisions, dora, quorum, risk, witness

__all__ = [
    "agenda",
    "board",
    "decisions",
    "dora",
    "quorum",
    "risk",
    "witness",
]
