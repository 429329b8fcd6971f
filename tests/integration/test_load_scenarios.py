"""User scenarios of each kind run against a real database: YAML SQL, Python modules."""

from __future__ import annotations

import sys
from pathlib import Path

import psycopg
import pytest

from pgwarden.load import LoadSpec, ScenarioRef, build_report, run_load
from tests.conftest import TestServer

YAML = """
name: tenants-yaml
actions:
  tenant_assessments:
    weight: 3
    sql: SELECT id FROM "Assessment" WHERE "tenantId" = %(tenant)s LIMIT %(n)s
    params:
      tenant: {zipf: 'SELECT id FROM "Tenant" ORDER BY id'}
      n: {int_range: [1, 20]}
  touch:
    weight: 1
    sql: UPDATE "Assessment" SET "updatedAt" = now() WHERE id = %(id)s
    params:
      id: {sample: 'SELECT id FROM "Assessment"'}
"""

MODULE = """
NAME = "shop"
READ_ONLY = ["browse"]


async def setup(conn):
    await conn.execute("CREATE TABLE IF NOT EXISTS load_marks (n int)")
    cur = await conn.execute('SELECT id FROM "Assessment"')
    return {"ids": [row[0] for row in await cur.fetchall()]}


async def browse(conn, rng, params):
    await conn.execute(
        'SELECT * FROM "Assessment" WHERE id = %s', [rng.choice(params["ids"])]
    )


async def mark(conn, rng, params):
    await conn.execute("INSERT INTO load_marks VALUES (%s)", [rng.randint(1, 9)])


ACTIONS = [(4, browse), (1, mark)]
"""


def _run(dsn: str, scenario: str) -> dict[str, object]:
    spec = LoadSpec(
        dsn=dsn,
        scenario=ScenarioRef(scenario),
        users=4,
        duration_s=1.0,
        pool_size=2,
        think_ms=2.0,
        warmup_s=0.2,
        seed=5,
    )
    return build_report(run_load(spec), "test")


@pytest.fixture
def embedded_only(pg_server: TestServer) -> None:
    if pg_server.name != "embedded":
        pytest.skip("scenario loading does not depend on the server version")


@pytest.mark.usefixtures("embedded_only")
def test_a_yaml_scenario_runs_its_weighted_sql(demo_dsn: str, tmp_path: Path) -> None:
    path = tmp_path / "tenants.yaml"
    path.write_text(YAML)
    report = _run(demo_dsn, str(path))
    assert report["scenario"] == "tenants-yaml"
    actions = report["actions"]
    assert isinstance(actions, dict)
    assert set(actions) == {"tenant_assessments", "touch"}
    assert actions["tenant_assessments"]["count"] > actions["touch"]["count"] > 0
    assert report["errors"]["total"] == 0  # type: ignore[index]


@pytest.mark.usefixtures("embedded_only")
@pytest.mark.parametrize("form", ["file", "dotted"])
def test_a_python_module_scenario_runs_setup_and_its_actions(
    demo_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, form: str
) -> None:
    package = tmp_path / "loadpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "shop.py").write_text(MODULE)
    if form == "dotted":
        monkeypatch.syspath_prepend(str(tmp_path))
        monkeypatch.delitem(sys.modules, "loadpkg", raising=False)
        monkeypatch.delitem(sys.modules, "loadpkg.shop", raising=False)
        scenario = "loadpkg.shop"
    else:
        scenario = str(package / "shop.py")
    report = _run(demo_dsn, scenario)
    assert report["scenario"] == "shop"
    actions = report["actions"]
    assert isinstance(actions, dict)
    assert actions["browse"]["count"] > actions["mark"]["count"] > 0
    assert report["errors"]["total"] == 0  # type: ignore[index]
    with psycopg.connect(demo_dsn) as conn:
        row = conn.execute("SELECT count(*) FROM load_marks").fetchone()
    assert row is not None and row[0] >= actions["mark"]["count"]
