"""The result of ``pgwarden doctor``: one Check per capability."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Check:
    """``detail``: what was found; ``impact``: what pgwarden loses without it;
    ``fix``: the exact statement or setting (None when ok)."""

    name: str
    ok: bool
    detail: str
    fix: str | None
    impact: str


@dataclass(frozen=True)
class DoctorReport:
    server_version_num: int
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def check(self, name: str) -> Check:
        return next(check for check in self.checks if check.name == name)

    def as_dict(self) -> dict[str, Any]:
        return {
            "server_version_num": self.server_version_num,
            "checks": [asdict(check) for check in self.checks],
        }
