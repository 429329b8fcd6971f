"""Two roles on a real server: the viewer reads every page's data and does nothing
else; the pages are served at their own URLs; statement text hidden on request."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from pgwarden.config import Settings
from pgwarden.web import create_app
from pgwarden.web.auth import ADMIN_ONLY
from pgwarden.web.pages import PAGES
from pgwarden.web.redact import HIDDEN
from tests.integration.test_observe_metrics import (
    MARKER,
    TARGET,
    TOKEN,
    Collected,
    collect_with_load,
)

pytestmark = pytest.mark.slow
VIEWER = "viewer-token-0123456789"
AS_ADMIN = {"Authorization": f"Bearer {TOKEN}"}
AS_VIEWER = {"Authorization": f"Bearer {VIEWER}"}
ACTIONS = ("/api/admin/alerts/1/ack", "/api/admin/alerts/silences",
           "/api/ingest/slow-queries", "/api/ingest/app-metrics")  # fmt: skip


@pytest.fixture
def collected(demo_dsn: str) -> Collected:
    return collect_with_load(demo_dsn)


def client(c: Collected, settings: Settings | None = None) -> TestClient:
    app = create_app(settings or Settings(), c.dsn, TARGET, TOKEN,
                     target_dsn=c.dsn, viewer_token=VIEWER)  # fmt: skip
    return TestClient(app)


def test_the_viewer_reads_and_is_refused_every_action(collected: Collected) -> None:
    with client(collected) as http:
        me = http.get("/api/admin/session", headers=AS_VIEWER).json()
        assert me["role"] == "viewer" and me["admin"] is False
        assert [p["path"] for p in me["pages"]] == [path for path, _ in PAGES]
        assert http.get("/api/admin/session", headers=AS_ADMIN).json()["admin"] is True
        read = http.get("/api/admin/performance-metrics", headers=AS_VIEWER)
        assert read.status_code == 200 and read.json()["target"]
        assert http.get("/metrics", headers=AS_VIEWER).status_code == 200
        # refused on the headers: the malformed body is never parsed (no 422)
        for path in ACTIONS:
            refused = http.post(path, headers=AS_VIEWER, content=b"{not json")
            assert refused.status_code == 403, (path, refused.text)
            assert refused.json() == {"detail": ADMIN_ONLY}
        ingest_read = http.get("/api/ingest/slow-queries", headers=AS_VIEWER)
        assert ingest_read.status_code == 403
        wrong = http.get("/api/admin/session", headers={"Authorization": "Bearer x"})
        assert wrong.status_code == 401


def test_every_page_has_its_url_and_holds_no_data(collected: Collected) -> None:
    with client(collected) as http:
        for path, _ in [*PAGES, ("/queries/-4012345678901234", "")]:
            page = http.get(path)
            assert page.status_code == 200, path
            assert "<nav" in page.text and "/static/core.js" in page.text
            assert MARKER not in page.text
        for path in ("/nowhere", "/queries/1/2", "/live/extra"):
            assert http.get(path).status_code in (401, 404), path
        assert http.get("/static/core.js").status_code == 200


def _texts(value: Any) -> list[str]:
    """Every string under a "query" key."""
    if isinstance(value, dict):
        return [v for k, v in value.items() if k == "query" and isinstance(v, str)] + [
            t for v in value.values() for t in _texts(v)
        ]
    if isinstance(value, list):
        return [t for v in value for t in _texts(v)]
    return []


def test_statement_text_hidden_from_the_viewer_on_request(collected: Collected) -> None:
    hiding = Settings(dashboard={"hide_query_text": True})  # type: ignore[arg-type]
    with client(collected, hiding) as http:
        top = "/api/admin/top-queries?by=calls&limit=50"
        admin = http.get(top, headers=AS_ADMIN).json()
        assert any(MARKER in t for t in _texts(admin))
        viewer = http.get(top, headers=AS_VIEWER)
        assert viewer.status_code == 200
        texts = _texts(viewer.json())
        assert texts and set(texts) == {HIDDEN}, texts[:3]
        assert MARKER not in viewer.text
        queryid = next(q["queryid"] for q in admin if MARKER in q["query"])
        one = http.get(f"/api/admin/queries/{queryid}", headers=AS_VIEWER)
        assert one.status_code == 200 and MARKER not in one.text
        me = http.get("/api/admin/session", headers=AS_VIEWER).json()
        assert me["hide_query_text"] is True
    with client(collected) as http:  # not asked for: the viewer sees the text
        viewer = http.get(top, headers=AS_VIEWER).json()
        assert any(MARKER in t for t in _texts(viewer))
