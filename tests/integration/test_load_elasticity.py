"""Elasticity steps that need a server of their own: shared_buffers restarts, replicas.

The server is started for this module (the shared_buffers sweep restarts it), with
the reference data at scale ``tiny``; the standbys are real streaming replicas of it.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
import typer
from psycopg import sql
from psycopg.conninfo import make_conninfo
from typer.testing import CliRunner

from pgwarden import pg
from pgwarden.cli import _global, load_cmd
from pgwarden.embedded import EmbeddedServer
from pgwarden.errors import ConfigurationError, EmbeddedServerError
from pgwarden.load import LoadSpec, ScenarioRef
from pgwarden.load.buffers import BuffersRefused, current, sweep_shared_buffers
from pgwarden.load.html import render_elasticity_html
from pgwarden.load.readreplica import ReplicaUnavailable, embedded_standby
from pgwarden.load.run import ReplicaRefused
from pgwarden.load.scenario import REFERENCE_READ_ONLY
from tests.conftest import TestServer

DB = "app"
QUICK = ["--think-ms", "2", "--ramp-up", "0", "--warmup", "0.3", "--seed", "2"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    from pgwarden.demo.data import load

    srv = EmbeddedServer(tmp_path_factory.mktemp("elasticity") / "srv")
    srv.start()
    with psycopg.connect(srv.dsn(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB)))
    with psycopg.connect(srv.dsn(DB), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION pg_stat_statements")
        load(conn, "tiny")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def standby(server: EmbeddedServer) -> Iterator[str]:
    """A streaming standby of ``server``, removed (slot and files) afterwards."""
    with embedded_standby(server.dsn(DB)) as dsn:
        yield dsn
    assert not list(server.data_dir.parent.glob("srv-replica-*"))


def _app() -> typer.Typer:
    app = typer.Typer(pretty_exceptions_enable=False)
    app.callback()(_global)
    app.add_typer(load_cmd.app, name="load")
    return app


def _spec(dsn: str, **kwargs: object) -> LoadSpec:
    base = LoadSpec(
        dsn=dsn,
        scenario=ScenarioRef("reference"),
        users=6,
        duration_s=1.0,
        pool_size=3,
        think_ms=2.0,
        warmup_s=0.3,
        seed=4,
    )
    return replace(base, **kwargs)  # type: ignore[arg-type]


def _auto_conf(srv: EmbeddedServer) -> str:
    return (srv.pgdata / "postgresql.auto.conf").read_text()


def test_replica_dsn_must_be_in_recovery_and_replica_needs_embedded(
    server: EmbeddedServer,
) -> None:
    runner = CliRunner()
    primary = server.dsn(DB)
    args = ["--dsn", primary, "load", "elasticity", "--skip-pool", "--skip-cache"]
    result = runner.invoke(_app(), [*args, "--replica-dsn", primary])
    assert isinstance(result.exception, ReplicaRefused)
    assert result.exception.exit_code == 3
    assert "is not in recovery" in str(result.exception)
    result = runner.invoke(_app(), [*args, "--replica", "--replica-dsn", primary])
    assert isinstance(result.exception, ConfigurationError)
    assert "not both" in str(result.exception)


def test_shared_buffers_sweep_refuses_a_target_it_cannot_restart(
    server: EmbeddedServer,
) -> None:
    role, password = f"load_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    with psycopg.connect(server.dsn(DB), autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(password)
            )
        )
    dsn = make_conninfo(server.dsn(DB), user=role, password=password)
    try:
        spec = _spec(dsn, allowed_targets=(pg.describe(dsn),))
        with pytest.raises(BuffersRefused) as refused:
            sweep_shared_buffers(spec, ["16MB"], pg.describe(dsn))
        assert refused.value.exit_code == 3
        assert "runs only on a pgwarden embedded server" in str(refused.value)
        args = ["--dsn", dsn, "load", "elasticity", "--skip-pool", "--skip-cache"]
        allowed = {"PGWARDEN_LOAD__ALLOWED_TARGETS": json.dumps([pg.describe(dsn)])}
        result = CliRunner().invoke(_app(), [*args, "--replica"], env=allowed)
        assert isinstance(result.exception, ReplicaUnavailable)
        assert result.exception.exit_code == 3
        assert "give --replica-dsn instead" in str(result.exception)
        result = CliRunner().invoke(_app(), [*args, "--shared-buffers-sizes", "16"])
        assert isinstance(result.exception, ConfigurationError)
        assert "give a number and a unit" in str(result.exception)
    finally:
        with psycopg.connect(server.dsn(DB), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
    assert "shared_buffers" not in _auto_conf(server)


@pytest.mark.slow
def test_a_size_the_server_cannot_start_with_is_undone(
    server: EmbeddedServer,
) -> None:
    before = current(server)
    port = server.state().port  # type: ignore[union-attr]
    with pytest.raises(EmbeddedServerError, match="did not start with"):
        sweep_shared_buffers(_spec(server.dsn(DB)), ["7TB"], "test")
    assert current(server) == before
    assert "shared_buffers" not in _auto_conf(server)
    assert server.state().port == port  # type: ignore[union-attr]


@pytest.mark.slow
def test_buffers_sweep_restores_and_replica_serves_the_reads(
    server: EmbeddedServer, standby: str, tmp_path: Path
) -> None:
    before = current(server)
    with psycopg.connect(standby, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_statements_reset()")
    out = tmp_path / "el.json"
    result = CliRunner().invoke(
        _app(),
        [
            "--dsn", server.dsn(DB), "load", "elasticity", "--users", "6",
            "--skip-pool", "--pool", "3", "--skip-cache",
            "--shared-buffers-sizes", "1MB,16MB", "--replica-dsn", standby,
            "--step-seconds", "0.6", *QUICK, "--format", "json", "--output", str(out),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())

    # shared_buffers: one run per size, then the original value again
    assert current(server) == before
    assert "shared_buffers" not in _auto_conf(server)
    buffers = data["shared_buffers"]
    assert [s["size"] for s in buffers["steps"]] == ["1MB", "16MB"]
    assert all(s["db_cache_hit_ratio"] is not None for s in buffers["steps"])
    assert buffers["original"] == before

    # the replica served the read-only actions, and only reads
    with psycopg.connect(standby) as conn:
        in_recovery = conn.execute("SELECT pg_is_in_recovery()").fetchone()
        rows = conn.execute(
            "SELECT query, calls FROM pg_stat_statements "
            "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = %s)",
            [DB],
        ).fetchall()
    assert in_recovery == (True,)
    served = [(query.lstrip().split()[0].upper(), calls) for query, calls in rows]
    assert sum(calls for verb, calls in served if verb in ("SELECT", "WITH")) > 0
    assert not [verb for verb, _c in served if verb in ("INSERT", "UPDATE", "DELETE")]
    replica = data["replica"]
    assert replica["before"]["error_rate"] == replica["after"]["error_rate"] == 0.0
    assert replica["after"]["replica"]["commits_per_s"] > 0
    routed = {a["action"] for a in replica["actions"] if a["read_only"]}
    assert routed and routed <= REFERENCE_READ_ONLY

    # the playbook and the charts
    signals = {r["signal"] for r in data["playbook"]["rules"]}
    wanted = {"database cache hit ratio", "read replica gain", "load generator"}
    assert signals == wanted  # the generator's verdict depends on this machine
    assert data["playbook"]["thresholds"]["cache_hit_pct"] == 50
    page = render_elasticity_html(data)
    points = set(re.findall(r'data-series="([^"]+)" data-x="([^"]+)"', page))
    assert {("hit ratio %", "1"), ("hit ratio %", "16")} <= points
    assert ("with replica", sorted(routed)[0]) in points


def test_elasticity_writes_html_with_the_playbook(
    demo_dsn: str, tmp_path: Path, pg_server: TestServer
) -> None:
    if pg_server.name != "embedded":
        pytest.skip("report rendering: checked on the embedded server only")
    out = tmp_path / "el.html"
    result = CliRunner().invoke(
        _app(),
        [
            "--dsn", demo_dsn, "load", "elasticity", "--users", "4", "--skip-pool",
            "--pool", "2", "--cache-sizes", "50", "--step-seconds", "0.6", *QUICK,
            "--format", "html", "--output", str(out),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert page.startswith("<!doctype html>")
    assert "Scaling playbook" in page and "application cache hit ratio" in page
    assert 'data-series="hit ratio %" data-x="50"' in page
