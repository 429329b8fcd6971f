"""The README's two commands are the ones that run: CI calls the test command."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## The two commands.*?```bash\n(.*?)```", readme, re.DOTALL)
    assert block is not None
    return [line for line in block.group(1).splitlines() if line and line[0] != "#"]


def test_the_readme_gives_two_commands_that_install_into_their_own_venv() -> None:
    demo, tests = _commands()
    assert demo.startswith("python3 -m venv .venv && ") and demo.endswith("demo")
    assert tests.startswith("python3 -m venv .venv && ") and "pytest" in tests


def test_ci_runs_exactly_the_readmes_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1] == _commands()[1]
