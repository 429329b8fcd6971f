"""Options shared by several commands, and what they resolve to."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from pgwarden.config import MAX_DURATION, Settings
from pgwarden.errors import ConfigurationError

Number = TypeVar("Number", int, float)
#: the highest TCP port
MAX_PORT = 65_535


def seconds(option: str) -> Callable[[Number | None], Number | None]:
    """A callback refusing a number of seconds below 0, not finite, above 100 years.

    ``inf`` and huge numbers get past Typer's ``min=`` and would fail later, in a
    sleep or a date.
    """

    def check(value: Number | None) -> Number | None:
        if value is not None and not (
            math.isfinite(value) and 0 <= value <= MAX_DURATION.total_seconds()
        ):
            raise ConfigurationError(
                f"{option}: {value} is not a number of seconds from 0 to 100 years"
            )
        return value

    return check


def listen_port(value: int, source: str, *, any_port: bool = False) -> int:
    """A TCP port to listen on, 1-65535 (or 0 for any free port when ``any_port``)."""
    low = 0 if any_port else 1
    if not low <= value <= MAX_PORT:
        raise ConfigurationError(
            f"{source}: {value} is not a port to listen on; give {low}-{MAX_PORT}"
        )
    return value


LogDir = Annotated[
    Path | None,
    typer.Option(
        "--log-dir",
        help="Server log directory to read slow statements from "
        "(slow_queries.server_log_dir; default: the one the server names, "
        "when it can be read).",
    ),
]
Duration = Annotated[
    float | None,
    typer.Option(
        "--duration",
        min=0,
        callback=seconds("--duration"),
        help="Stop after this many seconds (default: never).",
    ),
]


def server_log_dir(option: Path | None, settings: Settings) -> Path | None:
    """``--log-dir``, else the setting; an existing directory or None."""
    chosen = option or settings.slow_queries.server_log_dir
    if chosen is not None and not chosen.is_dir():
        raise ConfigurationError(f"--log-dir: {chosen} is not a directory")
    return chosen
