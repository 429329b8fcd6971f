"""The numbers the rules judge, one function each.

The rules (:mod:`pgwarden.alerts.rules`), ``/metrics`` (:mod:`pgwarden.alerts.exported`)
and so the exported Prometheus rules read these same values from the same
:class:`~pgwarden.alerts.facts.Facts`. None means the input was not available.
"""

from __future__ import annotations

from pgwarden.alerts import facts as src
from pgwarden.alerts.facts import Facts, IndexBloat, Session

#: transaction IDs before wraparound (2^31)
XID_LIMIT = 2**31


def longest_transaction_s(f: Facts) -> float | None:
    """Age of the oldest open transaction: live sessions, else the collected point."""
    if src.SESSIONS in f.sources:
        return max((x.xact_s for x in f.sessions), default=0.0)
    if f.database is not None:
        return float(f.database.get("longest_xact_s") or 0)
    return None


def idle_in_transaction(f: Facts, min_s: float = 0.0) -> list[Session]:
    """Sessions idle in transaction for at least ``min_s`` seconds."""
    return [
        x for x in f.sessions
        if (x.state or "").startswith("idle in transaction") and x.state_s >= min_s
    ]  # fmt: skip


def longest_idle_in_transaction_s(f: Facts) -> float | None:
    if src.SESSIONS not in f.sources:
        return None
    return max((x.state_s for x in idle_in_transaction(f)), default=0.0)


def blocked(f: Facts, min_wait_s: float) -> list[Session]:
    """Sessions waiting for a lock held by another for at least ``min_wait_s``."""
    return [x for x in f.sessions if x.blockers > 0 and x.state_s >= min_wait_s]


def xid_age_ratio(f: Facts) -> float | None:
    """Age of the oldest database's frozen XID as a share of the 2^31 limit."""
    return None if f.xid_age is None else f.xid_age / XID_LIMIT


def wraparound_margin_pct(f: Facts) -> float | None:
    """Share of the XID space left before wraparound, in per cent."""
    ratio = xid_age_ratio(f)
    return None if ratio is None else 100.0 * (1 - ratio)


def sized_indexes(f: Facts, min_bytes: int) -> list[IndexBloat]:
    """Indexes whose bloat is judged: those of at least ``min_bytes``."""
    return [idx for idx in f.index_bloat if idx.size_bytes >= min_bytes]
