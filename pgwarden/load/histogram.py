"""Latency histograms (HdrHistogram) that merge across processes and hosts.

Values are microseconds, from 1 µs to one hour, at three significant digits, so a
percentile is exact to 0.1 % whatever the spread; histograms travel between worker
processes (and, for a distributed run, through the repository) as HdrHistogram's
V2 compressed encoding (:meth:`Histogram.encode`) and are added together bucket by
bucket (:meth:`Histogram.add`), so a merged percentile is the percentile of all
the samples, never an average of percentiles.

:meth:`Histogram.decode` reads an encoding from whoever could write it, so it is
total: it parses the encoding itself (base64, headers, zlib with a bounded output,
the ZigZag LEB128 counts) before any count reaches the histogram, accepts only
histograms of this module's range and precision, and raises :class:`BadHistogram`
(a :class:`ValueError`) for anything else — never another error, never a partial
histogram.
"""

from __future__ import annotations

import base64
import binascii
import math
import struct
import zlib
from dataclasses import dataclass
from typing import Any

from hdrh.histogram import HdrHistogram  # type: ignore[import-untyped]

LOWEST_US = 1
HIGHEST_US = 3_600_000_000
DIGITS = 3
PERCENTILES = (50.0, 95.0, 99.0)
#: longest encoding read (base64 characters); a full 3-digit histogram is ~100 kB
MAX_ENCODED = 1 << 20
#: a count above this is not one a load run makes (and would need a 9-byte varint)
MAX_COUNT = 1 << 48

_COMPRESSION_COOKIE = 0x1C849304
_ENCODING_COOKIE = 0x1C849303
_OUTER = struct.Struct(">II")  # cookie, length of the zlib part
_INNER = struct.Struct(">IIIIQQd")  # cookie, payload length, offset, digits, range


class BadHistogram(ValueError):
    """Not an encoded histogram of pgwarden's range and precision."""


class Histogram:
    """One latency distribution in microseconds."""

    def __init__(self, digits: int = DIGITS) -> None:
        self.digits = digits
        self._h: Any = HdrHistogram(LOWEST_US, HIGHEST_US, digits)

    def record(self, micros: float, count: int = 1) -> None:
        """``count`` samples of ``micros`` (clamped to the range), in one call."""
        self._h.record_value(min(max(int(micros), LOWEST_US), HIGHEST_US), count)

    def add(self, other: Histogram) -> None:
        """Add ``other``'s counts, bucket by bucket (exact at equal precision)."""
        if other.count:
            self._h.add(other._h)

    @property
    def count(self) -> int:
        return int(self._h.get_total_count())

    def percentile_ms(self, pct: float) -> float:
        """The nearest-rank percentile: the highest equivalent value of the bucket
        holding the ``ceil(pct % of count)``-th sample. (HdrHistogram rounds that
        rank, so a merged histogram's percentile could fall outside its parts'.)"""
        count = self.count
        if not count:
            return 0.0
        rank = max(1, math.ceil(round(min(pct, 100.0) * count / 100, 9)))
        for step in self._h.get_recorded_iterator():
            if step.total_count_to_this_value >= rank:
                value = self._h.get_highest_equivalent_value(step.value_iterated_to)
                return float(value) / 1000
        return self.max_ms()

    def max_ms(self) -> float:
        return float(self._h.get_max_value()) / 1000 if self.count else 0.0

    def mean_ms(self) -> float:
        return float(self._h.get_mean_value()) / 1000 if self.count else 0.0

    def summary(self) -> LatencySummary:
        p50, p95, p99 = (self.percentile_ms(p) for p in PERCENTILES)
        return LatencySummary(
            self.count,
            round(self.mean_ms(), 3),
            round(p50, 3),
            round(p95, 3),
            round(p99, 3),
            round(self.max_ms(), 3),
        )

    def encode(self) -> bytes:
        """HdrHistogram's V2 encoding, base64: ASCII, fit for JSON and queues."""
        return bytes(self._h.encode())

    @classmethod
    def decode(cls, data: bytes | str, digits: int = DIGITS) -> Histogram:
        """The histogram ``data`` encodes; :class:`BadHistogram` when it is not one
        of this range at ``digits`` significant digits. Empty data: empty."""
        made = cls(digits)
        if data:
            _check(data, digits, int(made._h.counts_len))
            made._h.decode_and_add(data)  # checked: every field, count and index
        return made


def _check(data: bytes | str, digits: int, counts_len: int) -> None:
    """Parse the whole encoding; :class:`BadHistogram` unless every part is sound."""
    if len(data) > MAX_ENCODED:
        raise BadHistogram(f"encoding longer than {MAX_ENCODED} characters")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise BadHistogram("not base64") from exc
    if len(raw) < _OUTER.size:
        raise BadHistogram("shorter than its header")
    cookie, length = _OUTER.unpack_from(raw)
    if cookie & ~0xF0 != _COMPRESSION_COOKIE or length != len(raw) - _OUTER.size:
        raise BadHistogram("not an HdrHistogram V2 compressed encoding")
    payload = _inflate(raw[_OUTER.size :], _INNER.size + 9 * counts_len)
    if len(payload) < _INNER.size:
        raise BadHistogram("payload shorter than its header")
    cookie, size, offset, found, lowest, highest, _ratio = _INNER.unpack_from(payload)
    if cookie & ~0xF0 != _ENCODING_COOKIE or size != len(payload) - _INNER.size:
        raise BadHistogram("malformed payload header")
    if (offset, found, lowest, highest) != (0, digits, LOWEST_US, HIGHEST_US):
        raise BadHistogram(
            f"a histogram of {lowest}..{highest} at {found} digits, not "
            f"{LOWEST_US}..{HIGHEST_US} at {digits}"
        )
    if _varint_total(payload, _INNER.size, counts_len) > MAX_COUNT:
        raise BadHistogram("counts too large")


def _inflate(compressed: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(compressed, limit + 1)
    except zlib.error as exc:
        raise BadHistogram("corrupt compressed payload") from exc
    if len(out) > limit or inflater.unconsumed_tail:
        raise BadHistogram("payload larger than a histogram of this range")
    if not inflater.eof or inflater.unused_data:
        raise BadHistogram("truncated or padded compressed payload")
    return out


def _varint_total(payload: bytes, pos: int, counts_len: int) -> int:
    """The sum of the ZigZag LEB128 counts (a negative value is a run of zero
    counts), each at an index inside the histogram; at most eight bytes each."""
    index, total, end = 0, 0, len(payload)
    while pos < end:
        value = 0
        for shift in range(0, 56, 7):
            if pos >= end:
                raise BadHistogram("truncated count")
            byte = payload[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                break
        else:
            raise BadHistogram("count too large")
        count = (value >> 1) ^ -(value & 1)
        if count < 0:
            index -= count
        elif index >= counts_len:
            raise BadHistogram("a count beyond the histogram's range")
        else:
            total += count
            index += 1
    if index > counts_len:
        raise BadHistogram("a run of zeros beyond the histogram's range")
    return total


@dataclass(frozen=True)
class LatencySummary:
    """What a report shows of one histogram, in milliseconds."""

    count: int
    mean_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
