"""What every command receives: the effective settings and the output format."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
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
    #: ``--target``: a registered target's name, instead of ``--dsn``
    target: str | None = None
    _names: dict[str, str] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def target_dsn(self) -> str:
        """``--target``'s registered DSN, else ``--dsn``, ``PGWARDEN_DSN``, the config
        file, else libpq PG* variables."""
        if self.target is not None:
            return self._registered()[1]
        secret = self.settings.dsn
        return secret.get_secret_value() if secret is not None else ""

    def _registered(self) -> tuple[str, str]:
        """``--target``: its name and the DSN to connect with (password from its
        variable, or left to libpq), read once from the registry."""
        assert self.target is not None
        key = f"\0target:{self.target}"
        if key not in self._names:
            from pgwarden import fleet, pg
            from pgwarden.dsn import filter_logs

            secret = self.settings.repository_dsn
            if secret is None:
                raise ConfigurationError(
                    "--target: the registry is in the repository; give "
                    "--repository-dsn (or PGWARDEN_REPOSITORY_DSN)"
                )
            with pg.connect(secret.get_secret_value()) as repo:
                found = fleet.find(repo, self.target)
            dsn = fleet.connect_dsn(found)
            filter_logs(dsn)
            self._names[key] = dsn
            self._names[dsn] = found.name
        return self.target, self._names[key]

    def target_name(self) -> str:
        """How the target is known in the repository, whatever address reaches it.

        Resolved once per command by the database's identity (its name is the one
        first registered, ``host:port/dbname`` of that first sight); the address
        when the target or the repository cannot be read.
        """
        dsn = self.target_dsn()
        if self.target is not None:
            return self._names[dsn]
        if dsn not in self._names:
            from pgwarden.repository.targets import name_of

            self._names[dsn] = name_of(dsn, self.repository_dsn())
        return self._names[dsn]

    def repository_dsn(self) -> str:
        secret = self.settings.repository_dsn
        if secret is None and self.target is not None:
            self._registered()  # says the repository is needed
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
