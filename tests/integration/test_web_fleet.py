"""One dashboard for two registered targets: ``?target=NAME`` on every API call.

Two databases of the test server, registered and collected into one repository
(the first one's); each target's figures are its own and those the CLI prints for
it; an unknown name is 404 in one line; the viewer stays read only; ``/metrics``
carries both targets' series, each labelled with its target.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import psycopg
import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from psycopg.conninfo import conninfo_to_dict
from typer.testing import CliRunner

from pgwarden import fleet, pg
from pgwarden.cli import app
from pgwarden.collect import collect_once
from pgwarden.config import Settings
from pgwarden.repository import migrate
from pgwarden.web import create_app
from pgwarden.web.auth import ADMIN_ONLY
from pgwarden.web.fleet import UNKNOWN, target_of
from tests.conftest import TEMPLATE_DEMO, TestServer
from tests.integration.test_observe_metrics import TOKEN, load

pytestmark = pytest.mark.slow
VIEWER = "viewer-token-9876543210"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
READER = {"Authorization": f"Bearer {VIEWER}"}
#: the variable the registry names for the targets' password (never stored)
PASSWORD_ENV = "PGWARDEN_TEST_FLEET_PASSWORD"
FIGURES = ("queries_per_second", "mean_latency_ms", "transactions_per_second")


@dataclass(frozen=True)
class Fleet:
    repo: str
    dsns: dict[str, str]


def collect_fleet(repo_dsn: str, dsns: dict[str, str], rounds: dict[str, int]) -> None:
    """Register each database under its name, collect, load it, collect again."""
    with pg.connect(repo_dsn, autocommit=False, statement_timeout_ms=None) as conn:
        migrate(conn)
    with pg.connect(repo_dsn) as repo:
        for name, dsn in dsns.items():
            fleet.add(repo, dsn, name=name, group="blue" if name == "alpha" else "red",
                      password_env=PASSWORD_ENV)  # fmt: skip
            with pg.connect(dsn) as target:
                collect_once(target, repo, name)
                load(dsn, rounds=rounds[name], create=False)
                collect_once(target, repo, name)


def password_from(dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The targets' password in the variable the registry names."""
    monkeypatch.setenv(PASSWORD_ENV, str(conninfo_to_dict(dsn).get("password", "")))


@pytest.fixture
def two(
    demo_dsn: str, pg_server: TestServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Fleet]:
    password_from(demo_dsn, monkeypatch)
    other = pg_server.clone(TEMPLATE_DEMO)
    dsns = {"alpha": demo_dsn, "beta": pg_server.dsn(other)}
    try:
        collect_fleet(demo_dsn, dsns, {"alpha": 40, "beta": 5})
        yield Fleet(demo_dsn, dsns)
    finally:
        pg_server.drop(other)


def cli_metrics(found: Fleet, name: str) -> dict[str, Any]:
    env = {"PGWARDEN_DSN": found.dsns[name], "PGWARDEN_REPOSITORY_DSN": found.repo,
           "COLUMNS": "80", "NO_COLOR": "1"}  # fmt: skip
    result = CliRunner().invoke(app, ["metrics", "--format", "json"], env=env)
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


def served(found: Fleet) -> TestClient:
    return TestClient(create_app(
        Settings(), found.repo, "alpha", TOKEN, target_dsn=found.dsns["alpha"],
        viewer_token=VIEWER, fleet=True,
    ))  # fmt: skip


def test_each_target_its_own_figures_as_the_cli_prints_them(two: Fleet) -> None:
    with served(two) as http:
        answers = {
            name: http.get("/api/admin/performance-metrics",
                           params={"target": name}, headers=ADMIN).json()
            for name in two.dsns
        }  # fmt: skip
        default = http.get("/api/admin/performance-metrics", headers=ADMIN).json()
        session = http.get("/api/admin/session?target=beta", headers=READER).json()
        listed = http.get("/api/admin/fleet/targets", headers=READER).json()
        rows = http.get("/api/admin/fleet", headers=READER).json()
        red = http.get("/api/admin/fleet?group=red", headers=READER).json()
        live = http.get("/api/admin/live?target=beta", headers=READER)
    for name in two.dsns:
        cli = cli_metrics(two, name)
        assert answers[name]["target"] == cli["target"] == name
        for figure in FIGURES:
            assert answers[name][figure] == pytest.approx(cli[figure]), figure
        row = next(r for r in rows["targets"] if r["name"] == name)
        assert row["queries_per_second"] == pytest.approx(cli["queries_per_second"])
        assert row["mean_latency_ms"] == pytest.approx(cli["mean_latency_ms"])
        assert row["cache_hit_ratio"] == pytest.approx(
            cli["cache_hit_ratio"]["database"])  # fmt: skip
        assert row["status"] == "new" and row["last_collected_at"]
    assert answers["alpha"]["queries_per_second"] != pytest.approx(
        answers["beta"]["queries_per_second"])  # fmt: skip
    assert default["target"] == "alpha" and session["target"] == "beta"
    assert [t["name"] for t in listed["targets"]] == ["alpha", "beta"]
    assert rows["groups"] == ["blue", "red"]
    assert [r["name"] for r in red["targets"]] == ["beta"]
    assert live.status_code == 200, live.text  # the password from the variable
    with psycopg.connect(two.repo) as conn:
        stored = conn.execute("SELECT string_agg(dsn, ' ') FROM pgwarden.target")
        assert "password" not in str(stored.fetchone())


