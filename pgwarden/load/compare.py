"""Two run reports side by side: per-action p95 and throughput changes, for CI."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pgwarden.errors import ConfigurationError
from pgwarden.load.report import SCHEMA

ERROR_RATE_POINTS = 0.01


@dataclass(frozen=True)
class Change:
    """One line of the comparison; ``change_pct`` is B against A."""

    subject: str
    metric: str
    a: float
    b: float
    change_pct: float | None
    regression: bool


def read_report(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read: {exc.strerror}") from exc
    except ValueError as exc:
        raise ConfigurationError(f"{path}: not JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ConfigurationError(f"{path}: not a load report (schema {SCHEMA})")
    return data


def compare(a: dict[str, Any], b: dict[str, Any], threshold_pct: float) -> list[Change]:
    """p95 growth or throughput loss above ``threshold_pct`` is a regression, and
    so is an error rate one percentage point higher."""
    changes = [
        _change(
            "overall",
            "p95_ms",
            a["overall"]["p95_ms"],
            b["overall"]["p95_ms"],
            threshold_pct,
            higher_is_worse=True,
        ),
        _change(
            "overall",
            "throughput_per_s",
            a["throughput_per_s"],
            b["throughput_per_s"],
            threshold_pct,
            higher_is_worse=False,
        ),
        _change(
            "overall",
            "error_rate",
            a["errors"]["rate"],
            b["errors"]["rate"],
            threshold_pct,
            higher_is_worse=True,
            absolute=True,
        ),
    ]
    for name in sorted(set(a["actions"]) & set(b["actions"])):
        pa, pb = a["actions"][name]["p95_ms"], b["actions"][name]["p95_ms"]
        changes.append(_change(name, "p95_ms", pa, pb, threshold_pct, True))
    return changes


def _change(
    subject: str,
    metric: str,
    a: float,
    b: float,
    threshold_pct: float,
    higher_is_worse: bool,
    absolute: bool = False,
) -> Change:
    pct = (b - a) / a * 100 if a else None
    if absolute:  # a rate: one percentage point more is a regression
        worse = b - a >= ERROR_RATE_POINTS
    elif pct is None:
        worse = False
    else:
        worse = pct > threshold_pct if higher_is_worse else -pct > threshold_pct
    rounded = None if pct is None else round(pct, 1)
    return Change(subject, metric, a, b, rounded, worse)


def as_rows(changes: list[Change]) -> list[dict[str, Any]]:
    return [asdict(c) for c in changes]
