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
from otel_replay.sources.common import INT64_MAX, INT64_MIN, InvalidInput, parse_hex_id
from otel_replay.sources.jsondoc import describe_json

NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
UINT64_MAX = 2**64 - 1


def double(value: Any, field: str) -> float:
    """An OTLP/JSON double: a number, or "NaN" / "Infinity" / "-Infinity"."""
    if isinstance(value, str) and value in NON_FINITE:
        return NON_FINITE[value]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(f"{field} is {describe_json(value)}, expected a number")
    return float(value)


def integer(value: Any, field: str, low: int = 0, high: int = UINT64_MAX) -> int:
    """A 64-bit integer as OTLP/JSON writes it: a decimal string or a JSON number."""
    if isinstance(value, str):
        try:
            number = int(value)
        except ValueError:
            raise InvalidInput(f"{field} {value[:40]!r} is not an integer") from None
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    else:
        raise InvalidInput(f"{field} is {describe_json(value)}, expected an integer")
    if not low <= number <= high:
        raise InvalidInput(f"{field} {number} is outside {low}..{high}")
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
    raise InvalidInput(f"{field} {value!r} is not one of {min(names.values())}..{max(names.values())} or their names")


def any_value(value: Any, field: str) -> Any:
    """An OTLP/JSON ``AnyValue`` → the Python value the SDK encodes back to the same
    ``AnyValue`` (``None`` for an empty one, ``bytes`` for ``bytesValue``)."""
    if value is None or value == {}:
        return None
    if not isinstance(value, dict):
        raise InvalidInput(f"{field} is {describe_json(value)}, expected an AnyValue object")
    if "stringValue" in value:
        text = value["stringValue"]
        if not isinstance(text, str):
            raise InvalidInput(f"{field} stringValue is {describe_json(text)}")
        return text
    if "boolValue" in value:
        flag = value["boolValue"]
        if not isinstance(flag, bool):
            raise InvalidInput(f"{field} boolValue is {describe_json(flag)}")
        return flag
    if "intValue" in value:
        return integer(value["intValue"], f"{field} intValue", INT64_MIN, INT64_MAX)
    if "doubleValue" in value:
        return double(value["doubleValue"], f"{field} doubleValue")
    if "arrayValue" in value:
        items = (value["arrayValue"] or {}).get("values") or []
        return [any_value(v, field) for v in items]
    if "kvlistValue" in value:
        return key_values((value["kvlistValue"] or {}).get("values"), field)
    if "bytesValue" in value:
        try:
            return base64.b64decode(value["bytesValue"], validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise InvalidInput(f"{field} bytesValue is not base64") from None
    return None  # a value kind newer than this reader: unknown fields are ignored


def key_values(items: Any, field: str = "attributes") -> dict[str, Any]:
    if not items:
        return {}
    if not isinstance(items, list):
        raise InvalidInput(f"{field} is {describe_json(items)}, expected an array of key-value objects")
    out: dict[str, Any] = {}
    for kv in items:
        if not isinstance(kv, dict) or not isinstance(kv.get("key"), str):
            raise InvalidInput(f"{field}: an entry has no string 'key'")
        key = kv["key"]
        out[key] = any_value(kv.get("value"), f"{field} {key!r}")
    return out


def frozen_attrs(attrs: dict[str, Any]) -> ResourceAttrs:
    """Attributes kept in the file's order (so they go out in the same order)."""
    return tuple((k, freeze(v)) for k, v in attrs.items())


def hex_id(value: Any, nbytes: int, field: str) -> int:
    try:
        return parse_hex_id(value, nbytes, field)
    except InvalidInput as exc:
        if isinstance(value, str) and len(value) == 4 * math.ceil(nbytes / 3):  # the length of base64
            raise InvalidInput(f"{exc} (OTLP/JSON ids are hex, this looks like base64)") from None
        raise


def optional_hex_id(value: Any, nbytes: int, field: str) -> int:
    return 0 if value in (None, "") else hex_id(value, nbytes, field)
