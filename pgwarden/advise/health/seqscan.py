"""Missing index signals (no I/O): tables read mostly by sequential scans of many
rows. The table, the numbers and the reason are handed to the index advisor, which
turns the statements that scan it into concrete proposals."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pgwarden.advise.findings import Finding
from pgwarden.advise.model import History, TableInfo


@dataclass(frozen=True)
class SeqScanRule:
    min_scans: int = 100
    min_rows_per_scan: int = 10_000
    min_share_pct: float = 50.0


def _counts(t: TableInfo, history: History | None) -> tuple[Mapping[str, int], bool]:
    usage = history.tables.get(t.oid) if history is not None else None
    if usage is not None:
        return usage.values, False
    live = {"seq_scan": t.seq_scan, "seq_tup_read": t.seq_tup_read,
            "idx_scan": t.idx_scan}  # fmt: skip
    return live, True


def seq_scan_heavy(
    tables: Iterable[TableInfo], history: History | None, rule: SeqScanRule
) -> list[Finding]:
    found = []
    for t in tables:
        counts, live = _counts(t, history)
        seq, read, idx = counts["seq_scan"], counts["seq_tup_read"], counts["idx_scan"]
        if seq < rule.min_scans or seq == 0:
            continue
        per_scan = read / seq
        share = 100.0 * seq / (seq + idx)
        if per_scan < rule.min_rows_per_scan or share < rule.min_share_pct:
            continue
        severe = per_scan >= 10 * rule.min_rows_per_scan
        where = "since the last statistics reset" if live else "in the period"
        found.append(
            Finding(
                kind="seq_scan", schema=t.schema, table=t.name, index=None,
                size_bytes=t.size_bytes, severity="warning" if severe else "info",
                evidence={"seq_scan": seq, "seq_tup_read": read, "idx_scan": idx,
                          "rows_per_seq_scan": round(per_scan),
                          "seq_scan_share_pct": round(share, 1),
                          "source": "live counters" if live else "history",
                          "advisor": {"table": t.name, "schema": t.schema,
                                      "reason": "sequential scans of many rows"}},
                recommendation=f"{seq} sequential scans {where} read "
                f"{per_scan:,.0f} rows each ({share:.0f} % of its scans): a missing "
                "index is likely; `pgwarden indexes advise` proposes one from the "
                "statements that scan this table.",
                provisional=live,
            )
        )  # fmt: skip
    return found


def advisor_tables(findings: Iterable[Finding]) -> list[tuple[str, str]]:
    """(schema, table) the index advisor should look at."""
    return [(f.schema, f.table) for f in findings if f.kind == "seq_scan"]
