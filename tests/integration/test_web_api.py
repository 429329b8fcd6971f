"""The HTTP API on collected history: the token, the numbers, /metrics, ingest."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from pgwarden import pg
from pgwarden.config import Settings
from pgwarden.observe import performance_metrics
from pgwarden.web import create_app
from pgwarden.web.server import StripQueryString
from tests.integration.test_observe_metrics import (
    TARGET,
    TOKEN,
    Collected,
    collect_with_load,
    slow_report,
)

pytestmark = pytest.mark.slow
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def collected(demo_dsn: str) -> Collected:
    return collect_with_load(demo_dsn)


def client(dsn: str, **kwargs: Any) -> TestClient:
    return TestClient(create_app(Settings(), dsn, TARGET, TOKEN, **kwargs))


def expected(c: Collected) -> dict[str, Any]:
    with pg.connect(c.dsn) as repo:
        found = performance_metrics(repo, c.target_id, datetime.now(UTC), Settings(),
                                    target_name=TARGET).as_dict()  # fmt: skip
    return timeless(found)


def timeless(metrics: dict[str, Any]) -> dict[str, Any]:
    """``metrics`` without what moves with the moment they were read."""
    del metrics["generated_at"]
    if metrics["error_rates"] is not None:  # the error window ends at that moment
        del metrics["error_rates"]["since"], metrics["error_rates"]["until"]
    return metrics


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN},
     {"Authorization": f"Basic {TOKEN}"}],
    ids=["none", "wrong", "no-scheme", "basic"],
)  # fmt: skip
def test_admin_data_needs_the_token(collected: Collected, headers: Any) -> None:
    with client(collected.dsn) as http:
        for path in ("/api/admin/performance-metrics", "/api/admin/timeseries",
                     "/metrics", "/api/admin/top-queries"):  # fmt: skip
            response = http.get(path, headers=headers)
            assert response.status_code == 401, path
            assert response.headers["www-authenticate"] == "Bearer"
            assert "connections" not in response.text
        refused = http.post("/api/ingest/slow-queries", content=slow_report())
        assert refused.status_code == 401


def test_query_string_token_is_refused(collected: Collected) -> None:
    with client(collected.dsn) as http:
        response = http.get(f"/api/admin/performance-metrics?token={TOKEN}")
        with_header = http.get(f"/metrics?access_token={TOKEN}", headers=AUTH)
    assert response.status_code == 401 and with_header.status_code == 401


def test_metrics_match_the_function(collected: Collected) -> None:
    with client(collected.dsn) as http:
        response = http.get("/api/admin/performance-metrics", headers=AUTH)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "private, max-age=60"
    body = timeless(response.json())
    assert body == expected(collected)
    assert body["queries_per_second"] > 0 and body["refresh_seconds"] == 60


def test_prometheus_text_carries_the_same_values(collected: Collected) -> None:
    with client(collected.dsn) as http:
        response = http.get("/metrics", headers=AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    m = expected(collected)

    def value(name: str, **labels: str) -> float:
        for sample in families[name].samples:
            if all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
        raise AssertionError(f"{name}{labels} missing")

    assert value("pgwarden_queries_per_second") == pytest.approx(
        m["queries_per_second"], rel=1e-6)  # fmt: skip
    assert value("pgwarden_cache_hit_ratio") == pytest.approx(
        m["cache_hit_ratio"]["database"], rel=1e-6)  # fmt: skip
    for state, count in m["active_connections"]["by_state"].items():
        assert value("pgwarden_connections", state=state) == count
    assert value("pgwarden_slow_queries_per_minute", severity="warning") == 0
    pkey = next(i for i in m["index_usage"] if i["index"] == "Assessment_pkey")
    assert value("pgwarden_index_scans", index="Assessment_pkey") == pkey["scans"]
    assert families["pgwarden_connections"].type == "gauge"


def test_anonymous_scrape_when_allowed(collected: Collected) -> None:
    with client(collected.dsn, anonymous_metrics=True) as http:
        assert http.get("/metrics").status_code == 200
        assert http.get("/api/admin/performance-metrics").status_code == 401


def test_anonymous_scrape_from_the_setting(collected: Collected) -> None:
    settings = Settings.model_validate({"dashboard": {"anonymous_metrics": True}})
    app = create_app(settings, collected.dsn, TARGET, TOKEN)
    with TestClient(app) as http:
        assert http.get("/metrics").status_code == 200
        assert http.get("/api/admin/performance-metrics").status_code == 401
    overridden = create_app(settings, collected.dsn, TARGET, TOKEN,
                            anonymous_metrics=False)  # fmt: skip
    with TestClient(overridden) as http:
        assert http.get("/metrics").status_code == 401


def test_own_statements_count_in_the_api(collected: Collected) -> None:
    with client(collected.dsn) as http:
        top = http.get("/api/admin/top-queries?by=calls&limit=100", headers=AUTH)
        mixed = http.get("/api/admin/top-queries?by=calls&limit=100&include_own=true",
                         headers=AUTH)  # fmt: skip
        metrics = http.get("/api/admin/performance-metrics", headers=AUTH).json()
    left_out = int(top.headers["x-pgwarden-own-statements-excluded"])
    assert left_out > 0 and metrics["own_statements"]["statements"] > 0
    assert not any("pgwarden." in q["query"] for q in top.json())
    assert any("pgwarden." in q["query"] for q in mixed.json())


def test_ingest_then_slow_queries_per_minute(collected: Collected) -> None:
    body = slow_report(250) + b"not json\n" + slow_report(20)
    with client(collected.dsn) as http:
        response = http.post("/api/ingest/slow-queries", content=body, headers=AUTH)
        metrics = http.get("/api/admin/performance-metrics", headers=AUTH).json()
        charts = http.get("/api/admin/timeseries?range=6h", headers=AUTH).json()
    assert response.status_code == 200
    result = response.json()
    assert result["accepted"] == 1 and result["rejected"] == 2
    assert result["reasons"][0]["reason"].startswith("not JSON")
    assert metrics["slow_queries_per_minute"] == {
        "warning": 1, "critical": 0, "emergency": 0, "total": 1}  # fmt: skip
    assert sum(charts["charts"]["slow_queries_per_minute"]["warning"]) == 1


def test_timeseries_ranges_and_query_drilldown(collected: Collected) -> None:
    with client(collected.dsn) as http:
        for range_ in ("1h", "6h", "24h", "7d"):
            response = http.get(f"/api/admin/timeseries?range={range_}", headers=AUTH)
            assert response.status_code == 200, range_
        assert (
            http.get("/api/admin/timeseries?range=2y", headers=AUTH).status_code == 422
        )
        top = http.get("/api/admin/top-queries?by=calls", headers=AUTH).json()
        one = http.get(f"/api/admin/queries/{top[0]['queryid']}", headers=AUTH)
        missing = http.get("/api/admin/queries/1", headers=AUTH)
    assert one.status_code == 200 and one.json()["queryid"] == top[0]["queryid"]
    assert one.json()["series"]["calls"] and missing.status_code == 404


def test_dashboard_and_vendored_chart_library(collected: Collected) -> None:
    with client(collected.dsn) as http:
        page = http.get("/")
        library = http.get("/static/vendor/uPlot.iife.min.js")
    assert page.status_code == 200 and "uPlot.iife.min.js" in page.text
    assert "http://" not in page.text and "https://" not in page.text
    assert library.status_code == 200 and "uPlot" in library.text


def test_access_log_drops_query_strings() -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, "", 0,
                               '%s - "%s %s HTTP/%s" %d', ("1.2.3.4", "GET",
                               "/metrics?token=secret", "1.1", 401), None)  # fmt: skip
    StripQueryString().filter(record)
    assert "secret" not in record.getMessage()
