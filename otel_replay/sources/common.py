"""Value checks more than one reader shares: ids, numbers, times, attribute values.

The conversion functions of the readers are pure: they raise :class:`InvalidInput` with
a one-line reason naming the field, and :func:`checked` turns that into an
:class:`~otel_replay.model.InvalidRecord` item, so a reader never raises on its input.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from otel_replay.model import (
    Adjusted,
    InvalidRecord,
    Notice,
    Origin,
    Signal,
    SourceItem,
    truncate_utf8,
)
from otel_replay.sources.jsontext import describe_json

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
UINT64_MAX = 2**64 - 1
#: Values nested deeper than this (arrays and objects in one another) are refused: no
#: telemetry nests so deep, and protobuf parsers limit nesting (Python's to 100 messages).
MAX_VALUE_DEPTH = 32
#: Longer attribute strings are cut with a marker: one value must not push a trace past
#: Tempo's max_bytes_per_trace (5 MB by default), which would drop the whole trace. Tempo
#: itself then cuts values to its max_attribute_bytes (2 KiB by default) when it stores them.
MAX_ATTRIBUTE_BYTES = 256_000
#: What :func:`attribute_value` puts in ``notes`` for a ``null`` attribute value (or a
#: ``null`` in an array). It marks no change: the OpenTelemetry JS SDK keeps NaN and
#: ±Infinity, and ``JSON.stringify`` writes them as ``null``. :func:`checked` turns it
#: into :data:`NULL_NOTICE` (a hint), never into an :class:`Adjusted` item.
NULL_NOTE = "null attribute value"
NULL_NOTICE = (
    "attribute values written as null (NaN or ±Infinity in the recording JavaScript SDK: "
    "JSON has no such numbers) were sent as empty values (see docs/mapping.md, Attribute values)"
)


class InvalidInput(ValueError):
    """A record that cannot be replayed faithfully; the message is the reason. ``key`` is
    the kind of reason without the values in it (the same for every record refused at
    this place for this fault: the summary groups by it); ``value``, the offending value
    when it is worth showing."""

    def __init__(self, reason: str, key: str = "", value: Any = None) -> None:
        super().__init__(reason)
        self.key = key
        self.value = None if value is None else _value_text(value)


class Undecodable:
    """In place of a record whose JSON could not be decoded alone (refused with ``reason``)."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _value_text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 200 else text[:200] + "…"


class Note(str):
    """A note (for an :class:`Adjusted` record) with the kind of change it is, without
    its values: the summary groups by it."""

    key: str

    def __new__(cls, text: str, key: str) -> Note:
        note = super().__new__(cls, text)
        note.key = key
        return note


def shown(value: Any) -> str:
    """A value in a one-line reason: a short scalar as it is (``7``, ``'x'``), anything
    else by its JSON kind in parentheses."""
    if isinstance(value, (bool, int, float, str)):
        text = repr(value)
        if len(text) <= 40:
            return text
    return f"({describe_json(value)})"


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
                raise InvalidInput(f"{field} is all zeros", "an id is all zeros")
            return number
    if not isinstance(value, str):
        raise InvalidInput(
            f"{field} is {describe_json(value)}, expected {nbytes * 2} hex characters", "an id is not a string"
        )
    if len(value) != nbytes * 2:
        raise InvalidInput(
            f"{field} {value[:40]!r} has {len(value)} characters, expected {nbytes * 2}",
            "an id has the wrong length",
            value,
        )
    raise InvalidInput(f"{field} {value!r} is not hexadecimal", "an id is not hexadecimal", value)


def json_array(value: Any, field: str) -> list[Any]:
    """An optional JSON array field (absent or null: empty)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidInput(f"{field} is {describe_json(value)}, expected an array", "a field is not an array")
    return value


def json_object(value: Any, field: str) -> dict[str, Any]:
    """An optional JSON object field (absent or null: empty)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(f"{field} is {describe_json(value)}, expected an object", "a field is not an object")
    return value


def json_string(value: Any, field: str, default: str = "") -> str:
    """An optional JSON string field (absent or null: ``default``)."""
    if value is None:
        return default
    if not isinstance(value, str):
        raise InvalidInput(f"{field} is {describe_json(value)}, expected a string", "a field is not a string")
    return value


def scope_name_version(obj: Any) -> tuple[str, str | None]:
    """An instrumentation scope object's name and version (missing: "" and None)."""
    if not isinstance(obj, dict):
        raise InvalidInput(f"scope is {describe_json(obj)}, expected an object", "scope is not an object")
    name = json_string(obj.get("name"), "scope name")
    return name, json_string(obj.get("version"), "scope version") or None


