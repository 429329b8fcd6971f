"""Histograms merge exactly, and decoding reads only what a histogram may hold."""

from __future__ import annotations

import base64
import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pgwarden.load.histogram import (
    DIGITS,
    HIGHEST_US,
    LOWEST_US,
    MAX_ENCODED,
    BadHistogram,
    Histogram,
)

samples = st.lists(st.integers(LOWEST_US, HIGHEST_US), max_size=300)
digits = st.sampled_from([2, DIGITS])


def _of(values: list[int], precision: int) -> Histogram:
    made = Histogram(precision)
    for value in values:
        made.record(value)
    return made


@settings(max_examples=60, deadline=None)
@given(st.lists(samples, min_size=1, max_size=5), digits)
def test_the_merge_of_split_samples_is_the_histogram_of_all(
    parts: list[list[int]], precision: int
) -> None:
    merged = Histogram(precision)
    for part in parts:
        merged.add(Histogram.decode(_of(part, precision).encode(), precision))
    whole = _of([v for part in parts for v in part], precision)
    assert merged.encode() == whole.encode()  # every bucket's count
    assert merged.count == whole.count == sum(map(len, parts))
    for pct in (50.0, 95.0, 99.0, 100.0):
        assert merged.percentile_ms(pct) == whole.percentile_ms(pct)
    assert merged.max_ms() == whole.max_ms()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(LOWEST_US, 10_000_000), min_size=1,
                         max_size=60), min_size=2, max_size=4),
       st.sampled_from([50.0, 90.0, 95.0, 99.0, 99.9]))  # fmt: skip
def test_a_merged_percentile_lies_between_its_parts(
    parts: list[list[int]], pct: float
) -> None:
    found = [_of(part, DIGITS) for part in parts]
    merged = Histogram()
    for one in found:
        merged.add(one)
    shown = [one.percentile_ms(pct) for one in found]
    assert min(shown) <= merged.percentile_ms(pct) <= max(shown)


def test_percentiles_are_nearest_rank() -> None:
    made = _of([1000, 2000, 3000, 4000], DIGITS)  # ranks 1..4 at 25 % steps
    assert made.percentile_ms(50) == pytest.approx(2.0, abs=0.002)
    assert made.percentile_ms(50.1) == pytest.approx(3.0, abs=0.003)
    assert made.percentile_ms(100) == made.max_ms()


def _wrap(payload: bytes, *, cookie: int = 0x1C849314) -> bytes:
    compressed = zlib.compress(payload)
    return base64.b64encode(struct.pack(">II", cookie, len(compressed)) + compressed)


def _payload(varints: bytes, *, precision: int = DIGITS, lowest: int = 1,
             highest: int = HIGHEST_US) -> bytes:  # fmt: skip
    header = struct.pack(">IIIIQQd", 0x1C849313, len(varints), 0, precision,
                         lowest, highest, 1.0)  # fmt: skip
    return header + varints


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=400),
        st.binary(max_size=300).map(base64.b64encode),
        st.binary(max_size=300).map(lambda b: _wrap(_payload(b))),
        st.binary(max_size=300).map(lambda b: _wrap(b)),
        st.tuples(st.binary(max_size=200), st.integers(0, 40)).map(
            lambda t: _wrap(_payload(t[0])[: t[1]] + t[0])
        ),
    )
)
def test_decoding_hostile_bytes_raises_only_bad_histogram(data: bytes) -> None:
    try:
        made = Histogram.decode(data)
    except BadHistogram:
        return
    assert made.count >= 0  # what decodes is a histogram of our range


def test_decoding_refuses_what_does_not_fit_and_reads_what_does() -> None:
    bomb = _wrap(_payload(b"\x01" * 5_000_000))  # 5 M runs of one zero: too big
    with pytest.raises(BadHistogram, match="larger"):
        Histogram.decode(bomb)
    with pytest.raises(BadHistogram, match="digits"):
        Histogram.decode(_wrap(_payload(b"\x02", precision=2)))
    with pytest.raises(BadHistogram, match=r"1\.\.99"):
        Histogram.decode(_wrap(_payload(b"\x02", highest=99)))
    with pytest.raises(BadHistogram, match="beyond"):  # a run of zeros, then a count
        Histogram.decode(_wrap(_payload(b"\xff\xff\x7f\x02")))
    with pytest.raises(BadHistogram, match="truncated"):
        Histogram.decode(_wrap(_payload(b"\x82")))
    with pytest.raises(BadHistogram, match="too large"):
        Histogram.decode(_wrap(_payload(b"\xfe" * 8 + b"\x01")))
    with pytest.raises(BadHistogram, match="longer"):
        Histogram.decode(b"A" * (MAX_ENCODED + 4))
    with pytest.raises(BadHistogram, match="not an HdrHistogram"):
        Histogram.decode(_wrap(_payload(b"\x02"), cookie=0x1234))
    # a hand-made encoding: one count of 3 in bucket 0 (value 1 µs), another of 1
    # after a run of 9 zeros
    made = Histogram.decode(_wrap(_payload(b"\x06\x11\x02")))
    assert made.count == 4
    assert Histogram.decode(b"").count == 0


# -- a shard's result as a row holds it ----------------------------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats()
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)  # fmt: skip


def _result_row() -> dict[str, object]:
    from pgwarden.load.distributed.wire import to_json
    from pgwarden.load.recorder import Recorder

    recorder = Recorder(0.0, 10.0)
    recorder.ok("lookup", 1.0, 1.0, 1.002, 0.0)
    return to_json(recorder.result((Histogram().encode(), 2, 0.5, 0), (10, 1, 1)))


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_a_shard_result_read_from_a_row_fails_only_with_the_documented_errors(
    data: st.DataObject,
) -> None:
    from pgwarden.load import LoadSpec, ScenarioRef
    from pgwarden.load.distributed import BadShard
    from pgwarden.load.distributed.wire import from_json
    from pgwarden.load.recorder import WorkerResult
    from pgwarden.load.run import LoadRun

    row = _result_row()
    key = data.draw(st.sampled_from([*row, "extra"]))
    row[key] = data.draw(json_values)
    run = LoadRun(LoadSpec("", ScenarioRef("reference"), 1, 1.0), "s", None)  # type: ignore[arg-type]
    try:
        run.add(from_json(WorkerResult, row))
    except (BadShard, BadHistogram):
        return
    assert run.overall.count in (0, 1)


def test_a_good_result_row_comes_back_whole() -> None:
    from pgwarden.load.distributed.wire import from_json
    from pgwarden.load.recorder import WorkerResult

    part = from_json(WorkerResult, _result_row())
    assert Histogram.decode(part.overall).count == 1
    assert part.cache == (10, 1, 1) and sum(s[0] for s in part.seconds) == 1


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_a_shard_spec_read_from_a_row_fails_only_with_bad_shard(
    data: st.DataObject,
) -> None:
    from pgwarden.load import LoadSpec, ScenarioRef
    from pgwarden.load.distributed import BadShard
    from pgwarden.load.distributed.wire import from_json, to_json

    row = to_json(LoadSpec("host=db", ScenarioRef("reference"), 10, 60.0, rate=5.0))
    key = data.draw(st.sampled_from([*row, "extra"]))
    row[key] = data.draw(json_values)
    given = {"dsn": "host=db", "scenario": ScenarioRef("reference")}
    try:
        spec = from_json(LoadSpec, row, given)
    except BadShard:
        return
    assert isinstance(spec, LoadSpec) and spec.dsn == "host=db"
