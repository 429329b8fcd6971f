"""A shard's spec and result as JSON, and back: total over whatever a row holds.

The spec and the result are dataclasses (:class:`LoadSpec`, :class:`WorkerResult`,
:class:`Tick`) whose fields are plain typed values; they are written field by field
(bytes — HdrHistogram encodings, base64 already — as ASCII text, tuples as lists)
and read back against the fields' type hints, so a field added to them with a plain
type travels without a change here. Reading is total: a value of the wrong type,
a non-finite or negative number where none may be, an oversized list, raises
:class:`BadShard` (a :class:`ValueError`) and nothing else.
"""

from __future__ import annotations

import math
import types
import typing
from dataclasses import fields, is_dataclass
from typing import Any

#: longest list or mapping read from a shard row
MAX_ITEMS = 200_000
#: longest text read (a scenario file's text, an encoded histogram)
MAX_TEXT = 1 << 20


class BadShard(ValueError):
    """A shard row holds something that is not a spec, a tick or a result."""


def to_json(value: Any) -> Any:
    """A dataclass (or a value of one) as JSON: bytes as ASCII text, tuples as lists."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, bytes):
        return value.decode("ascii")
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value


def from_json(kind: type[Any], data: Any, given: dict[str, Any] | None = None) -> Any:
    """An instance of the dataclass ``kind`` from ``data``; the fields ``given``
    are taken from it as they are, those ``data`` lacks keep their defaults (a
    missing required one: BadShard)."""
    if not isinstance(data, dict):
        raise BadShard(f"{kind.__name__}: not a mapping")
    hints = _hints(kind)
    values: dict[str, Any] = dict(given or {})
    for f in fields(kind):
        if f.name in values or f.name not in data:
            continue
        values[f.name] = typed(hints[f.name], data[f.name], f.name)
    try:
        return kind(**values)
    except TypeError as exc:  # a required field missing
        raise BadShard(f"{kind.__name__}: {exc}") from None


_HINTS: dict[type[Any], dict[str, Any]] = {}


def _hints(kind: type[Any]) -> dict[str, Any]:
    if kind not in _HINTS:
        _HINTS[kind] = typing.get_type_hints(kind)
    return _HINTS[kind]


def typed(hint: Any, value: Any, where: str) -> Any:
    """``value`` checked against ``hint`` (int, float, bool, str, bytes, None, unions,
    Literal, list, tuple and dict of those); :class:`BadShard` otherwise."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        for option in args:
            try:
                return typed(option, value, where)
            except BadShard:
                continue
        raise BadShard(f"{where}: {_shown(value)} is none of {hint}")
    if origin is typing.Literal:
        if value in args:
            return value
        raise BadShard(f"{where}: {_shown(value)} is not one of {args}")
    if origin in (list, tuple, dict):
        return _container(origin, args, value, where)
    return _scalar(hint, value, where)


def _scalar(hint: Any, value: Any, where: str) -> Any:
    if hint is type(None):
        if value is None:
            return None
    elif hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            if math.isfinite(value):
                return float(value)
    elif hint in (str, bytes):
        if isinstance(value, str) and len(value) <= MAX_TEXT:
            if hint is str:
                return value
            try:
                return value.encode("ascii")
            except UnicodeEncodeError:
                pass
    else:
        raise BadShard(f"{where}: a field of type {hint} cannot be read")
    raise BadShard(f"{where}: {_shown(value)} is not {getattr(hint, '__name__', hint)}")


def _container(origin: Any, args: tuple[Any, ...], value: Any, where: str) -> Any:
    if origin is dict:
        if not isinstance(value, dict) or len(value) > MAX_ITEMS:
            raise BadShard(f"{where}: not a mapping")
        key, item = args
        return {typed(key, k, where): typed(item, v, f"{where}.{k}")
                for k, v in value.items()}  # fmt: skip
    if not isinstance(value, list) or len(value) > MAX_ITEMS:
        raise BadShard(f"{where}: not a list")
    if origin is list:
        return [typed(args[0], v, f"{where}[{i}]") for i, v in enumerate(value)]
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(typed(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
    if len(value) != len(args):
        raise BadShard(f"{where}: {len(value)} items, not {len(args)}")
    pairs = enumerate(zip(args, value, strict=True))
    return tuple(typed(a, v, f"{where}[{i}]") for i, (a, v) in pairs)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."
