"""The one masking function, tried with generated passwords in every form libpq takes.

The masked string must not depend on the password at all: masking a DSN holding a
generated password gives exactly what masking the same DSN holding ``x`` gives. So
no password, however it collides with the rest of the string, can come out.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from psycopg.conninfo import conninfo_to_dict

from pgwarden import dsn, pg
from pgwarden.config import effective, load_settings

#: what libpq can hold in a password: any character but NUL
PASSWORDS = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1)
FEW = settings(max_examples=200, deadline=None)


def _escaped(value: str) -> str:
    """An unquoted conninfo value: every special character behind a backslash."""
    return "".join(f"\\{c}" if c in " \t\n\r\v\f'\\" else c for c in value)


def _key(case: list[bool], encode: bool) -> str:
    key = "".join(
        c.upper() if up else c for c, up in zip("password", case, strict=True)
    )
    return "pass%77ord" if encode else key


FORMS: dict[str, Callable[[str], str]] = {
    "uri userinfo": lambda pw: f"postgresql://app:{quote(pw, safe='')}@db:5432/app",
    "uri query": lambda pw: (
        f"postgresql://app@db/app?sslmode=prefer&password={quote(pw, safe='')}"
        "&application_name=x"
    ),
    "uri query, key encoded": lambda pw: (
        f"postgres://db/app?pass%77ord={quote(pw, safe='')}"
    ),
    "key=value quoted": lambda pw: f"host=db password={dsn.quote_value(pw)} user=app",
    "key=value escaped": lambda pw: f"host=db password = {_escaped(pw)} dbname=app",
    "nested dbname": lambda pw: (
        "host=db dbname="
        + dsn.quote_value(f"postgresql://app:{quote(pw, safe='')}@db/app")
    ),
    "sslpassword": lambda pw: f"host=db sslpassword={dsn.quote_value(pw)}",
}


@FEW
@given(password=PASSWORDS)
@example(password="secret")
@example(password="se cret")
@example(password="it's")
@example(password="@/?&=#%")
@example(password="db")
@pytest.mark.parametrize("form", sorted(FORMS))
def test_the_masked_dsn_does_not_depend_on_the_password(
    form: str, password: str
) -> None:
    embed = FORMS[form]
    text = embed(password)
    parsed = conninfo_to_dict(text)
    if form == "nested dbname":  # libpq keeps it as the database name
        assert quote(password, safe="") in str(parsed["dbname"])
    else:
        assert password in parsed.values()  # libpq reads exactly this password
    assert dsn.mask(text) == dsn.mask(embed("x"))
    assert pg.describe(text) == pg.describe(embed("x"))


@FEW
@given(password=PASSWORDS, case=st.lists(st.booleans(), min_size=8, max_size=8))
def test_a_query_password_key_in_any_case_is_masked(
    password: str, case: list[bool]
) -> None:
    key = _key(case, encode=False)
    text = f"postgresql://db/app?{key}={quote(password, safe='')}&port=5432"
    assert dsn.mask(text) == f"postgresql://db/app?{key}={dsn.MASK}&port=5432"


def _shown(password: str) -> dict[str, object]:
    encoded = quote(password, safe="")
    return effective(
        load_settings(
            overrides={
                "dsn": f"postgresql://app@db/app?password={encoded}",
                "repository_dsn": f"host=repo password={dsn.quote_value(password)}",
            }
        )
    )


@FEW
@given(password=PASSWORDS)
def test_config_show_does_not_depend_on_the_password(password: str) -> None:
    shown = _shown(password)
    assert shown == _shown("x")
    assert shown["dsn"] == f"postgresql://app@db/app?password={dsn.MASK}"
    assert shown["repository_dsn"] == f"host=repo password={dsn.MASK}"


@FEW
@given(password=PASSWORDS.filter(lambda p: len(p) >= dsn.MIN_SCRUB and "*" not in p))
def test_scrub_removes_a_secret_from_free_text(password: str) -> None:
    text = f"postgresql://app:{quote(password, safe='')}@db/app"
    message = f'failed: "{password}" and {password}; {text}'
    assert password not in dsn.scrub(message, text)


@FEW
@given(text=st.text())
@example(text="host=h password='unterminated")
@example(text="postgresql://u:p@ss@h/d?password=a&b&port=1")
@example(text="password")
@example(text="postgresql://")
def test_mask_takes_any_text_and_is_stable(text: str) -> None:
    once = dsn.mask(text)
    assert dsn.mask(once) == once


@pytest.mark.parametrize(
    ("given_dsn", "hidden"),
    [
        ("host=h password=se cret dbname=x", ("se", "cret")),
        ("application_name='a password=zz", ("zz",)),
        ("postgresql://u:pa/ss@h/db", ("pa/ss",)),
        ("postgresql://h/db?password=a&b&port=5", ("a&b",)),
        ("postgresql://h/db?PASSWORD=shout", ("shout",)),
        ("postgresql://h?password=p@ss", ("p@ss",)),
        ("postgresql://u:pa?ss@h/db?password=xyz", ("pa?ss", "xyz")),
    ],
)
def test_strings_libpq_refuses_are_masked_generously(
    given_dsn: str, hidden: tuple[str, ...]
) -> None:
    masked = dsn.mask(given_dsn)
    assert all(secret not in masked for secret in hidden), masked


def test_a_service_file_dsn_is_shown_as_written() -> None:
    assert dsn.mask("service=billing") == "service=billing"
