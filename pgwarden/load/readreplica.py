"""The read-replica step: the same run without and with a streaming standby.

The first run sends every action to the primary; the second sends the scenario's
read-only actions to the replica (a second application pool) and the rest to the
primary. The comparison holds throughput, p95/p99 per action, and the primary's
load (connections of the load, commits per second, CPU of its backends on this
machine) before and after, plus what the replica served.

On an embedded target :func:`embedded_standby` clones a real standby of it
(:class:`~pgwarden.replica.EmbeddedReplica`: ``pg_basebackup`` through a slot,
streaming on loopback) into a fresh directory beside the server's and removes it
afterwards; ``--replica-dsn`` names an existing replica elsewhere instead, which
must be in recovery.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from psycopg.conninfo import conninfo_to_dict

from pgwarden import pg
from pgwarden.embedded import EmbeddedServer
from pgwarden.errors import TargetError
from pgwarden.load.engine import LoadSpec
from pgwarden.load.report import build_report
from pgwarden.load.run import ReplicaRefused, run_load
from pgwarden.load.safety import embedded_server

GAIN_PCT = 5.0
P95_GAIN_PCT = 10.0
RunDone = Callable[[str, str, dict[str, Any]], None]


class ReplicaUnavailable(TargetError):
    """A standby can be built only of a pgwarden embedded server."""


def primary_server(dsn: str) -> EmbeddedServer:
    """The embedded server to clone a standby of, else :class:`ReplicaUnavailable`."""
    with pg.connect(dsn) as conn:
        server = embedded_server(conn, dsn)
    if server is None:
        raise ReplicaUnavailable(
            f"--replica builds a standby of a pgwarden embedded server on this "
            f"machine; {pg.describe(dsn)} is not one: give --replica-dsn instead"
        )
    return server


@contextmanager
def embedded_standby(dsn: str) -> Iterator[str]:
    """A streaming standby of the embedded server behind ``dsn``; yields its DSN."""
    from pgwarden.replica import EmbeddedReplica

    server = primary_server(dsn)
    where = tempfile.mkdtemp(
        prefix=f"{server.data_dir.name}-replica-", dir=server.data_dir.parent
    )
    replica = EmbeddedReplica.of(server, Path(where))
    try:
        replica.start()
        replica.wait_replayed()
        dbname = str(conninfo_to_dict(dsn).get("dbname") or "postgres")
        yield replica.dsn(dbname)
    finally:
        replica.remove(delete_files=True)
        shutil.rmtree(where, ignore_errors=True)


def check_standby(dsn: str) -> None:
    """Refuse a ``--replica-dsn`` that is not in recovery (a primary takes writes)."""
    with pg.connect(dsn) as conn:
        row = pg.fetch_one(conn, pg.query("load", "in_recovery")) or {}
    if not row.get("in_recovery"):
        raise ReplicaRefused(
            f"--replica-dsn: {pg.describe(dsn)} is not in recovery, so it is not a "
            "read replica; give the DSN of a streaming standby"
        )


def compare_replica(
    spec: LoadSpec,
    replica_dsn: str,
    read_only: frozenset[str],
    target: str,
    done: RunDone | None = None,
) -> dict[str, Any]:
    """Run ``spec`` on the primary alone, then with reads on ``replica_dsn``."""
    alone = replace(spec, replica_dsn=None)
    before = build_report(run_load(alone), target)
    if done is not None:
        done("replica", "without", before)
    after = build_report(run_load(replace(spec, replica_dsn=replica_dsn)), target)
    if done is not None:
        done("replica", "with", after)
    return summarise(before, after, read_only)


def summarise(
    before: dict[str, Any], after: dict[str, Any], read_only: frozenset[str]
) -> dict[str, Any]:
    """The comparison of two reports (without and with the replica)."""
    replica = after.get("replica") or {}
    actions = []
    for name in sorted(set(before["actions"]) | set(after["actions"])):
        a = before["actions"].get(name, {})
        b = after["actions"].get(name, {})
        actions.append(
            {
                "action": name,
                "read_only": name in read_only,
                "throughput_before": a.get("throughput_per_s", 0.0),
                "throughput_after": b.get("throughput_per_s", 0.0),
                "p95_before_ms": a.get("p95_ms", 0.0),
                "p95_after_ms": b.get("p95_ms", 0.0),
                "p99_before_ms": a.get("p99_ms", 0.0),
                "p99_after_ms": b.get("p99_ms", 0.0),
            }
        )
    result = {
        "replica": replica.get("target"),
        "read_only_actions": sorted(read_only),
        "before": _side(before),
        "after": _side(after) | {"replica": _replica_side(after)},
        "actions": actions,
        "throughput_change_pct": _change(
            before["throughput_per_s"], after["throughput_per_s"]
        ),
        "p95_change_pct": _change(
            before["overall"]["p95_ms"], after["overall"]["p95_ms"]
        ),
    }
    result["playbook"] = _advice(result)
    return result


def _side(report: dict[str, Any]) -> dict[str, Any]:
    server, seconds = report["server"], report["settings"]["duration_s"]
    return {
        "throughput_per_s": report["throughput_per_s"],
        "p95_ms": report["overall"]["p95_ms"],
        "p99_ms": report["overall"]["p99_ms"],
        "error_rate": report["errors"]["rate"],
        "pool_utilisation": report["pool"]["utilisation"],
        "primary": {
            "load_connections_max": server["load_connections_max"],
            "active_mean": server["active_mean"],
            "commits_per_s": round(server["commits"] / seconds, 2),
            "cpu_cores": server["server_cpu_cores"],
            "cache_hit_ratio": _round(server["cache_hit_ratio"]),
        },
    }


def _replica_side(report: dict[str, Any]) -> dict[str, Any] | None:
    replica = report.get("replica")
    if not replica:
        return None
    server, seconds = replica["server"], report["settings"]["duration_s"]
    return {
        "pool_utilisation": replica["pool"]["utilisation"],
        "load_connections_max": server["load_connections_max"],
        "commits_per_s": round(server["commits"] / seconds, 2),
        "cpu_cores": server["server_cpu_cores"],
        "cache_hit_ratio": _round(server["cache_hit_ratio"]),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _change(before: float, after: float) -> float | None:
    return round((after - before) / before * 100, 1) if before else None


def replica_helps(result: dict[str, Any]) -> bool:
    """More throughput, or a clearly lower p95, with the replica."""
    gain, p95 = result["throughput_change_pct"], result["p95_change_pct"]
    return (gain is not None and gain >= GAIN_PCT) or (
        p95 is not None and p95 <= -P95_GAIN_PCT
    )


def _advice(result: dict[str, Any]) -> list[str]:
    gain = result["throughput_change_pct"]
    p95 = result["p95_change_pct"]
    before, after = result["before"]["primary"], result["after"]["primary"]
    load = _change(before["commits_per_s"], after["commits_per_s"])
    n = len(result["read_only_actions"])
    shown = "n/a" if gain is None else f"{gain:+.0f} %"
    if replica_helps(result):
        return [
            f"routing the {n} read-only actions to a read replica changed "
            f"throughput by {shown} and p95 by {_pct_text(p95)}; primary commits "
            f"per second {_pct_text(load)}: when the primary is CPU- or "
            "connection-bound with a read-heavy mix, add a replica and send "
            "read-only queries to it (mind replication lag for reads after writes)"
        ]
    return [
        f"a read replica changed throughput by {shown} and p95 by "
        f"{_pct_text(p95)} at this load: the primary is not the limit; scale the "
        "pool or the application first (on one machine the standby also shares "
        "the CPU)"
    ]


def _pct_text(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.0f} %"
