"""The reference multi-tenant application: schema, data, actions and workload."""

from pgwarden.demo.app import ReferenceApp
from pgwarden.demo.cache import CacheStats, LRUCache
from pgwarden.demo.data import SCALES, LoadSummary, Scale, load
from pgwarden.demo.schema import (
    PLANTED_PROBLEMS,
    REFERENCE_TABLES,
    PlantedProblem,
    reference_tables_present,
)
from pgwarden.demo.workload import (
    ACTION_MIX,
    WorkloadStats,
    run_action,
    run_light_workload,
)

__all__ = [
    "ACTION_MIX",
    "PLANTED_PROBLEMS",
    "REFERENCE_TABLES",
    "SCALES",
    "CacheStats",
    "LRUCache",
    "LoadSummary",
    "PlantedProblem",
    "ReferenceApp",
    "Scale",
    "WorkloadStats",
    "load",
    "reference_tables_present",
    "run_action",
    "run_light_workload",
]
