"""The metrics in the Prometheus text exposition format 0.0.4."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from pgwarden.observe.errors import ErrorRates
from pgwarden.observe.model import IndexUsage, PerformanceMetrics

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True)
class Family:
    name: str
    help: str
    kind: str = "gauge"
    samples: tuple[tuple[Mapping[str, str], float], ...] = field(default=())


def escape_label(value: str) -> str:
    """Backslash, double quote and newline escaped as the format requires."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _value(value: float) -> str:
    return repr(float(value))


def render(families: Iterable[Family]) -> str:
    lines: list[str] = []
    for family in families:
        if not family.samples:
            continue
        lines.append(f"# HELP {family.name} {_help(family.help)}")
        lines.append(f"# TYPE {family.name} {family.kind}")
        for labels, value in family.samples:
            pairs = ",".join(f'{k}="{escape_label(v)}"' for k, v in labels.items())
            label_text = "{" + pairs + "}" if pairs else ""
            lines.append(f"{family.name}{label_text} {_value(value)}")
    return "\n".join(lines) + "\n"


def _one(name: str, help_text: str, value: float | None) -> Family:
    samples: tuple[tuple[Mapping[str, str], float], ...] = (
        () if value is None else (({}, value),)
    )
    return Family(name, help_text, samples=samples)


def families(m: PerformanceMetrics) -> list[Family]:
    """Every exported metric; a value that is unknown is left out."""
    found = [
        _one("pgwarden_queries_per_second", "Statements per second, last interval.",
             m.queries_per_second),
        _one("pgwarden_transactions_per_second",
             "Commits and rollbacks per second, last interval.",
             m.transactions_per_second),
        _one("pgwarden_mean_latency_milliseconds",
             "Mean statement execution time, last interval.", m.mean_latency_ms),
        _one("pgwarden_cache_hit_ratio",
             "Shared buffer hits / block reads, last interval.",
             m.cache_hit_ratio.database),
        _one("pgwarden_app_cache_hit_ratio",
             "Application cache hit ratio as reported.", m.cache_hit_ratio.application),
        _one("pgwarden_interval_end_timestamp_seconds",
             "End of the last collected interval.",
             m.interval_end.timestamp() if m.interval_end else None),
    ]  # fmt: skip
    return [*found, *_connections(m), *_slow(m), *_indexes(m), *_tables(m)]


def _connections(m: PerformanceMetrics) -> list[Family]:
    c = m.active_connections
    if c is None:
        return []
    states = c.as_dict()["by_state"].items()
    return [
        Family("pgwarden_connections", "Client connections by state.",
               samples=tuple(({"state": s}, float(n)) for s, n in states)),
        _one("pgwarden_connections_waiting_on_lock",
             "Client connections waiting for a lock.", c.waiting_on_lock),
        _one("pgwarden_connections_max",
             "max_connections minus reserved connections.", c.available),
        _one("pgwarden_connection_utilisation_ratio",
             "Client connections / available connections.", c.utilisation),
    ]  # fmt: skip


def _slow(m: PerformanceMetrics) -> list[Family]:
    rate = m.slow_queries_per_minute
    counts = {"warning": rate.warning, "critical": rate.critical,
              "emergency": rate.emergency}  # fmt: skip
    samples = tuple(({"severity": s}, float(n)) for s, n in counts.items())
    help_text = "Slow queries in the last minute, by severity."
    return [Family("pgwarden_slow_queries_per_minute", help_text, samples=samples)]


def _indexes(m: PerformanceMetrics) -> list[Family]:
    def labels(i: IndexUsage) -> dict[str, str]:
        return {"schema": i.schema, "table": i.table or "", "index": i.index}

    days = m.index_window_days
    window = f"Index scans in the last {days} days of history."
    unused = (
        f"1 when the index had no scan in the last {days} days and backs no "
        "primary key, unique, exclusion or foreign key constraint."
    )
    count = (
        f"Indexes with no scan in the last {days} days, constraint indexes left "
        "out (as pgwarden indexes health counts them)."
    )
    return [
        _one("pgwarden_unused_indexes", count, m.unused_indexes),
        Family("pgwarden_index_scans", window,
               samples=tuple((labels(i), float(i.scans)) for i in m.index_usage)),
        Family("pgwarden_index_unused", unused,
               samples=tuple((labels(i), float(i.unused)) for i in m.index_usage
                             if i.unused is not None)),
        Family("pgwarden_index_size_bytes", "Index size.",
               samples=tuple((labels(i), float(i.size_bytes))
                             for i in m.index_usage if i.size_bytes is not None)),
    ]  # fmt: skip


def _tables(m: PerformanceMetrics) -> list[Family]:
    def pick(attr: str) -> tuple[tuple[Mapping[str, str], float], ...]:
        return tuple(
            ({"schema": t.schema, "table": t.table}, float(getattr(t, attr)))
            for t in m.table_sizes
            if getattr(t, attr) is not None
        )

    return [
        Family("pgwarden_table_size_bytes", "Table size with indexes and TOAST.",
               samples=pick("total_size_bytes")),
        Family("pgwarden_table_rows", "Estimated live rows.", samples=pick("rows")),
        Family("pgwarden_table_growth_bytes_per_day", "Growth over the last 7 days.",
               samples=pick("growth_bytes_per_day")),
    ]  # fmt: skip


def error_families(rates: ErrorRates | None) -> list[Family]:
    """Errors of the alert window by class, per minute and as a share of calls
    (:func:`pgwarden.observe.errors.error_rates`); none when not recorded."""
    if rates is None or not rates.recorded:
        return []
    window = f"the last {rates.minutes:g} min (alerts.error_rate_window_minutes)"
    classes = tuple(({"class": k}, float(n)) for k, n in rates.by_class.items())
    return [
        Family("pgwarden_errors",
               f"Errors in {window} by class: per class the larger count of the "
               "server log and the application reports.",
               samples=classes or (({"class": "none"}, 0.0),)),
        _one("pgwarden_error_rate_per_minute", f"Errors per minute over {window}.",
             rates.per_minute),
        _one("pgwarden_error_share_ratio", f"Errors / calls over {window}.",
             rates.share),
    ]  # fmt: skip


def labelled(found: Iterable[Family], target: str | None) -> list[Family]:
    """``found`` with ``target="NAME"`` first on every sample (as they are without
    a name)."""
    if target is None:
        return list(found)
    return [
        replace(f, samples=tuple(({"target": target, **{k: v for k, v in labels.items()
                                                          if k != "target"}}, value)
                                 for labels, value in f.samples))
        for f in found
    ]  # fmt: skip


def merged(*parts: Iterable[Family]) -> list[Family]:
    """One family per name, holding the samples of every part in order: the text
    format wants a family's samples together, under one HELP and TYPE."""
    by_name: dict[str, Family] = {}
    for part in parts:
        for f in part:
            known = by_name.get(f.name)
            by_name[f.name] = (
                f
                if known is None
                else replace(known, samples=known.samples + f.samples)
            )
    return list(by_name.values())


def exposition(m: PerformanceMetrics) -> str:
    """The metrics of one target, without a target label (:func:`labelled` adds
    it where several targets are exported together)."""
    return render(families(m))
