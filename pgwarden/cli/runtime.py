"""What every command receives: the effective settings and the output format."""

from __future__ import annotations

from collections.abc import Sequence
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

    def output_format(
        self,
        requested: str | None,
        default: Format = "table",
        allowed: Sequence[Format] = FORMATS,
    ) -> Format:
        """The command's ``--format``, else the global one, else ``default``.

        A format the command cannot produce is refused (exit 2), never replaced.
        """
        chosen = requested or self.format or default
        for known in allowed:
            if known == chosen:
                return known
        what = "" if tuple(allowed) == FORMATS else " for this command"
        raise ConfigurationError(
            f"--format: {chosen!r} is not one of {', '.join(allowed)}{what}"
        )


def runtime(ctx: typer.Context) -> Runtime:
    obj = ctx.find_root().obj
    assert isinstance(obj, Runtime)
    return obj
