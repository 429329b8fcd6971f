"""connection_utilisation on an application pool: a real psycopg_pool pool reported
by PoolReporter over HTTP to the app under uvicorn, evaluated from the repository."""

from __future__ import annotations

import threading
import time
import urllib.error
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from pgwarden import pg
from pgwarden.alerts import Alert, Retry, evaluate_once, store
from pgwarden.collect import collect_once
from pgwarden.config import Settings, load_settings
from pgwarden.embedded import free_port
from pgwarden.repository import migrate
from pgwarden.slowlog.client import PoolReporter, post_json
from pgwarden.web import create_app
from pgwarden.web.server import make_server

TOKEN = "ingest-t0ken"
TARGET = "app-db"


def _settings() -> Settings:
    return load_settings(overrides={"alerts": {
        "for_minutes": {"connection_utilisation": 0}, "wraparound_margin_pct": 0,
        "index_bloat_pct": 100, "app_report_max_age_minutes": 3,
    }})  # fmt: skip


@contextmanager
def serving(dsn: str) -> Iterator[str]:
    app = create_app(_settings(), dsn, TARGET, TOKEN)
    port = free_port()
    server = make_server(app, "127.0.0.1", port, access_log=False)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/api/ingest"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def repo(empty_dsn: str) -> Iterator[psycopg.Connection[Any]]:
    with pg.connect(empty_dsn, autocommit=False, statement_timeout_ms=None) as conn:
        migrate(conn)
        conn.commit()
    with pg.connect(empty_dsn, statement_timeout_ms=None) as conn:
        yield conn


def _evaluate(repo: psycopg.Connection[Any], now: datetime) -> list[Alert]:
    evaluate_once(repo, TARGET, _settings(), now, channels=[], retry=Retry(0, 0))
    since = datetime(2000, 1, 1, tzinfo=UTC)
    return [
        a
        for a in store.list_alerts(repo, "open", since)
        if a.rule == "connection_utilisation"
    ]


def test_pool_above_80_pct_fires_resolves_and_stale_reports_are_ignored(
    empty_dsn: str, repo: psycopg.Connection[Any]
) -> None:
    with pg.connect(empty_dsn) as target:
        for _ in range(2):  # an interval: server connections far below 80 %
            collect_once(target, repo, TARGET)
    pool: ConnectionPool[Any] = ConnectionPool(
        empty_dsn, min_size=1, max_size=5, open=True
    )
    with pool, serving(empty_dsn) as base:
        reporter = PoolReporter(
            pool, post_json(f"{base}/app-metrics", TOKEN), cache=lambda: (90, 10)
        )
        held = [pool.getconn() for _ in range(5)]
        waiter = threading.Thread(target=lambda: pool.putconn(pool.getconn(30)))
        waiter.start()
        while pool.get_stats().get("requests_waiting", 0) < 1:
            time.sleep(0.05)
        sent = reporter.report()
        assert (sent["pool_size"], sent["in_use"], sent["waiting"]) == (5, 5, 1)

        [alert] = _evaluate(repo, datetime.now(UTC))
        assert alert.state == "firing" and alert.labels == {"pool": "app"}
        assert alert.severity == "critical" and alert.value == 100
        assert "5 of 5 connections in use = 100.0 %" in alert.description
        assert "1 request(s) waiting" in alert.description

        for conn in held:
            pool.putconn(conn)
        waiter.join()
        assert reporter.report()["in_use"] == 0
        assert _evaluate(repo, datetime.now(UTC)) == []

        held = [pool.getconn() for _ in range(5)]
        assert reporter.report()["waiting"] == 0
        [again] = _evaluate(repo, datetime.now(UTC))
        assert again.severity == "warning" and again.labels == {"pool": "app"}
        # four minutes on: the collected history is fresh, the pool report is not
        assert _evaluate(repo, datetime.now(UTC) + timedelta(minutes=4)) == []
        for conn in held:
            pool.putconn(conn)


def test_ingest_needs_the_token_and_app_cache_is_stored(
    empty_dsn: str, repo: psycopg.Connection[Any]
) -> None:
    report = {"pool_size": 10, "in_use": 2, "source": "api"}
    with serving(empty_dsn) as base:
        for path, body in (
            ("app-metrics", report),
            ("app-cache", {"hits": 1, "misses": 1}),
        ):
            with pytest.raises(urllib.error.HTTPError) as refused:
                post_json(f"{base}/{path}")(body)
            refused.value.close()
            assert refused.value.code == 401
        post_json(f"{base}/app-cache", TOKEN)({"hits": 30, "misses": 10})
        post_json(f"{base}/app-metrics", TOKEN)(report)
        with pytest.raises(urllib.error.HTTPError) as invalid:
            post_json(f"{base}/app-metrics", TOKEN)({"pool_size": -1, "in_use": 0})
        invalid.value.close()
        assert invalid.value.code == 422
    rows = repo.execute(
        "SELECT source, pool_size, pool_in_use, pool_waiting, cache_hits, cache_misses "
        "FROM pgwarden.app_metrics ORDER BY source"
    ).fetchall()
    assert rows == [("api", 10, 2, 0, None, None), ("app", None, None, None, 30, 10)]
