"""replication_lag on a real streaming standby whose replay is paused, then resumed;
and a /metrics scrape of a primary with a standby carrying every metric the exported
Prometheus rules use.

Measured both ways: on the primary (pg_stat_replication, one alert per standby) and
on the standby itself (``this standby``). The standby reports its positions every
second here (wal_receiver_status_interval) so the primary sees the lag soon.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from pgwarden import pg
from pgwarden.alerts import Alert, Retry, evaluate_once, store
from pgwarden.alerts.prometheus_rules import EXPRESSIONS
from pgwarden.collect import collect_once
from pgwarden.config import Settings, load_settings
from pgwarden.embedded import EmbeddedServer
from pgwarden.replica import EmbeddedReplica
from pgwarden.repository import migrate
from pgwarden.web import create_app
from tests.own_server import KINDS, own_server

DEADLINE_S = 60.0
TOKEN = "scrape-t0ken"


@pytest.fixture(scope="module", params=KINDS)
def primary(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EmbeddedServer]:
    data_dir = tmp_path_factory.mktemp("primary") / "pg"
    with own_server(request.param, data_dir) as srv:
        with pg.connect(srv.dsn(), autocommit=False, statement_timeout_ms=None) as conn:
            migrate(conn)
            conn.commit()
        yield srv


@pytest.fixture
def replica(primary: EmbeddedServer, tmp_path: Path) -> Iterator[EmbeddedReplica]:
    quick = {"wal_receiver_status_interval": "'1s'"}
    with EmbeddedReplica.of(primary, tmp_path / "standby", overrides=quick) as r:
        yield r


def _settings() -> Settings:
    return load_settings(overrides={"alerts": {
        "replication_lag_seconds": 1, "for_minutes": {"replication_lag": 0},
        "wraparound_margin_pct": 0, "index_bloat_pct": 100,
    }})  # fmt: skip


def _lag_alerts(repo: psycopg.Connection[Any], target: str) -> list[Alert]:
    since = datetime(2000, 1, 1, tzinfo=UTC)
    return [
        a
        for a in store.list_alerts(repo, "open", since)
        if a.rule == "replication_lag" and a.target == target
    ]


def _until(
    repo: psycopg.Connection[Any],
    target_dsn: str,
    target: str,
    done: Callable[[list[Alert]], bool],
    write: psycopg.Connection[Any] | None = None,
) -> list[Alert]:
    """Evaluate every 0.2 s (writing on the primary if asked) until ``done``."""
    deadline = time.monotonic() + DEADLINE_S
    with pg.connect(target_dsn) as target_conn:
        while True:
            if write is not None:
                write.execute("INSERT INTO lag_probe VALUES (now())")
            evaluate_once(
                repo, target, _settings(), datetime.now(UTC),
                target_conn=target_conn, channels=[], retry=Retry(0, 0),
            )  # fmt: skip
            found = _lag_alerts(repo, target)
            if done(found) or time.monotonic() > deadline:
                return found
            time.sleep(0.2)


def firing(found: list[Alert]) -> bool:
    return any(a.state == "firing" for a in found)


def test_paused_standby_fires_replication_lag_and_resume_resolves(
    primary: EmbeddedServer, replica: EmbeddedReplica
) -> None:
    with (
        pg.connect(primary.dsn(), statement_timeout_ms=None) as repo,
        psycopg.connect(primary.dsn(), autocommit=True) as writer,
    ):
        writer.execute("CREATE TABLE IF NOT EXISTS lag_probe (at timestamptz)")
        replica.wait_replayed()
        quiet = _until(repo, primary.dsn(), "primary", lambda found: True)
        assert quiet == []

        replica.pause_replay()
        on_primary = _until(repo, primary.dsn(), "primary", firing, writer)
        on_standby = _until(repo, replica.dsn(), "standby", firing)

        [alert] = on_primary
        assert alert.state == "firing"
        assert alert.labels == {"replica": replica.name}
        assert alert.value > 1
        assert "bytes of WAL not replayed" in alert.description
        [own] = on_standby
        assert own.labels == {"replica": "this standby"} and own.value > 1

        replica.resume_replay()
        assert _until(repo, primary.dsn(), "primary", lambda f: not f) == []
        assert _until(repo, replica.dsn(), "standby", lambda f: not f) == []
        resolved = store.list_alerts(repo, "resolved", datetime(2000, 1, 1, tzinfo=UTC))
        assert {a.target for a in resolved if a.rule == "replication_lag"} == {
            "primary",
            "standby",
        }
        writer.execute("DROP TABLE lag_probe")


def test_metrics_scrape_carries_every_metric_the_exported_rules_use(
    primary: EmbeddedServer, replica: EmbeddedReplica
) -> None:
    settings = load_settings(overrides={"alerts": {"index_bloat_min_bytes": 0}})
    with psycopg.connect(primary.dsn(), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        conn.execute("CREATE TABLE IF NOT EXISTS scraped AS "
                     "SELECT g AS id FROM generate_series(1, 5000) g")  # fmt: skip
        conn.execute("CREATE INDEX IF NOT EXISTS scraped_id ON scraped (id)")
        conn.execute("ANALYZE scraped")
    with pg.connect(primary.dsn(), statement_timeout_ms=None) as repo:
        collect_once(repo, repo, "scrape")
        repo.execute("SELECT count(*) FROM scraped")  # block reads: a cache hit ratio
        repo.execute("SELECT pg_stat_force_next_flush()")
        collect_once(repo, repo, "scrape")
    client = TestClient(create_app(settings, primary.dsn(), "scrape", TOKEN,
                                   target_dsn=primary.dsn()))  # fmt: skip
    auth = {"Authorization": f"Bearer {TOKEN}"}
    report = {"pool_size": 10, "in_use": 3, "calls": 10}
    assert client.post("/api/ingest/app-metrics", json=report).status_code == 401
    assert client.post("/api/ingest/app-metrics", json=report, headers=auth).json()[
        "pool_utilisation"
    ] == pytest.approx(0.3)
    text = client.get("/metrics", headers=auth).text
    scraped = {f.name for f in text_string_to_metric_families(text)}
    wanted = set()
    for expr in EXPRESSIONS.values():
        wanted |= set(re.findall(r"pgwarden_[a-z_]+", expr(settings.alerts)))
    assert len(wanted) >= 12
    assert wanted - scraped == set()
    lag = (
        f'pgwarden_replication_lag_seconds{{target="scrape",replica="{replica.name}"}}'
    )
    assert lag in text
    assert 'pgwarden_app_pool_utilisation_ratio{target="scrape",pool="app"} 0.3' in text
    with psycopg.connect(primary.dsn(), autocommit=True) as conn:
        conn.execute("DROP TABLE scraped")
