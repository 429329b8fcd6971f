"""The dashboard's alerts panel: a real firing alert, acknowledged and silenced."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from pgwarden import pg
from pgwarden.alerts import evaluate_once
from pgwarden.config import load_settings
from pgwarden.repository import migrate
from pgwarden.web import create_app
from tests.browser.conftest import BROWSER_MARKS, served
from tests.browser.test_dashboard import _sign_in

pytestmark = BROWSER_MARKS

TOKEN = "alerts-token-0123456789"
FIRING = "#alerts tbody tr[data-state=firing]"


@pytest.fixture
def url(empty_dsn: str) -> Iterator[str]:
    """The app on 127.0.0.1 with one firing ``wraparound`` alert in its repository."""
    with pg.connect(empty_dsn, autocommit=False, statement_timeout_ms=None) as conn:
        migrate(conn)
        conn.commit()
    settings = load_settings(overrides={"alerts": {"wraparound_margin_pct": 100}})
    with pg.connect(empty_dsn) as repo, pg.connect(empty_dsn) as target:
        evaluate_once(repo, "db", settings, datetime.now(UTC), target_conn=target,
                      channels=[])  # fmt: skip
    with served(create_app(settings, empty_dsn, "db", TOKEN)) as base:
        yield base


@pytest.fixture
def page(url: str, browser: Any) -> Any:
    page = browser.new_page()
    page.on("dialog", lambda dialog: dialog.accept("ana"))
    return page


def _api(page: Any, url: str, path: str) -> Any:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    response = page.request.get(f"{url}/api/admin/alerts{path}", headers=headers)
    assert response.ok, response.status
    return response.json()


def test_a_firing_alert_is_shown_and_acknowledged(page: Any, url: str) -> None:
    _sign_in(page, url, TOKEN)
    row = page.locator(FIRING, has_text="wraparound")
    row.wait_for(timeout=20_000)
    text = row.inner_text()
    assert "critical" in text.lower() or "emergency" in text.lower()
    assert "docs/runbooks/wraparound.md" in text
    assert "%" in text  # the description carries the measured margin
    alert_id = int(row.get_attribute("data-alert-id"))

    row.locator("button[data-action=ack]").click()
    page.wait_for_selector(f"#alerts tbody tr[data-alert-id='{alert_id}']"
                           "[data-state=acknowledged]")  # fmt: skip

    shown = _api(page, url, f"/{alert_id}")
    assert shown["state"] == "acknowledged" and shown["acked_by"] == "ana"
    assert page.evaluate("sessionStorage.getItem('pgwarden.acknowledger')") == "ana"


def test_silence_with_a_comment(page: Any, url: str) -> None:
    _sign_in(page, url, TOKEN)
    row = page.locator(FIRING, has_text="wraparound")
    row.wait_for(timeout=20_000)
    row.locator("button[data-action=silence]").click()
    page.select_option("#silence-minutes", "60")
    page.fill("#silence-comment", "vacuum freeze running")
    page.click("#silence-form button[type=submit]")
    page.wait_for_selector("#silence-form", state="hidden")
    [made] = _api(page, url, "/silences")
    assert made["comment"] == "vacuum freeze running" and made["rule"] == "wraparound"
    assert made["created_by"] == "ana"


def test_without_the_token_no_alert_is_shown(page: Any, url: str) -> None:
    refused = page.request.get(f"{url}/api/admin/alerts")
    assert refused.status == 401 and "wraparound" not in refused.text()
    page.goto(url)
    page.wait_for_selector("#login:not([hidden])")
    assert page.locator("#alerts tbody tr").count() == 0
    _sign_in(page, url, "not-the-token")
    page.wait_for_function(
        "document.querySelector('#login-error').textContent.length > 0"
    )
    assert page.locator("#alerts tbody tr").count() == 0
    assert "wraparound" not in page.content()
