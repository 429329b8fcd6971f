"""The pgwarden error tree.

    PgwardenError                 exit 2 unless a subclass says otherwise
    ├── ConfigurationError        bad setting, file or option (exit 2)
    ├── TargetError               target unreachable or lacking what is needed (exit 3)
    │   ├── ConnectionFailed
    │   ├── MissingCapability     extension, setting or privilege missing
    │   ├── EmbeddedServerError
    │   └── WriteRefused          not provably the database a write was meant for
    └── DemoDataExists            reference tables already present (exit 2)

Each class's docstring is its default message; ``str(error)`` is what the CLI prints.
"""

from __future__ import annotations


class PgwardenError(Exception):
    """pgwarden failed."""

    exit_code = 2

    def __init__(self, message: str | None = None, **context: object) -> None:
        self.message = message or (self.__doc__ or "").strip()
        self.context = context
        super().__init__(self.message)


class ConfigurationError(PgwardenError):
    """The configuration is not valid."""


class TargetError(PgwardenError):
    """The target database cannot be used."""

    exit_code = 3


class ConnectionFailed(TargetError):
    """Cannot connect to the database."""


class MissingCapability(TargetError):
    """The database lacks an extension, setting or privilege this command needs."""


class EmbeddedServerError(TargetError):
    """The embedded PostgreSQL server could not be managed."""


class WriteRefused(TargetError):
    """Refusing to write: the database is not provably the one meant."""


class DemoDataExists(PgwardenError):
    """The reference application tables already exist; pass --reset to replace them."""
