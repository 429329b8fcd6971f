"""Reports: the Jinja2 templates beside this file and the store of generated reports
(``pgwarden.report``) the weekly, monthly, rehearsal and review reports share.
"""

from pgwarden.reports import store
from pgwarden.reports.store import human_bytes, register_target, templates

__all__ = [
    "human_bytes",
    "register_target",
    "store",
    "templates",
]
