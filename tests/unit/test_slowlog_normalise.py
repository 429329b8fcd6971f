"""Normalisation: no literal survives, the structure does, fingerprints group."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pgwarden.sqltext.literals import normalise, scrub

SECRETS = ("secret-123", "42424242", "2024-01-31", "3.14159", "deadbeef")


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * FROM t WHERE name = 'secret-123' AND n = 42424242",
        "SELECT * FROM t WHERE id IN (42424242, 3.14159, 'secret-123')",
        "SELECT * FROM t WHERE created > '2024-01-31'::date",
        "SELECT * FROM t WHERE created > DATE '2024-01-31'",
        "SELECT x'deadbeef', E'secret-123\\n', $tag$secret-123$tag$",
        "COPY t FROM '/tmp/secret-123'",
        "CREATE TABLE t (a text DEFAULT 'secret-123')",
        "ALTER ROLE app PASSWORD 'secret-123'",
        "SELECT 'secret-123' FROM",  # does not parse
        "SELECT * FROM t WHERE a = 'secret-123",  # truncated: does not even scan
        "SELECT $tag$ secret-123",
        "UPDATE t SET n = 42424242 WHERE note = 'it''s secret-123'",
    ],
)
def test_no_literal_survives(query: str) -> None:
    text = normalise(query).text
    for secret in SECRETS:
        assert secret not in text, text


def test_structure_is_kept() -> None:
    found = normalise(
        'SELECT "tenantId", count(*) FROM "Assessment"\n'
        "WHERE status IN ('open', 'closed') AND score > 3 GROUP BY 1;"
    )
    assert found.text == (
        'SELECT "tenantId", count(*) FROM "Assessment"\n'
        "WHERE status IN ($1, $2) AND score > $3 GROUP BY $4"
    )


def test_existing_parameters_are_kept_and_numbering_continues() -> None:
    assert normalise("SELECT $1, $2::text, 5").text == "SELECT $1, $2::text, $3"


def test_same_query_different_constants_same_fingerprint() -> None:
    a = normalise("SELECT * FROM t WHERE a = 'x' AND b IN (1, 2, 3)")
    b = normalise("select *  from t where a = 'yy' and b in (7)")
    c = normalise("SELECT * FROM t WHERE a = $1 AND b IN ($2)")
    assert a.fingerprint == b.fingerprint == c.fingerprint
    assert a.fingerprint != normalise("SELECT * FROM u WHERE a = 'x'").fingerprint


def test_comments_are_taken_out_and_returned() -> None:
    query = "SELECT 1 /*action='list',route='%2Fa'*/ -- trailing\n"
    found = normalise(query)
    assert found.text == "SELECT $1"
    assert found.comments == ("/*action='list',route='%2Fa'*/", "-- trailing")
    assert found.fingerprint == normalise("SELECT 2").fingerprint


def test_comment_inside_a_string_is_data() -> None:
    found = normalise("SELECT '/* not a comment */ secret-123'")
    assert found.text == "SELECT $1"
    assert found.comments == ()


def test_scrubber_fallback() -> None:
    assert scrub("SELECT 'a''b', 12.5e3, t1.x -- c") == "SELECT $1, $2, t1.x"
    assert scrub('SELECT "col 1" FROM t WHERE a = \'secret') == (
        'SELECT "col 1" FROM t WHERE a = $1'
    )
    unparsable = normalise("SELEC 'secret-123', 7 FROM")
    assert unparsable.text == "SELEC $1, $2 FROM"
    assert unparsable.fingerprint == normalise("SELEC 'other', 8 FROM").fingerprint


@pytest.mark.parametrize(
    "query", ["SELECT $99999999999, 1", "SELECT $" + "9" * 5000 + ", 'x'", "$", "'"]
)
def test_absurd_parameter_numbers_are_normalised(query: str) -> None:
    assert "'x'" not in normalise(query).text


@settings(max_examples=300, deadline=None, database=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "SELECT",
                " ",
                "$1",
                "$99999999999",
                "'a'",
                "--c\n",
                "/*",
                "*/",
                "1e9",
                "$$",
                "$t$",
                '"',
                "(",
                ")",
                ",",
                "WHERE",
                "x",
                "\x00",
                "\ud800",
                "é",
            ]
        )
        | st.text(max_size=8),
        max_size=30,
    ).map("".join)
)
def test_normalise_is_total(query: str) -> None:
    """Any text normalises: no exception, and a text without literal quotes."""
    found = normalise(query)
    assert isinstance(found.text, str) and found.fingerprint
    assert isinstance(scrub(query), str)
