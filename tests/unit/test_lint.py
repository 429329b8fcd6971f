"""The code base passes ruff and mypy --strict."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "argv",
    [
        ["ruff", "check", "pgwarden", "tests"],
        ["ruff", "format", "--check", "pgwarden", "tests"],
        ["mypy", "pgwarden"],
    ],
    ids=["ruff-check", "ruff-format", "mypy-strict"],
)
def test_lint(argv: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
