"""A golden copy of ``pgwarden --help``: a change to the interface is a visible diff.

Regenerate after an intended change with ``PGWARDEN_UPDATE_GOLDEN=1 pytest -k help``.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.cli_helpers import pgwarden

GOLDEN = Path(__file__).resolve().parents[1] / "cli_help.txt"


def test_help_matches_golden() -> None:
    result = pgwarden("--help")
    assert result.returncode == 0, result.stderr
    text = "\n".join(line.rstrip() for line in result.stdout.splitlines()) + "\n"
    if os.environ.get("PGWARDEN_UPDATE_GOLDEN"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()


def test_every_command_has_help() -> None:
    golden = GOLDEN.read_text()
    for command in ("demo", "doctor", "init", "config", "embedded", "demo-db"):
        assert f" {command} " in golden
        result = pgwarden(command, "--help")
        assert result.returncode == 0, (command, result.stderr)
        assert "Usage: pgwarden " + command in " ".join(result.stdout.split())
