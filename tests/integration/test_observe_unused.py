"""One definition of an unused index: the CLI, the API and /metrics agree."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from pgwarden import pg
from pgwarden.cli import app
from pgwarden.config import Settings
from pgwarden.web import create_app
from tests.integration.test_observe_metrics import TOKEN, collect_with_load

pytestmark = pytest.mark.slow
AUTH = {"Authorization": f"Bearer {TOKEN}"}
Names = set[tuple[str, str]]


def run(dsn: str, *argv: str) -> Any:
    env = {"PGWARDEN_DSN": dsn, "COLUMNS": "80", "NO_COLOR": "1"}
    result = CliRunner().invoke(app, list(argv), env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def constraint_indexes(dsn: str) -> Names:
    """Indexes behind a primary key, unique or exclusion constraint (or unique)."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT n.nspname, c.relname FROM pg_index i"
            " JOIN pg_class c ON c.oid = i.indexrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE (i.indisprimary OR i.indisunique OR EXISTS (SELECT 1"
            " FROM pg_constraint k WHERE k.conindid = i.indexrelid"
            " AND k.contype IN ('p', 'u', 'x')))"
            " AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'"
        ).fetchall()
    return {(schema, name) for schema, name in rows}


def test_every_face_counts_the_unused_indexes_the_cli_finds(demo_dsn: str) -> None:
    name = pg.describe(demo_dsn)
    collect_with_load(demo_dsn, name)
    findings = run(demo_dsn, "indexes", "health", "--format", "json")
    cli: Names = {(f["schema"], f["index"]) for f in findings if f["kind"] == "unused"}
    metrics = run(demo_dsn, "metrics", "--format", "json")
    webapp = create_app(Settings(), demo_dsn, name, TOKEN, target_dsn=demo_dsn)
    with TestClient(webapp) as http:
        api = http.get("/api/admin/performance-metrics", headers=AUTH).json()
        text = http.get("/metrics", headers=AUTH).text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    flagged: Names = {
        (s.labels["schema"], s.labels["index"])
        for s in families["pgwarden_index_unused"].samples
        if s.value == 1
    }
    in_api: Names = {
        (i["schema"], i["index"]) for i in api["index_usage"] if i["unused"]
    }
    keys = constraint_indexes(demo_dsn)
    assert cli and keys, (cli, keys)
    assert api["unused_indexes"] == metrics["unused_indexes"] == len(cli)
    assert families["pgwarden_unused_indexes"].samples[0].value == len(cli)
    assert in_api == flagged == cli
    assert not cli & keys
    scanned = {(i["schema"], i["index"]) for i in api["index_usage"] if i["scans"]}
    assert ("public", "Assessment_pkey") in scanned - cli


def test_without_the_target_unused_is_unknown_not_guessed(demo_dsn: str) -> None:
    """A dashboard given only the repository says so instead of counting keys."""
    name = pg.describe(demo_dsn)
    collect_with_load(demo_dsn, name)
    with TestClient(create_app(Settings(), demo_dsn, name, TOKEN)) as http:
        api = http.get("/api/admin/performance-metrics", headers=AUTH).json()
        text = http.get("/metrics", headers=AUTH).text
    assert api["unused_indexes"] is None
    assert {i["unused"] for i in api["index_usage"]} == {None}
    assert any("unused indexes unknown" in note for note in api["notes"])
    assert "pgwarden_index_unused" not in text and "pgwarden_unused_indexes" not in text
