"""Every duration, size and port parser, and the settings loader, are total.

Generated input gives a value in range or the documented error (``ValueError`` for the
duration parsers that options wrap, :class:`ConfigurationError` elsewhere), never
anything else: no ``OverflowError``, ``UnicodeDecodeError`` or ``SettingsError``.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import timedelta
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pgwarden.cli.options import MAX_PORT, listen_port, seconds
from pgwarden.config import MAX_DURATION, Settings, iter_settings, load_settings, period
from pgwarden.errors import ConfigurationError
from pgwarden.load.buffers import size_bytes
from pgwarden.slowlog.report import parse_since

FEW = settings(max_examples=200, deadline=None)
NAMES = sorted(name for name, _, _ in iter_settings())
SECTIONS = sorted(name for name in Settings.model_fields if "." not in name)
#: text that looks like a duration, a number or a size more often than chance
NUMBERISH = st.from_regex(
    r"\A\s?-?[0-9]{0,400}(\.[0-9]{0,3})?(e[0-9]{1,3})?\s?"
    r"(s|m|h|d|w|D|ms|min|kB|MB|TB|x|nan|inf)?\s?\Z"
)
TEXT = st.text() | NUMBERISH


@FEW
@given(text=TEXT)
@example(text="999999999d")
@example(text="1e400d")
@example(text="nand")
@example(text="-1d")
@example(text="9" * 400 + "s")
def test_since_is_a_duration_in_range_or_a_value_error(text: str) -> None:
    try:
        found = parse_since(text)
    except ValueError:
        return
    assert timedelta(0) < found <= MAX_DURATION


@FEW
@given(amount=st.integers(1, 36_500), unit=st.sampled_from("smhdw"))
def test_since_reads_what_it_is_given(amount: int, unit: str) -> None:
    scale = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[unit]
    expected = timedelta(seconds=amount * scale)
    if expected <= MAX_DURATION:
        assert parse_since(f"{amount}{unit}") == expected


@FEW
@given(text=TEXT | st.sampled_from(["never", "Hourly", "monthly", "12h", "3d"]))
@example(text="99999999999d")
def test_period_is_a_period_in_range_or_a_value_error(text: str) -> None:
    try:
        found = period(text)
    except ValueError:
        return
    assert found is None or timedelta(0) <= found <= MAX_DURATION


@FEW
@given(text=TEXT)
@example(text="99999999999999999999TB")
def test_size_is_bytes_or_a_configuration_error(text: str) -> None:
    try:
        assert size_bytes(text) >= 0
    except ConfigurationError:
        pass


@FEW
@given(value=st.integers(-(2**70), 2**70) | st.sampled_from([-1, 0, 1, 65535, 70000]))
def test_a_listen_port_is_in_range_or_a_configuration_error(value: int) -> None:
    for any_port in (False, True):
        try:
            chosen = listen_port(value, "--port", any_port=any_port)
        except ConfigurationError as exc:
            assert "--port" in str(exc)
            continue
        assert (0 if any_port else 1) <= chosen <= MAX_PORT


@FEW
@given(value=st.floats() | st.integers(-(2**70), 2**70))
def test_seconds_options_are_finite_and_in_range(value: float) -> None:
    try:
        chosen = seconds("--duration")(value)
    except ConfigurationError:
        return
    assert chosen is not None and 0 <= chosen <= MAX_DURATION.total_seconds()


# -- the settings loader ---------------------------------------------------------------

TOML_VALUES = st.one_of(
    st.integers(-(2**63), 2**63 - 1).map(str),
    st.floats().map(repr),  # TOML reads nan, inf and -inf as Python writes them
    st.text().map(json.dumps),
    st.sampled_from(["true", "[]", "{}", "[1, 2]", '["x"]', "{ a = 1 }", "1e400"]),
)
ENV_VALUES = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_characters="\x00")),
    NUMBERISH,
    st.sampled_from(["{bad", "[{", "[]", "{}", '{"x": 1e12}', "null", "inf", "nan"]),
)


def _load(toml: bytes | None, env: dict[str, str]) -> None:
    """Load settings from ``toml`` and ``env``; anything but success or a
    ConfigurationError fails the test."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PGWARDEN_")}
    with tempfile.TemporaryDirectory() as directory, mock.patch.dict(
        os.environ, {**clean, **env}, clear=True
    ):  # fmt: skip
        path = None
        if toml is not None:
            path = Path(directory) / "pgwarden.toml"
            path.write_bytes(toml)
        try:
            load_settings(path)
        except ConfigurationError as exc:
            assert "\n" not in str(exc)


@FEW
@given(data=st.binary())
@example(data=b'timezone = "\xff\xfe"\n')
@example(data=b"\xef\xbb\xbf[alerts]\n")
def test_any_bytes_as_the_settings_file(data: bytes) -> None:
    _load(data, {})


@FEW
@given(
    entries=st.lists(
        st.tuples(st.sampled_from(NAMES), TOML_VALUES), min_size=1, max_size=4
    )
)
@example(entries=[("maintenance.vacuum_schedule", '"99999999999d"')])
@example(entries=[("collect.raw_retention_days", str(2**62))])
@example(entries=[("alerts.cache_hit_ratio_pct", "nan")])
def test_any_values_in_the_settings_file(entries: list[tuple[str, str]]) -> None:
    tables: dict[str, dict[str, str]] = {}
    for name, value in entries:
        section, _, key = name.rpartition(".")
        tables.setdefault(section, {})[key] = value
    lines = [f"{key} = {value}" for key, value in tables.pop("", {}).items()]
    for section, values in tables.items():
        lines += [
            f"[{section}]",
            *(f"{key} = {value}" for key, value in values.items()),
        ]
    _load("\n".join(lines).encode(), {})


@FEW
@given(
    entries=st.dictionaries(
        st.sampled_from(NAMES + SECTIONS).map(
            lambda n: "PGWARDEN_" + n.replace(".", "__").upper()
        ),
        ENV_VALUES,
        min_size=1,
        max_size=3,
    )
)
@example(entries={"PGWARDEN_ALERTS": "{bad"})
@example(entries={"PGWARDEN_ALERTS__CHANNELS": "[{"})
@example(entries={"PGWARDEN_MAINTENANCE__HOT_TABLES": "User"})
@example(entries={"PGWARDEN_STATEMENT_TIMEOUT_MS": "99999999999999"})
def test_any_values_in_the_environment(entries: dict[str, str]) -> None:
    _load(None, entries)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"PGWARDEN_ALERTS__CHANNELS": '[{"url": "https://hooks/s3cret"'},
         "PGWARDEN_ALERTS__CHANNELS: not valid JSON"),
        ({"PGWARDEN_MAINTENANCE__HOT_TABLES": "User"},
         "PGWARDEN_MAINTENANCE__HOT_TABLES: not valid JSON"),
        ({"PGWARDEN_SLOW_QUERIES__WARNING_MS": "inf"},
         "slow_queries.warning_ms: Input should be a finite number"),
        ({"PGWARDEN_COLLECT__INTERVAL_SECONDS": "99999999999999"},
         "collect.interval_seconds: must be at most 100 years"),
    ],
)  # fmt: skip
def test_the_error_names_the_variable_and_never_repeats_its_value(
    env: dict[str, str], expected: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        with mock.patch.dict(os.environ, env):
            load_settings()
    assert expected in str(caught.value)
    assert "s3cret" not in str(caught.value)
