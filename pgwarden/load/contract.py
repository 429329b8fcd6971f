"""What every kind of scenario shares: its error and the runner it binds to."""

from __future__ import annotations

import random
from typing import Protocol

from pgwarden.errors import ConfigurationError


class ScenarioError(ConfigurationError):
    """The scenario is not valid."""


class Runner(Protocol):
    """A scenario bound to one application instance (pool and cache)."""

    async def run(self, action: str, rng: random.Random) -> None: ...