def test_unknown_target_viewer_and_token_first(two: Fleet) -> None:
    with served(two) as http:
        unknown = http.get("/api/admin/performance-metrics?target=nope", headers=ADMIN)
        hostile = http.get("/api/admin/session",
                           params={"target": "x\x00'; DROP" + "é" * 500},
                           headers=ADMIN)  # fmt: skip
        anonymous = http.get("/api/admin/session?target=beta")
        refused = http.post("/api/admin/alerts/1/ack?target=beta", json={"by": "eve"},
                            headers=READER)  # fmt: skip
        page = http.get("/fleet?target=nope")
    assert unknown.status_code == 404 and unknown.json()["detail"] == UNKNOWN
    assert hostile.status_code == 404
    assert anonymous.status_code == 401
    assert refused.status_code == 403 and refused.json()["detail"] == ADMIN_ONLY
    assert page.status_code == 200  # the page holds no data and names no target


def test_metrics_label_every_series_with_its_target(two: Fleet) -> None:
    with served(two) as http:
        every = http.get("/metrics", headers=ADMIN).text
        one = http.get("/metrics?target=beta", headers=ADMIN).text
    families = {f.name: f for f in text_string_to_metric_families(every)}
    qps = {s.labels["target"]: s.value
           for s in families["pgwarden_queries_per_second"].samples}  # fmt: skip
    for name in two.dsns:
        assert qps[name] == pytest.approx(cli_metrics(two, name)["queries_per_second"])
    unlabelled = [
        s for f in families.values() for s in f.samples if "target" not in s.labels
    ]
    assert not unlabelled
    only = {s.labels["target"] for f in text_string_to_metric_families(one)
            for s in f.samples}  # fmt: skip
    assert only == {"beta"}


def test_serve_without_a_dsn_serves_the_registry(two: Fleet) -> None:
    from pgwarden.cli.runtime import Runtime
    from pgwarden.cli.serve_cmd import _served

    registry = Runtime(Settings(repository_dsn=two.repo), None, False)
    name, dsn, fleet_too = _served(registry)
    assert name == "alpha" and fleet_too
    assert pg.describe(dsn) == pg.describe(two.dsns["alpha"])
    beta = two.dsns["beta"]
    given = Runtime(Settings(repository_dsn=two.repo, dsn=beta), None, False)
    assert _served(given) == ("beta", beta, True)


def test_a_single_target_app_lists_itself(demo_dsn: str) -> None:
    with pg.connect(demo_dsn, autocommit=False, statement_timeout_ms=None) as conn:
        migrate(conn)
    with TestClient(create_app(Settings(), demo_dsn, "solo", TOKEN)) as http:
        listed = http.get("/api/admin/fleet/targets", headers=ADMIN).json()
        rows = http.get("/api/admin/fleet", headers=ADMIN).json()
        other = http.get("/api/admin/fleet?target=other", headers=ADMIN)
    assert [t["name"] for t in listed["targets"]] == ["solo"]
    assert [r["name"] for r in rows["targets"]] == ["solo"]
    assert rows["targets"][0]["status"] is None
    assert other.status_code == 404
    with psycopg.connect(demo_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM pgwarden.target").fetchone() == (0,)


@given(st.binary(max_size=300))
def test_any_query_string_names_a_target_or_none(raw: bytes) -> None:
    found = target_of(raw)
    assert found is None or (isinstance(found, str) and found)


@given(st.text(min_size=1, max_size=100), st.text(max_size=50))
def test_the_target_parameter_is_read_as_sent(name: str, other: str) -> None:
    query = urlencode([("range", other), ("target", name)]).encode()
    assert target_of(query) == name
