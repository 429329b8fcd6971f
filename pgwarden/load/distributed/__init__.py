"""Distributed load generation: a run split into shards that workers run.

``pgwarden load run --distributed N`` queues N shards on the job queue; any
``pgwarden worker`` sharing the repository takes them, each runs its share of the
users and the rate from an agreed start, and the coordinator merges their
HdrHistograms exactly into one report with per-shard figures
(:mod:`~pgwarden.load.distributed.coordinate`). The worker's side is
:func:`run_shard` (:mod:`~pgwarden.load.distributed.shard`); the rows' JSON is
read back totally (:mod:`~pgwarden.load.distributed.wire`).
"""

from pgwarden.load.distributed.coordinate import (
    MAX_SHARDS,
    START_IN_S,
    DistributedRun,
    IncompleteRun,
    ShardFigures,
    ShardQueue,
    check_complete,
    check_plan,
    run_distributed,
)
from pgwarden.load.distributed.shard import Resolve, ShardFailed, run_shard, worker_name
from pgwarden.load.distributed.wire import BadShard

__all__ = [
    "MAX_SHARDS",
    "START_IN_S",
    "BadShard",
    "DistributedRun",
    "IncompleteRun",
    "Resolve",
    "ShardFailed",
    "ShardFigures",
    "ShardQueue",
    "check_complete",
    "check_plan",
    "run_distributed",
    "run_shard",
    "worker_name",
]
