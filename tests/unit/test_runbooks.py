"""Every built-in alert rule links to a runbook: what it means, what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from pgwarden.alerts.rules import BUILTIN, Rule

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("rule", BUILTIN, ids=lambda r: r.name)
def test_each_rule_has_a_runbook_with_its_sections(rule: Rule) -> None:
    link = rule.runbook
    page = ROOT / link
    assert page.is_file(), f"{rule.name}: {link} is missing"
    text = page.read_text()
    assert text.startswith("# ")
    assert f"`{rule.name}`" in text
    for section in ("## What it means", "## What to do"):
        assert section in text, f"{link}: no '{section}'"


def test_the_alerting_guide_lists_every_runbook() -> None:
    guide = (ROOT / "docs" / "ALERTING.md").read_text()
    for rule in BUILTIN:
        assert rule.runbook.removeprefix("docs/") in guide, rule.name
