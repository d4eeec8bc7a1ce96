"""OTLP/JSON values: the encoding rules every OTLP/JSON reader shares.

Not protobuf's canonical JSON: trace and span ids are hex (``json_format`` would read
them as base64), 64-bit integers come as decimal strings or numbers, enums as integers
or their names, doubles may be "NaN"/"Infinity"; unknown fields are ignored. Pure
functions raising :class:`InvalidInput` with a one-line reason.
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any

from otel_replay.model import ResourceAttrs, freeze
from otel_replay.sources.common import (
    INT64_MAX,
    INT64_MIN,
    MAX_VALUE_DEPTH,
    UINT64_MAX,
    InvalidInput,
    Note,
    json_array,
    parse_hex_id,
    shown,
)
from otel_replay.sources.jsontext import describe_json

NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def double(value: Any, field: str) -> float:
    """An OTLP/JSON double: a number, or "NaN" / "Infinity" / "-Infinity"."""
    if isinstance(value, str) and value in NON_FINITE:
        return NON_FINITE[value]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(f"{field} is {describe_json(value)}, expected a number", "a field is not a number")
    try:
        return float(value)
    except OverflowError:  # an integer of hundreds of digits
        raise InvalidInput(
            f"{field} is beyond the range of a double", "a number is beyond the range of a double"
        ) from None


def integer(value: Any, field: str, low: int = 0, high: int = UINT64_MAX) -> int:
    """A 64-bit integer as OTLP/JSON writes it: a decimal string or a JSON number."""
    if isinstance(value, str):
        try:
            number = int(value)
        except ValueError:
            raise InvalidInput(
                f"{field} {value[:40]!r} is not an integer", "a field is not an integer", value
            ) from None
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    else:
        raise InvalidInput(f"{field} is {describe_json(value)}, expected an integer", "a field is not an integer")
    if not low <= number <= high:
        raise InvalidInput(f"{field} {shown(number)} is outside {low}..{high}", "an integer is out of range", number)
    return number


def optional_int(obj: dict[str, Any], key: str, high: int = 2**32 - 1) -> int:
    value = obj.get(key)
    return 0 if value is None else integer(value, key, 0, high)


def enum(value: Any, names: dict[str, int], field: str) -> int:
    if value is None:
        return 0
    if isinstance(value, str) and value in names:
        return names[value]
    if isinstance(value, int) and not isinstance(value, bool) and value in names.values():
        return value
    low, high = min(names.values()), max(names.values())
    raise InvalidInput(
        f"{field} {shown(value)} is not one of {low}..{high} or their names", "an enum value is unknown", value
    )


def any_value(value: Any, field: str, notes: list[str], depth: int = 0) -> Any:
    """An OTLP/JSON ``AnyValue`` → the Python value the SDK encodes back to the same
    ``AnyValue`` (``None`` for an empty one, ``bytes`` for ``bytesValue``). ``notes``
    receives a line for each value read in a shape OTLP/JSON does not write."""
    if value is None or value == {}:
        return None
    if not isinstance(value, dict):
        raise InvalidInput(
            f"{field} is {describe_json(value)}, expected an AnyValue object", "a value is not an AnyValue"
        )
    if "stringValue" in value:
        text = value["stringValue"]
        if not isinstance(text, str):
            raise InvalidInput(
                f"{field} stringValue is {describe_json(text)}, expected a string", "a stringValue is not a string"
            )
        return text
    if "boolValue" in value:
        flag = value["boolValue"]
        if not isinstance(flag, bool):
            raise InvalidInput(
                f"{field} boolValue is {describe_json(flag)}, expected true or false",
                "a boolValue is not true or false",
            )
        return flag
    if "intValue" in value:
        return integer(value["intValue"], f"{field} intValue", INT64_MIN, INT64_MAX)
    if "doubleValue" in value:
        return double(value["doubleValue"], f"{field} doubleValue")
    if "arrayValue" in value or "kvlistValue" in value:
        return _nested(value, field, notes, depth)
    if "bytesValue" in value:
        try:
            return base64.b64decode(value["bytesValue"], validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise InvalidInput(f"{field} bytesValue is not base64", "a bytesValue is not base64") from None
    return None  # a value kind newer than this reader: unknown fields are ignored


def _nested(value: dict[str, Any], field: str, notes: list[str], depth: int) -> list[Any] | dict[str, Any]:
    """An ``arrayValue`` or ``kvlistValue``."""
    if depth >= MAX_VALUE_DEPTH:
        raise InvalidInput(
            f"{field} nests arrays and key-value lists more than {MAX_VALUE_DEPTH} levels deep",
            "a value is nested too deep",
        )
    if "arrayValue" in value:
        items = wrapped_values(value["arrayValue"], f"{field} arrayValue", notes)
        return [any_value(v, field, notes, depth + 1) for v in items]
    return key_values(wrapped_values(value["kvlistValue"], f"{field} kvlistValue", notes), field, notes, depth + 1)


def wrapped_values(wrapper: Any, field: str, notes: list[str]) -> list[Any]:
    """The ``values`` of an ``ArrayValue`` or ``KeyValueList``. Written as a bare list
    (``{"arrayValue": [...]}``, a shape published examples use), the list is what it
    plainly means: it is read as the values and reported (see docs/lossless.md)."""
    if isinstance(wrapper, list):
        note = Note(f'{field} is a bare list: read as {{"values": [...]}}', "a bare list read as values")
        if note not in notes:  # once per field of a record, however often it nests
            notes.append(note)
        return wrapper
    if wrapper is None:
        return []
    if not isinstance(wrapper, dict):
        raise InvalidInput(
            f"{field} is {describe_json(wrapper)}, expected an object with 'values'", "a value list is not an object"
        )
    return json_array(wrapper.get("values"), f"{field} values")


def key_values(items: Any, field: str, notes: list[str], depth: int = 0) -> dict[str, Any]:
    """A list of OTLP/JSON ``KeyValue`` objects (absent or null: none)."""
    if items is None:
        return {}
    if not isinstance(items, list):
        raise InvalidInput(
            f"{field} is {describe_json(items)}, expected an array of key-value objects", "key-values are not an array"
        )
    out: dict[str, Any] = {}
    for i, kv in enumerate(items):
        if not isinstance(kv, dict):
            raise InvalidInput(
                f"{field} entry {i} is {describe_json(kv)}, expected a key-value object", "a key-value is not an object"
            )
        key = kv.get("key")
        if not isinstance(key, str):
            raise InvalidInput(
                f"{field} entry {i} key is {describe_json(key)}, expected a string", "a key is not a string"
            )
        out[key] = any_value(kv.get("value"), f"{field} {key[:40]!r}", notes, depth)
    return out


def frozen_attrs(attrs: dict[str, Any]) -> ResourceAttrs:
    """Attributes kept in the file's order (so they go out in the same order)."""
    return tuple((k, freeze(v)) for k, v in attrs.items())


def hex_id(value: Any, nbytes: int, field: str) -> int:
    try:
        return parse_hex_id(value, nbytes, field)
    except InvalidInput as exc:
        if isinstance(value, str) and len(value) == 4 * math.ceil(nbytes / 3):  # the length of base64
            raise InvalidInput(
                f"{exc} (OTLP/JSON ids are hex, this looks like base64)", "an id looks like base64, not hex", value
            ) from None
        raise


def optional_hex_id(value: Any, nbytes: int, field: str) -> int:
    return 0 if value in (None, "") else hex_id(value, nbytes, field)
