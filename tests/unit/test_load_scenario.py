"""Scenario files and modules: good ones parse, malformed ones say what is wrong."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from pgwarden.errors import ConfigurationError
from pgwarden.load.scenario import ScenarioError, ScenarioRef
from pgwarden.load.sqlfile import _zipf_cumulative, read_scenario

GOOD = """
name = "catalogue"
think_ms = 20

[actions.lookup]
weight = 10
sql = "SELECT * FROM item WHERE id = %(id)s AND kind = %(kind)s"
params.id = { int_range = [1, 100] }
params.kind = { choice = ["a", "b"] }

[actions.by_tenant]
weight = 2.5
sql = 'SELECT count(*) FROM "Assessment" WHERE "tenantId" = %(tenant)s'
params.tenant = { zipf = 'SELECT id FROM "Tenant" ORDER BY id', exponent = 1.2 }

[actions.touch]
sql = "UPDATE item SET seen = now() WHERE id = %(id)s"
params.id = { sample = "SELECT id FROM item" }
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.toml"
    path.write_text(text)
    return path


def test_a_good_file_parses_with_weights_generators_and_read_only(
    tmp_path: Path,
) -> None:
    scenario = read_scenario(_write(tmp_path, GOOD))
    assert scenario.name == "catalogue"
    assert scenario.think_ms == 20
    assert scenario.weights == {"lookup": 10, "by_tenant": 2.5, "touch": 1}
    assert scenario.read_only == {"lookup", "by_tenant"}
    assert scenario.writes
    lookup = scenario.actions["lookup"]
    rng = random.Random(1)
    assert all(1 <= lookup.params["id"].draw(rng, ()) <= 100 for _ in range(50))
    assert {lookup.params["kind"].draw(rng, ()) for _ in range(50)} == {"a", "b"}
    zipf = scenario.actions["by_tenant"].params["tenant"]
    assert zipf.kind == "zipf" and zipf.exponent == 1.2 and zipf.query


def test_zipf_draws_favour_the_first_ranks() -> None:
    from pgwarden.load.sqlfile import Generator

    gen = Generator("zipf", tuple(range(1, 51)), None, 1.1)
    cumulative = _zipf_cumulative(50, 1.1)
    rng = random.Random(3)
    draws = [gen.draw(rng, cumulative) for _ in range(2000)]
    assert draws.count(1) > draws.count(10) > draws.count(50)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name = ", "malformed TOML"),
        ("name = 'x'", "no [actions.NAME] tables"),
        ("[actions.a]\nweight = 1", "sql must be a non-empty string"),
        ("[actions.a]\nsql = 'SELECT 1'\nweight = 0", "weight must be a number > 0"),
        ("[actions.a]\nsql = 'SELECT 1'\nwieght = 2", "unknown key 'wieght'"),
        ("[actions.a]\nsql = 'SELECT %(id)s'", "no generator for %(id)s"),
        (
            "[actions.a]\nsql = 'SELECT %(id)s'\nparams.id = { int_range = [5, 1] }",
            "int_range must be [low, high] integers",
        ),
        (
            "[actions.a]\nsql = 'SELECT %(id)s'\nparams.id = { gauss = 1 }",
            "actions.a.params.id: unknown generator 'gauss'; use one of choice, "
            "int_range, sample, zipf",
        ),
        (
            "[actions.a]\nsql = 'SELECT %(id)s'\nparams.id = { exponent = 1 }",
            "needs exactly one of choice, int_range, sample, zipf",
        ),
        (
            "[actions.lookup]\nsql = 'SELECT * FORM item WHERE id = %(id)s'\n"
            "params.id = { int_range = [1, 2] }",
            'actions.lookup: SQL syntax error: syntax error at or near "FORM"',
        ),
        (
            "[actions.two]\nsql = 'SELECT 1; SELECT 2'",
            "actions.two: sql must be exactly one statement",
        ),
        (
            "[actions.a]\nsql = 'SELECT %(id)s'\nparams.id = { choice = [] }",
            "choice must be a non-empty list",
        ),
        (
            "[actions.a]\nsql = 'SELECT %(id)s'\n"
            "params.id = { zipf = 'SELECT 1', exponent = -1 }",
            "exponent must be a number > 0",
        ),
        ("think_ms = -3\n[actions.a]\nsql = 'SELECT 1'", "think_ms must be"),
    ],
)
def test_malformed_files_fail_with_the_place_and_the_reason(
    tmp_path: Path, text: str, message: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ScenarioError) as caught:
        read_scenario(path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)
    assert isinstance(caught.value, ConfigurationError)  # exit code 2


