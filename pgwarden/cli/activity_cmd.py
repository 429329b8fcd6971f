"""``pgwarden activity``: the server now, as the dashboard's Live page shows it."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from rich.text import Text

from pgwarden import pg
from pgwarden.cli.output import emit_json, emit_rows, err, out
from pgwarden.cli.runtime import runtime

FormatOption = Annotated[
    str | None, typer.Option("--format", help="json, table or md.")
]
SESSION_COLUMNS = ("pid", "user", "application", "client", "state", "wait",
                   "query_s", "xact_s", "backend", "query")  # fmt: skip


def activity(ctx: typer.Context, fmt: FormatOption = None) -> None:
    """Sessions, blocking, long transactions, what holds back vacuum, replication."""
    from pgwarden.observe.activity import read_activity

    rt = runtime(ctx)
    chosen = rt.output_format(fmt, allowed=("json", "table", "md"))
    limit_s = rt.settings.alerts.long_transaction_minutes * 60
    with pg.connect(
        rt.target_dsn(), statement_timeout_ms=rt.settings.statement_timeout_ms
    ) as conn:
        data = read_activity(conn, limit_s).as_dict()
    if chosen == "json":
        emit_json(data)
        return
    _print(chosen, data)
    for note in data["privileges"]["notes"]:
        err.print(f"note: {note}", markup=False)


def _print(fmt: str, data: dict[str, Any]) -> None:
    counts = data["counts"]
    summary = [
        ("client sessions", counts["total"]),
        *((f"  {state}", n) for state, n in counts["by_state"].items()),
        ("waiting on locks", counts["waiting_on_locks"]),
        ("longest transaction s", _s(counts["longest_transaction_s"])),
        ("server", "standby" if data["standby"] else "primary"),
    ]
    emit_rows(fmt, "activity", ["figure", "value"], summary)
    _section(fmt, "sessions not idle", SESSION_COLUMNS,
             [_session_row(s) for s in data["sessions"]],
             "No session is working: every client session is idle.")  # fmt: skip
    _section(fmt, "blocking (blocker, then the sessions it blocks)",
             ["pid", "user", "application", "waits for", "xact_s", "query"],
             [row for tree in data["blocking"] for row in _tree_rows(tree, 0)],
             "No session is blocked.")  # fmt: skip
    limit = _s(data["long_transaction_seconds"])
    _section(fmt, f"transactions open over {limit} s", SESSION_COLUMNS,
             [_session_row(s) for s in data["long_transactions"]],
             "No long transactions.")  # fmt: skip
    _section(fmt, "what holds back vacuum (xmin)",
             ["kind", "name", "pid", "xmin_age", "since"],
             [[h["kind"], h["name"], h["pid"], h["xmin_age"], h["since"]]
              for h in data["xmin_holders"]], "Nothing holds back vacuum.")  # fmt: skip
    _print_replication(fmt, data["replication"])


def _print_replication(fmt: str, replication: dict[str, Any]) -> None:
    _section(fmt, "replicas", ["name", "client", "state", "sync", "write_lag_s",
                               "flush_lag_s", "replay_lag_s", "lag_bytes"],
             [[r["application_name"], r["client_addr"], r["state"], r["sync_state"],
               _s(r["write_lag_s"]), _s(r["flush_lag_s"]), _s(r["replay_lag_s"]),
               r["lag_bytes"]] for r in replication["replicas"]],
             "No replicas: no standby streams from this server.")  # fmt: skip
    standby = replication["standby"]
    if standby:
        emit_rows(fmt, "this standby", ["replay_lag_s", "lag_bytes", "last_replay_at"],
                  [[_s(standby["replay_lag_s"]), standby["lag_bytes"],
                    standby["last_replay_at"]]])  # fmt: skip
    _section(fmt, "replication slots", ["slot", "type", "active", "wal_status",
                                        "retained_bytes"],
             [[s["slot_name"], s["slot_type"], s["active"], s["wal_status"],
               s["retained_bytes"]] for s in replication["slots"]],
             "No replication slots.")  # fmt: skip


def _section(
    fmt: str, title: str, columns: Sequence[str], rows: list[list[Any]], empty: str
) -> None:
    """A table, or its title and the sentence that says it is empty."""
    if rows:
        emit_rows(fmt, title, columns, rows)
    elif fmt == "md":
        sys.stdout.write(f"## {title}\n\n{empty}\n")
    else:
        out.print(Text(f"{title}: {empty}"))


def _session_row(s: dict[str, Any]) -> list[Any]:
    wait = ":".join(w for w in (s["wait_event_type"], s["wait_event"]) if w)
    own = " (pgwarden)" if s["own"] else ""
    query = " ".join(str(s["query"] or "").split())
    return [s["pid"], s["user"], (s["application_name"] or "") + own, s["client"],
            s["state"], wait, _s(s["query_s"]), _s(s["xact_s"]), s["backend_type"],
            query[:100]]  # fmt: skip


def _tree_rows(node: dict[str, Any], depth: int) -> list[list[Any]]:
    lock = node["lock"]["waiting_for"] if node["lock"] else ""
    query = " ".join(str(node["query"] or "").split())
    pid = ("  " * depth) + str(node["pid"])
    rows = [[pid, node["user"], node["application_name"], lock, _s(node["xact_s"]),
             query[:80]]]  # fmt: skip
    for child in node["blocked"]:
        rows += _tree_rows(child, depth + 1)
    return rows


def _s(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"
