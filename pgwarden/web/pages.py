"""The dashboard's pages: one URL each, all served by the same static page.

The page at a URL holds no data (it is public, like its scripts); what it shows
comes from ``/api/admin/*`` with a token.
"""

from __future__ import annotations

#: (path, title) in the order of the navigation bar
PAGES: tuple[tuple[str, str], ...] = (
    ("/", "Overview"),
    ("/queries", "Queries"),
    ("/live", "Live"),
    ("/space", "Space"),
    ("/indexes", "Indexes"),
    ("/maintenance", "Maintenance"),
    ("/capacity", "Capacity"),
    ("/load", "Load"),
    ("/governance", "Governance"),
    ("/alerts", "Alerts"),
    ("/fleet", "Fleet"),
)
PAGE_PATHS = frozenset(path for path, _ in PAGES)
#: pages below a page: /queries/{queryid}
PAGE_PREFIXES = ("/queries/",)


def is_page(path: str) -> bool:
    """Whether ``path`` is one of the dashboard's pages (served as index.html)."""
    if path in PAGE_PATHS:
        return True
    for prefix in PAGE_PREFIXES:
        rest = path[len(prefix) :] if path.startswith(prefix) else ""
        if rest and "/" not in rest:
            return True
    return False
