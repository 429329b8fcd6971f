"""Metrics for the dashboard, the CLI and Prometheus: one function computes them.

:func:`performance_metrics` summarises the last collected interval;
:func:`timeseries` and :func:`query_history` feed the charts; :func:`error_rates`
counts errors by class over a period.
"""

from pgwarden.observe.errors import ErrorRates, error_rates
from pgwarden.observe.metrics import performance_metrics, top_queries
from pgwarden.observe.model import PerformanceMetrics
from pgwarden.observe.series import query_history, timeseries

__all__ = [
    "ErrorRates",
    "PerformanceMetrics",
    "error_rates",
    "performance_metrics",
    "query_history",
    "timeseries",
    "top_queries",
]
