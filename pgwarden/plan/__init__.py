"""Track 3: capacity planning and partitioning advice.

Analysis (:mod:`.trend`, :mod:`.evidence`, :mod:`.baseline`, :mod:`.project`) takes
rows and returns results; :mod:`.gather` reads pgwarden's history and the target
(with the creation times of its largest tables when the history is short);
:mod:`.xlsx` and :mod:`.report` render; :mod:`.partitions` advises partitioning of
large tables.
"""

from pgwarden.plan import xlsx
from pgwarden.plan.baseline import Baseline, build_baseline
from pgwarden.plan.gather import NoHistory, inputs, target_of
from pgwarden.plan.project import (
    Assumptions,
    NoGrowthEvidence,
    Projection,
    parse_months,
    usl_of,
)
from pgwarden.plan.project import project as project_capacity
from pgwarden.plan.report import baseline_md, projection_md

__all__ = [
    "Assumptions",
    "Baseline",
    "NoGrowthEvidence",
    "NoHistory",
    "Projection",
    "baseline_md",
    "build_baseline",
    "inputs",
    "parse_months",
    "project_capacity",
    "projection_md",
    "target_of",
    "usl_of",
    "xlsx",
]