def test_a_scenario_is_reference_a_sql_file_or_a_python_module(
    tmp_path: Path,
) -> None:
    assert ScenarioRef("reference").resolve().name == "reference"
    with pytest.raises(ScenarioError, match=r"not 'reference', a \.toml/\.yaml file"):
        ScenarioRef(str(tmp_path / "x.txt")).resolve()
    with pytest.raises(ScenarioError, match="cannot read"):
        ScenarioRef(str(tmp_path / "missing.toml")).resolve()
    with pytest.raises(ScenarioError, match=r"missing\.py: no such file"):
        ScenarioRef(str(tmp_path / "missing.py")).resolve()
    with pytest.raises(ScenarioError, match=r"no module named 'no_such_pkg\.mod'"):
        ScenarioRef("no_such_pkg.mod").resolve()


YAML = """
name: catalogue
think_ms: 20
actions:
  lookup:
    weight: 10
    sql: SELECT * FROM item WHERE id = %(id)s AND kind = %(kind)s
    params:
      id: {int_range: [1, 100]}
      kind: {choice: [a, b]}
  touch:
    sql: UPDATE item SET seen = now() WHERE id = %(id)s
    params:
      id: {sample: SELECT id FROM item}
"""


def test_a_yaml_file_parses_like_the_toml_one(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(YAML)
    scenario = ScenarioRef(str(path)).resolve()
    assert scenario.name == "catalogue"
    assert scenario.think_ms == 20
    assert scenario.weights == {"lookup": 10, "touch": 1}
    assert scenario.read_only == {"lookup"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("actions: [unclosed", "malformed YAML at line 1"),
        ("- a\n- b", "must be a mapping with an 'actions' key"),
        (
            "actions:\n  bad:\n    sql: SELEC 1\n",
            'actions.bad: SQL syntax error: syntax error at or near "SELEC"',
        ),
        (
            "actions:\n  a:\n    sql: SELECT %(x)s\n    params:\n"
            "      x: {normal: [1, 2]}\n",
            "unknown generator 'normal'",
        ),
        ("actions:\n  a:\n    sql: SELECT 1\n    weight: -2\n", "weight must be"),
    ],
)
def test_malformed_yaml_fails_with_the_place_and_the_reason(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "s.yml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as caught:
        ScenarioRef(str(path)).resolve()
    assert message in str(caught.value)
    assert str(path) in str(caught.value)
    assert "\n" not in str(caught.value)


MODULE = """
NAME = "shop"
THINK_MS = 5
READ_ONLY = ["browse"]

async def setup(conn):
    return {"ids": [1, 2, 3]}

async def browse(conn, rng, params):
    pass

async def buy(conn, rng, params):
    pass

ACTIONS = [(10, browse), (1.5, buy)]
"""


def test_a_python_module_lists_weighted_async_actions(tmp_path: Path) -> None:
    path = tmp_path / "shop.py"
    path.write_text(MODULE)
    scenario = ScenarioRef(str(path)).resolve()
    assert scenario.name == "shop"
    assert scenario.weights == {"browse": 10, "buy": 1.5}
    assert scenario.read_only == {"browse"}
    assert scenario.think_ms == 5
    assert scenario.writes


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("def broken(:\n", "shop.py:1: syntax error"),
        ("import no_such_module_here\n", "import failed: ModuleNotFoundError"),
        ("X = 1\n", "no ACTIONS = [(weight, action), ...] list"),
        (
            "async def a(conn, rng, params): pass\nACTIONS = [(0, a)]",
            "ACTIONS[0] (a): weight must be a number > 0",
        ),
        (
            "async def a(conn, rng, params): pass\nACTIONS = [('x', a)]",
            "ACTIONS[0] (a): weight must be a number > 0",
        ),
        (
            "def a(conn, rng, params): pass\nACTIONS = [(1, a)]",
            "ACTIONS[0] (a): must be an async def taking (conn, rng, params)",
        ),
        (
            "async def a(conn): pass\nACTIONS = [(1, a)]",
            "must take three arguments (conn, rng, params)",
        ),
        (
            "async def a(conn, rng, params): pass\nACTIONS = [(1, a), (2, a)]",
            "action 'a' is listed twice",
        ),
        (
            "async def a(conn, rng, params): pass\nACTIONS = [(1, a)]\n"
            "READ_ONLY = ['b']",
            "READ_ONLY names no action 'b'",
        ),
        (
            "def setup(conn): pass\nasync def a(conn, rng, params): pass\n"
            "ACTIONS = [(1, a)]",
            "setup must be an async def taking (conn)",
        ),
    ],
)
def test_malformed_modules_fail_with_the_place_and_the_reason(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "shop.py"
    path.write_text(text)
    with pytest.raises(ScenarioError) as caught:
        ScenarioRef(str(path)).resolve()
    assert message in str(caught.value)
    assert "shop.py" in str(caught.value)
    assert isinstance(caught.value, ConfigurationError)
