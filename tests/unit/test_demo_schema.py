"""The reference schema's text, sqlcommenter tags and the workload's action mix."""

from __future__ import annotations

import re

from pgwarden.demo.actions import ACTIONS
from pgwarden.demo.data import SCALES, data_steps
from pgwarden.demo.queries import ROUTES, SQL, statement
from pgwarden.demo.schema import PLANTED_PROBLEMS, REFERENCE_TABLES, schema_sections
from pgwarden.demo.sqlcommenter import sqlcomment, tag
from pgwarden.demo.workload import ACTION_MIX

WRITES = {"save_answer", "attach_evidence", "sign_in"}


def test_schema_sections_create_the_reference_tables() -> None:
    sections = schema_sections()
    assert set(sections) == {"tables", "indexes"}
    created = re.findall(r'CREATE TABLE "(\w+)"', sections["tables"])
    assert tuple(created) == REFERENCE_TABLES
    assert len(created) == 24


def test_planted_indexes_are_in_the_schema() -> None:
    indexes = set(
        re.findall(r'CREATE (?:UNIQUE )?INDEX "(\w+)"', schema_sections()["indexes"])
    )
    for problem in PLANTED_PROBLEMS:
        assert problem.table in REFERENCE_TABLES
        if problem.kind.endswith("_index") and problem.kind != "missing_index":
            assert problem.target in indexes
        if problem.related:
            assert problem.related in indexes


def test_data_steps_and_scales() -> None:
    names = [name for name, _sql in data_steps()]
    assert names[0] == "layout"
    assert {"tenants", "assessments", "answers", "audit_log"} <= set(names)
    assert list(SCALES) == ["tiny", "small", "medium"]
    assert SCALES["medium"].assessments == 10 * SCALES["small"].assessments


def test_sqlcomment_sorts_keys_and_encodes_values() -> None:
    comment = sqlcomment(route="/a b/:id", action="it's")
    assert comment == "/*action='it%27s',route='/a%20b/%3Aid'*/"
    assert "*/" not in sqlcomment(route="*/ DROP TABLE x; /*")[2:-2]


def test_tag_appends_comment_escaped_for_parameters() -> None:
    tagged = tag("SELECT 1;", action="search", route="/s:x")
    assert tagged.startswith("SELECT 1 /*action='search',")
    assert "route='/s%%3Ax'" in tagged


def test_every_action_is_routed_weighted_and_runnable() -> None:
    assert set(ACTION_MIX) == set(ACTIONS) == set(ROUTES)
    reads = sum(w for name, w in ACTION_MIX.items() if name not in WRITES)
    assert reads / sum(ACTION_MIX.values()) > 0.7
    assert 0 < ACTION_MIX["open_assessment_n_plus_one"] < ACTION_MIX["open_assessment"]


def test_statements_carry_their_action() -> None:
    for name in SQL:
        text = statement(name, "list_assessments")
        assert text.endswith("*/")
        assert "action='list_assessments'" in text