def finite_number(value: Any, field: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if value is None:
            raise InvalidInput(f"missing {field}", "a required field is missing")
        raise InvalidInput(f"{field} is {describe_json(value)}, expected a number", "a field is not a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInput(f"{field} is not a finite number", "a number is not finite")
    return value


def double_value(value: Any, field: str) -> float:
    """A finite JSON number as a double (an integer of hundreds of digits is none)."""
    try:
        return float(finite_number(value, field))
    except OverflowError:
        raise InvalidInput(
            f"{field} is beyond the range of a double", "a number is beyond the range of a double"
        ) from None


def epoch_ns(ns: int, field: str) -> int:
    """``ns`` since the epoch, if OTLP's unsigned 64-bit nanoseconds can hold it."""
    if ns > UINT64_MAX:
        raise InvalidInput(
            f"{field} is after the year 2554 (beyond 64-bit nanoseconds since 1970)", "a time is after the year 2554"
        )
    return ns


_MAX_MS = UINT64_MAX // 1_000_000 - 1  # below it, any milliseconds fit 64-bit nanoseconds


def ms_to_ns(value: Any, field: str) -> int:
    """Float milliseconds since the epoch → integer nanoseconds, rounded, not truncated.

    ``value * 1e6`` in floating point would lose up to ~128 ns near 1.8e18; splitting
    off the whole milliseconds first keeps the result within 0.5 ns of the float.
    """
    kind = type(value)  # the common cases first: no call, no isinstance
    if kind is float and 0.0 <= value < _MAX_MS:
        whole = math.floor(value)
        return whole * 1_000_000 + round((value - whole) * 1_000_000)
    if kind is int and 0 <= value < _MAX_MS:
        return value * 1_000_000
    ms = finite_number(value, field)
    if ms < 0:
        raise InvalidInput(f"{field} is negative", "a time is negative")
    if isinstance(ms, int):
        return epoch_ns(ms * 1_000_000, field)
    whole = math.floor(ms)
    return epoch_ns(int(whole) * 1_000_000 + round((ms - whole) * 1_000_000), field)


def clean_value(value: Any, notes: list[str] | None = None, where: str = "value", depth: int = 0) -> Any:
    """Map a JSON value to an OTLP AnyValue-compatible one (see docs/mapping.md, "Attribute values").

    Strings, booleans, doubles, arrays and objects (kvlist) pass through as the OTLP
    AnyValue mapping says; an integer outside int64 becomes its decimal string, so no
    digit is lost and the batch still encodes. Nesting beyond :data:`MAX_VALUE_DEPTH`
    is refused.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        if INT64_MIN <= value <= INT64_MAX:
            return value
        if notes is not None:
            notes.append(
                Note(
                    f"{where}: integer beyond 64 bits sent as its decimal string",
                    "integer beyond 64 bits sent as a string",
                )
            )
        return str(value)
    if isinstance(value, (list, dict)) and depth >= MAX_VALUE_DEPTH:
        raise InvalidInput(
            f"{where} nests arrays and objects more than {MAX_VALUE_DEPTH} levels deep", "a value is nested too deep"
        )
    if isinstance(value, list):
        cleaned = [clean_value(v, notes, where, depth + 1) for v in value]
        return value if all(a is b for a, b in zip(cleaned, value, strict=True)) else cleaned
    if isinstance(value, dict):
        out = value
        for key, item in value.items():
            new = clean_value(item, notes, f"{where} {key!r}", depth + 1)
            if new is not item:
                if out is value:
                    out = dict(value)
                out[key] = new
        return out
    return value


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"  # JavaScript has one number type; 1 and 2.5 are the same kind there
    return type(value).__name__


def attribute_value(
    value: Any, notes: list[str] | None, where: str, max_bytes: int | None = MAX_ATTRIBUTE_BYTES
) -> Any:
    """An attribute value as OTLP carries it, with a note for each value the recording
    SDK would never have written (the OpenTelemetry JS SDK keeps only primitives and
    arrays of one primitive type) or that is cut to ``max_bytes``."""
    if value is None:
        if notes is not None:
            notes.append(NULL_NOTE)
        return None
    if isinstance(value, str):
        if max_bytes is None or len(value) * 4 <= max_bytes:  # cheap: no string this short can be over
            return value
        cut_text, cut = truncate_utf8(value, max_bytes)
        if cut and notes is not None:
            size = len(value.encode("utf-8", "surrogatepass"))
            notes.append(
                Note(f"{where}: string of {size} bytes cut to {max_bytes}, marker appended", "long string cut")
            )
        return cut_text
    if notes is not None:
        if isinstance(value, dict):
            notes.append(
                Note(
                    f"{where}: object sent as a key-value list (attribute values are primitives or arrays)",
                    "object sent as a key-value list",
                )
            )
        elif isinstance(value, list):
            if len({_type_name(v) for v in value if v is not None}) > 1:
                notes.append(
                    Note(
                        f"{where}: array of mixed types sent as a list of typed values (arrays hold one type)",
                        "array of mixed types sent as typed values",
                    )
                )
            if any(v is None for v in value):
                notes.append(NULL_NOTE)
    return clean_value(value, notes, where)


#: The element types of an array that is an attribute value as it is: one primitive type
#: (JavaScript has one number type: integers and doubles mixed are one), no null.
_PLAIN_ARRAYS = frozenset(frozenset(kinds) for kinds in ((), (str,), (bool,), (int,), (float,), (int, float)))


def plain_array(value: list[Any]) -> bool:
    """Whether :func:`attribute_value` passes this array unchanged and without a note (one
    primitive type, no null, integers within int64): decided in C loops, as most arrays are."""
    kinds = frozenset(map(type, value))
    if kinds not in _PLAIN_ARRAYS:
        return False
    return int not in kinds or (min(value) >= INT64_MIN and max(value) <= INT64_MAX)


def clean_attributes(
    attrs: Any, field: str = "attributes", notes: list[str] | None = None, max_bytes: int | None = MAX_ATTRIBUTE_BYTES
) -> dict[str, Any]:
    """Attributes as OTLP carries them (see :func:`attribute_value`). Log records pass
    ``max_bytes=None``: their sinks apply the backend's own limits (Loki's metadata size)."""
    if attrs is None:
        return {}
    if not isinstance(attrs, dict):
        raise InvalidInput(f"{field} is {describe_json(attrs)}, expected an object", "attributes are not an object")
    out = attrs
    for key, value in attrs.items():
        kind = type(value)  # the common cases first, kept cheap
        if kind is str:
            if max_bytes is None or len(value) * 4 <= max_bytes:
                continue
        elif (
            kind is bool
            or kind is float
            or (kind is int and INT64_MIN <= value <= INT64_MAX)
            or (kind is list and plain_array(value))
        ):
            continue
        new = attribute_value(value, notes, f"{field} {key!r}", max_bytes)
        if new is not value:
            if out is attrs:
                out = dict(attrs)
            out[key] = new
    return out


MAX_HRTIME_SECONDS = UINT64_MAX // 1_000_000_000  # below it, any nanoseconds fit


def hrtime_to_ns(value: Any) -> int:
    """OTel JS ``HrTime`` ``[seconds, nanoseconds]`` → integer nanoseconds."""
    if type(value) is list and len(value) == 2:
        sec, nanos = value
        if type(sec) is int and type(nanos) is int and 0 <= sec < MAX_HRTIME_SECONDS and 0 <= nanos <= 999_999_999:
            return sec * 1_000_000_000 + nanos
    if not isinstance(value, list) or len(value) != 2:
        if value is None:
            raise InvalidInput("missing timestamp")
        raise InvalidInput(
            f"timestamp is {describe_json(value)}, expected [seconds, nanoseconds]",
            "timestamp is not [seconds, nanoseconds]",
        )
    sec, nanos = value
    for part, label in ((sec, "seconds"), (nanos, "nanoseconds")):
        if isinstance(part, bool) or not isinstance(part, int):
            raise InvalidInput(
                f"timestamp {label} is {describe_json(part)}, expected an integer", "timestamp part is not an integer"
            )
    if sec < 0:
        raise InvalidInput("timestamp seconds are negative")
    if not 0 <= nanos <= 999_999_999:
        raise InvalidInput(
            f"timestamp nanoseconds {shown(nanos)} outside 0..999999999", "timestamp nanoseconds out of range", nanos
        )
    return epoch_ns(sec * 1_000_000_000 + nanos, "timestamp")  # past the fast path: a subclass, or huge


def checked(
    signal: Signal, origin: Origin, notes: list[str], convert: Callable[..., SourceItem], *args: Any
) -> tuple[SourceItem, ...]:
    """``convert(*args)`` as source items: the record, preceded by an :class:`Adjusted` item
    when ``notes`` received lines (and by the :data:`NULL_NOTICE` when one of them was
    :data:`NULL_NOTE`), or an :class:`InvalidRecord` when it raised. (A tuple, not a
    generator: this runs once per record.)"""
    try:
        record = convert(*args)
    except InvalidInput as exc:
        notes.clear()
        if args and type(args[0]) is Undecodable:  # refused as not an object: said as what it is
            return (InvalidRecord(signal, origin, args[0].reason, "not valid JSON"),)
        return (InvalidRecord(signal, origin, str(exc), exc.key, exc.value),)
    if notes:
        return (*noted(signal, origin, notes), record)
    return (record,)


def noted(signal: Signal, origin: Origin, notes: list[str]) -> tuple[Notice | Adjusted, ...]:
    """What ``notes`` about one record amount to (emptying it): the :data:`NULL_NOTICE`
    for null values, an :class:`Adjusted` item for the changes."""
    changes = [n for n in notes if n != NULL_NOTE]
    items: list[Notice | Adjusted] = []
    if len(changes) < len(notes):
        items.append(Notice(NULL_NOTICE, origin))  # shown if the record is sent
    if changes:
        reason = "; ".join(changes)
        key = "; ".join(dict.fromkeys(getattr(n, "key", n) for n in changes))
        items.append(Adjusted(signal, origin, reason, "" if key == reason else key))
    notes.clear()
    return tuple(items)
