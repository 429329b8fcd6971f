"""Workload simulation and elasticity testing.

Driver choice: SQL scenarios (TOML/YAML) run on asyncpg with each statement
prepared once per connection (:mod:`pgwarden.load.fast`), so the generator costs
the database's figures as little as it can; the reference application and Python
modules run through psycopg 3's :class:`psycopg_pool.AsyncConnectionPool`, their
real code path, whose pool semantics are what they simulate. Every report states
the generator's own cost and whether it, not the database, was the limit.
"""

from pgwarden.load.contract import ScenarioError
from pgwarden.load.engine import LoadSpec, Tick
from pgwarden.load.report import SCHEMA, build_report
from pgwarden.load.run import LoadRun, run_load
from pgwarden.load.safety import TargetRefused
from pgwarden.load.scenario import ScenarioRef

__all__ = [
    "SCHEMA",
    "LoadRun",
    "LoadSpec",
    "ScenarioError",
    "ScenarioRef",
    "TargetRefused",
    "Tick",
    "build_report",
    "run_load",
]
