"""Options shared by several commands, and what they resolve to."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pgwarden.config import Settings
from pgwarden.errors import ConfigurationError

LogDir = Annotated[
    Path | None,
    typer.Option(
        "--log-dir",
        help="Server log directory to read slow statements from "
        "(slow_queries.server_log_dir).",
    ),
]
Duration = Annotated[
    float | None,
    typer.Option(
        "--duration", min=0, help="Stop after this many seconds (default: never)."
    ),
]


def server_log_dir(option: Path | None, settings: Settings) -> Path | None:
    """``--log-dir``, else the setting; an existing directory or None."""
    chosen = option or settings.slow_queries.server_log_dir
    if chosen is not None and not chosen.is_dir():
        raise ConfigurationError(f"--log-dir: {chosen} is not a directory")
    return chosen
