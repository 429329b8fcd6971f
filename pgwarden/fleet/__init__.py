"""The fleet: the registry of the targets the workers serve, and discovery.

``registered`` lists them, ``connect_dsn`` gives the DSN a connection uses (the
password from the target's environment variable, or left to libpq),
``record_status`` keeps the outcome of each target's last cycle. ``add``,
``discover``, ``set_paused`` and ``remove`` change the registry (``pgwarden
targets``). Passwords are never stored: see :mod:`pgwarden.fleet.passwords`.
"""

from pgwarden.fleet.discover import Discovery, discover, rediscover
from pgwarden.fleet.passwords import WHERE_FROM, Stripped, strip
from pgwarden.fleet.registry import (
    Added,
    Listed,
    Registered,
    add,
    connect_dsn,
    find,
    listing,
    record_status,
    registered,
    remove,
    set_paused,
)

__all__ = [
    "WHERE_FROM",
    "Added",
    "Discovery",
    "Listed",
    "Registered",
    "Stripped",
    "add",
    "connect_dsn",
    "discover",
    "find",
    "listing",
    "record_status",
    "rediscover",
    "registered",
    "remove",
    "set_paused",
    "strip",
]
