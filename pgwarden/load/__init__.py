"""Workload simulation and elasticity testing.

Driver choice: the load engine drives the reference application through
psycopg 3's :class:`psycopg_pool.AsyncConnectionPool`, not asyncpg. The
application is written against that pool (``ReferenceApp(pool, cache)``), so the
simulated users run the product's real code path — its statements, its
connection-per-action pattern, its pool semantics — and pool saturation measured
here is the saturation the product would see. asyncpg would mean a second copy of
every query and a different pool; it is faster per call, which matters for raw
generator throughput (``bench/load_engine.py`` measures that cost against
pgbench), and several worker processes (``workers``) make up for it.
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
