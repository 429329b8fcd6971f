"""What every command receives: the effective settings and the output format."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import typer

from pgwarden.config import Settings
from pgwarden.errors import ConfigurationError

Format = Literal["json", "table", "md", "html"]
FORMATS: tuple[Format, ...] = ("json", "table", "md", "html")


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    format: Format | None
    debug: bool

    def target_dsn(self) -> str:
        """``--dsn``, ``PGWARDEN_DSN``, the config file, else libpq PG* variables."""
        secret = self.settings.dsn
        return secret.get_secret_value() if secret is not None else ""

    def target_name(self) -> str:
        """How the target is known in the repository: ``host:port/dbname``."""
        from pgwarden.pg import describe

        return describe(self.target_dsn())

    def repository_dsn(self) -> str:
        secret = self.settings.repository_dsn
        return secret.get_secret_value() if secret is not None else self.target_dsn()

    def output_format(self, requested: str | None, default: Format = "table") -> Format:
        chosen = requested or self.format or default
        if chosen not in FORMATS:
            raise ConfigurationError(
                f"--format: {chosen!r} is not one of {', '.join(FORMATS)}"
            )
        return chosen


def runtime(ctx: typer.Context) -> Runtime:
    obj = ctx.find_root().obj
    assert isinstance(obj, Runtime)
    return obj
