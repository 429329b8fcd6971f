"""Global options after the command are read as if written before it."""

from __future__ import annotations

import pytest
import typer

from pgwarden.cli import app
from pgwarden.cli.argv import hoist

ROOT = typer.main.get_command(app)


@pytest.mark.parametrize(
    ("given", "read"),
    [
        (["doctor", "--dsn", "X"], ["--dsn", "X", "doctor"]),
        (["--dsn", "A", "doctor", "--dsn=B"], ["--dsn", "A", "--dsn=B", "doctor"]),
        (["alerts", "list", "--debug"], ["--debug", "alerts", "list"]),
        # a command's own --format stays with it
        (["metrics", "--format", "json"], ["metrics", "--format", "json"]),
        # an option's value is never taken for an option
        (
            ["collect", "--log-dir", "--dsn", "--dsn", "x"],
            ["--dsn", "x", "collect", "--log-dir", "--dsn"],
        ),
        (["--dsn", "--debug", "doctor"], ["--dsn", "--debug", "doctor"]),
        (["doctor", "--", "--dsn", "x"], ["doctor", "--", "--dsn", "x"]),
        (["doctor", "--help", "--dsn", "x"], ["--dsn", "x", "doctor", "--help"]),
        (["--help"], ["--help"]),
        (["--bogus", "doctor", "--dsn", "x"], ["--bogus", "doctor", "--dsn", "x"]),
    ],
)
def test_hoist(given: list[str], read: list[str]) -> None:
    assert hoist(ROOT, given) == read
