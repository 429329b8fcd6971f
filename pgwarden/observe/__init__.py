"""Metrics for the dashboard, the CLI and Prometheus: one function computes them.

:func:`performance_metrics` summarises the last collected interval;
:func:`timeseries` and :func:`query_history` feed the charts.
"""

from pgwarden.observe.metrics import performance_metrics, top_queries
from pgwarden.observe.model import PerformanceMetrics
from pgwarden.observe.series import query_history, timeseries

__all__ = [
    "PerformanceMetrics",
    "performance_metrics",
    "query_history",
    "timeseries",
    "top_queries",
]
