"""The Load and Governance pages in Chromium, with both roles: clean pages, a figure
of each equal to the command's JSON, a stored load report shown in a sandboxed
frame, the on-call calendar downloaded, and no admin control for the viewer."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pgwarden.cli.oncall_cmd import app as oncall_app
from pgwarden.cli.runtime import Runtime
from tests.browser.conftest import BROWSER_MARKS
from tests.browser.site import (
    ROLES,
    admin_controls,
    assert_clean,
    screenshot,
    site,
    visit,
)
from tests.cli_helpers import pgwarden
from tests.integration.test_web_load_governance import (
    QUICK,
    cli,
    seed_governance,
    settings_for,
)

pytestmark = BROWSER_MARKS


def js_number(value: float, digits: int = 2) -> str:
    """A number as pgwarden.fmt shows it in an en-US browser."""
    text = f"{round(value, digits):,.{digits}f}".rstrip("0").rstrip(".")
    return text or "0"


def test_load_and_governance_pages(browser: Any, demo_dsn: str, tmp_path: Path) -> None:
    rt = Runtime(settings_for(demo_dsn, tmp_path), None, False)
    run_file = tmp_path / "run.json"
    with site(demo_dsn, rt.settings) as base:
        # a subprocess: Playwright's event loop runs in this thread
        done = pgwarden("--dsn", demo_dsn, "load", "run", *QUICK,
                        "--format", "json", "--output", str(run_file))  # fmt: skip
        assert done.returncode == 0, done.stderr
        run = json.loads(run_file.read_text())
        request = seed_governance(rt, tmp_path)
        on_call = cli(oncall_app, rt, "now", "--format", "json")
        check_load(browser, base, run_file, run)
        check_governance(browser, base, request, on_call)


def check_load(browser: Any, base: str, run_file: Path, run: dict[str, Any]) -> None:
    viewer = visit(browser, base, "/load", ROLES["viewer"], "load", width=420)
    assert_clean(viewer)
    assert admin_controls(viewer) == 0
    assert "No load test stored yet: run pgwarden load run --store" in (viewer.text())
    viewer.page.close()

    admin = visit(browser, base, "/load", ROLES["admin"], "load")
    assert admin_controls(admin) >= 1
    admin.page.set_input_files("#load-file", str(run_file))
    admin.page.click("button[data-action=store-load-report]")
    admin.page.wait_for_selector("#load-reports tbody tr")
    admin.page.wait_for_selector(".load-report iframe")
    row = admin.page.locator("#load-reports tbody tr").first
    cells = row.locator("td").all_inner_texts()
    assert cells[5] == js_number(run["throughput_per_s"])
    assert cells[7] == js_number(run["overall"]["p95_ms"], 3)
    assert cells[10] == run["bottleneck"]["resource"]
    frame = admin.page.locator(".load-report iframe")
    assert frame.get_attribute("sandbox") == ""
    inside = admin.page.frame_locator(".load-report iframe").locator("body")
    shown = re.search(r"throughput\s+([\d.]+) actions/s", inside.inner_text())
    assert shown is not None and float(shown[1]) == run["throughput_per_s"]
    assert_clean(admin)
    screenshot(admin, "load")
    admin.page.close()

    viewer = visit(browser, base, "/load", ROLES["viewer"], "load")
    viewer.page.wait_for_selector(".load-report iframe")
    assert admin_controls(viewer) == 0
    assert_clean(viewer)
    viewer.page.close()


def check_governance(
    browser: Any, base: str, request: dict[str, Any], on_call: list[dict[str, Any]]
) -> None:
    for role in ("viewer", "admin"):
        found = visit(browser, base, "/governance", ROLES[role], "governance")
        assert_clean(found)
        assert admin_controls(found) == 0
        page = found.page
        cells = page.locator("#gov-ccb-table tbody tr").first.locator("td")
        texts = cells.all_inner_texts()
        assert texts[0] == f"#{request['id']}" and texts[3] == request["risk_class"]
        assert texts[6] == "1 / 0 / 0"
        assert "1 of 2 binding approvals so far" in texts[8]
        now = page.locator("#gov-now-table tbody tr").first.locator("td")
        assert now.all_inner_texts()[:2] == [on_call[0]["layer"], on_call[0]["person"]]
        assert page.locator("#gov-log .verify").get_attribute("data-status") == "intact"
        verdict = page.locator("#gov-rehearsals-table tbody tr").first
        assert verdict.get_attribute("data-verdict") == "go"
        assert page.locator("#gov-reviews-table tbody tr").count() >= 3
        with page.expect_download() as fetched:
            page.click("#gov-ics")
        text = Path(fetched.value.path()).read_text()
        assert text.startswith("BEGIN:VCALENDAR") and "BEGIN:VEVENT" in text
        if role == "admin":
            screenshot(found, "governance")
        page.close()
    small = visit(
        browser, base, "/governance", ROLES["viewer"], "governance", width=420
    )
    width = small.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 440, width
    assert_clean(small)
    small.page.close()
