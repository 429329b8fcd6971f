"""Every page of the dashboard in Chromium, with either role: the shared plumbing.

``site(demo_dsn)`` serves the demo over collected history with both tokens;
``visit(browser, base, path, token)`` opens a page the way a person does (the
URL first, then the token) and records console errors and failed requests;
``assert_clean`` checks what every page must be; ``screenshot`` keeps a picture
under ``test-output/screenshots`` (or ``$PGWARDEN_SCREENSHOT_DIR``) for review.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pgwarden.config import Settings
from pgwarden.web import create_app
from tests.browser.conftest import served
from tests.integration.test_observe_metrics import TARGET, TOKEN, collect_with_load

VIEWER = "viewer-token-9876543210"
ROLES = {"admin": TOKEN, "viewer": VIEWER}
#: what a page never shows: a value that went wrong on its way to the DOM
BROKEN = re.compile(r"\b(NaN|undefined|None)\b|\[object Object\]")
SCREENSHOTS = Path(
    os.environ.get("PGWARDEN_SCREENSHOT_DIR")
    or Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
)


@contextmanager
def site(dsn: str, settings: Settings | None = None) -> Iterator[str]:
    """The app over two collected cycles of the demo; yields its base URL."""
    collect_with_load(dsn)
    app = create_app(
        settings or Settings(), dsn, TARGET, TOKEN, target_dsn=dsn, viewer_token=VIEWER
    )
    with served(app) as base:
        yield base


@dataclass
class Visit:
    page: Any
    base: str
    console: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def text(self) -> str:
        return str(self.page.inner_text("body"))

    def reload(self, page_name: str) -> None:
        self.page.evaluate("delete document.body.dataset.loaded")
        self.page.evaluate("window.pgwarden.refresh()")
        wait_loaded(self.page, page_name)


def wait_loaded(page: Any, name: str, timeout_ms: int = 30_000) -> None:
    page.wait_for_selector(
        f'body[data-page="{name}"][data-loaded]', state="attached", timeout=timeout_ms
    )


def visit(
    browser: Any, base: str, path: str, token: str, name: str, *, width: int = 1280
) -> Visit:
    """Open ``base + path``, give the token, wait for page ``name`` to load."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    found = Visit(page, base)
    page.on(
        "console",
        lambda m: found.console.append(m.text) if m.type == "error" else None,
    )
    page.on("pageerror", lambda e: found.console.append(str(e)))
    page.on("requestfailed", lambda r: found.failed.append(f"{r.url} {r.failure}"))
    page.on(
        "response",
        lambda r: (
            found.failed.append(f"{r.status} {r.url}") if r.status >= 400 else None
        ),
    )
    page.goto(base + path)
    page.fill("#token", token)
    page.click("#login button[type=submit]")
    wait_loaded(page, name)
    return found


def assert_clean(found: Visit) -> None:
    """No console error, no failed request, no broken value, no error line shown."""
    assert not found.console, found.console
    assert not found.failed, found.failed
    text = found.text()
    broken = BROKEN.findall(text)
    assert not broken, (broken, text[:2000])
    errors = found.page.locator(".page-error:visible, .error:visible").all_inner_texts()
    assert not [e for e in errors if e.strip()], errors


def screenshot(found: Visit, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    found.page.screenshot(path=str(path), full_page=True)
    return path


def admin_controls(found: Visit) -> int:
    """How many controls only the admin may use are on the page."""
    return int(found.page.locator("[data-admin]").count())
