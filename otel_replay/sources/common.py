"""Value checks every reader shares.

The conversion functions of the readers are pure: they raise :class:`InvalidInput` with
a one-line reason naming the field, and :func:`checked` turns that into an
:class:`~otel_replay.model.InvalidRecord` item, so a reader never raises on its input.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from otel_replay.model import Adjusted, InvalidRecord, Origin, Signal, SourceItem
from otel_replay.sources.jsondoc import describe_json

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class InvalidInput(ValueError):
    """A record that cannot be replayed faithfully; the message is the reason."""


def parse_hex_id(value: Any, nbytes: int, field: str) -> int:
    """A lowercase or uppercase hex id of exactly ``nbytes`` bytes, not all zeros."""
    if type(value) is str and len(value) == nbytes * 2:
        try:
            raw = bytes.fromhex(value)  # skips whitespace: then it holds fewer bytes
        except ValueError:
            raw = b""
        if len(raw) == nbytes:
            number = int.from_bytes(raw)
            if number == 0:
                raise InvalidInput(f"{field} is all zeros")
            return number
    if not isinstance(value, str):
        raise InvalidInput(f"{field} is {describe_json(value)}, expected {nbytes * 2} hex characters")
    if len(value) != nbytes * 2:
        raise InvalidInput(f"{field} {value[:40]!r} has {len(value)} characters, expected {nbytes * 2}")
    raise InvalidInput(f"{field} {value!r} is not hexadecimal")


def json_array(value: Any, field: str) -> list[Any]:
    """An optional JSON array field (absent or null: empty)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidInput(f"{field} is {describe_json(value)}, expected an array")
    return value


def scope_name_version(obj: Any) -> tuple[str, str | None]:
    """An instrumentation scope object's name and version (missing: "" and None)."""
    if not isinstance(obj, dict):
        raise InvalidInput(f"scope is {describe_json(obj)}, expected an object")
    name, version = obj.get("name") or "", obj.get("version") or None
    if not isinstance(name, str) or (version is not None and not isinstance(version, str)):
        raise InvalidInput("scope name and version must be strings")
    return name, version


def finite_number(value: Any, field: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if value is None:
            raise InvalidInput(f"missing {field}")
        raise InvalidInput(f"{field} is {describe_json(value)}, expected a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInput(f"{field} is not a finite number")
    return value


def checked(
    signal: Signal, origin: Origin, notes: list[str], convert: Callable[..., SourceItem], *args: Any
) -> tuple[SourceItem, ...]:
    """``convert(*args)`` as source items: the record, preceded by an :class:`Adjusted` item
    when ``notes`` received lines, or an :class:`InvalidRecord` when it raised. (A tuple,
    not a generator: this runs once per record.)"""
    try:
        record = convert(*args)
    except InvalidInput as exc:
        notes.clear()
        return (InvalidRecord(signal, origin, str(exc)),)
    if notes:
        adjusted = Adjusted(signal, origin, "; ".join(notes))
        notes.clear()
        return adjusted, record
    return (record,)
