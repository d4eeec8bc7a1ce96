"""OTLP/JSON values and records of the wrong shape, table by table: each becomes a reason
naming the field (the record is invalid), or, for the bare-list ``arrayValue`` /
``kvlistValue`` that published examples use, the list it plainly means plus a note."""

from __future__ import annotations

import copy
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest

from otel_replay.model import Adjusted, FileProblem, InvalidRecord, Metric, MetricKind, Origin, Scope, SpanRecord
from otel_replay.sources import read_input
from otel_replay.sources.common import UINT64_MAX, InvalidInput, shown
from otel_replay.sources.discover import InputFile, discover
from otel_replay.sources.otlp_json import log_from_otlp, span_from_otlp
from otel_replay.sources.otlp_metrics import metric_definition, point_from_otlp
from otel_replay.sources.otlp_values import (
    any_value,
    double,
    enum,
    frozen_attrs,
    hex_id,
    integer,
    key_values,
    optional_hex_id,
    optional_int,
)
from tests.otlp_samples import logs_request, to_otlp_json, trace_request

ORIGIN = Origin("f.json", 0)
SCOPE = Scope("s")
BARE = 'is a bare list: read as {"values": [...]}'


def _deep(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"intValue": "1"}
    for _ in range(levels):
        value = {"arrayValue": {"values": [value]}}
    return value


def _nested_list(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("value", "expected", "notes"),
    [
        ({"arrayValue": [{"stringValue": "a"}, {"intValue": "2"}]}, ["a", 2], ["v arrayValue " + BARE]),
        ({"kvlistValue": [{"key": "k", "value": {"boolValue": True}}]}, {"k": True}, ["v kvlistValue " + BARE]),
        ({"arrayValue": [{"arrayValue": [{"doubleValue": 1.5}]}]}, [[1.5]], ["v arrayValue " + BARE]),  # noted once
        ({"arrayValue": []}, [], ["v arrayValue " + BARE]),
        ({"arrayValue": {"values": [{"stringValue": "a"}]}}, ["a"], []),  # as OTLP/JSON writes it
        ({"kvlistValue": {"values": []}}, {}, []),
        ({"arrayValue": None}, [], []),
        ({"arrayValue": {}}, [], []),
        (_deep(32), _nested_list(32), []),  # as deep as allowed
    ],
)
def test_array_and_kvlist_values(value: Any, expected: Any, notes: list[str]) -> None:
    got: list[str] = []
    assert any_value(value, "v", got) == expected
    assert got == notes
    assert [getattr(note, "key", None) for note in got] == ["a bare list read as values"] * len(notes)  # its kind


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({"arrayValue": "a"}, "v arrayValue is a string, expected an object with 'values'"),
        ({"arrayValue": 5}, "v arrayValue is a number, expected an object with 'values'"),
        ({"arrayValue": True}, "v arrayValue is a boolean"),
        ({"arrayValue": {"values": {"a": 1}}}, "v arrayValue values is an object, expected an array"),
        ({"arrayValue": {"values": 3}}, "v arrayValue values is a number, expected an array"),
        ({"arrayValue": [["stringValue", "a"]]}, "v is an array, expected an AnyValue object"),
        ({"kvlistValue": "k"}, "v kvlistValue is a string"),
        ({"kvlistValue": [1]}, "v entry 0 is a number, expected a key-value object"),
        ({"kvlistValue": {"values": [{"key": 1}]}}, "v entry 0 key is a number, expected a string"),
        ({"kvlistValue": {"values": [{"value": {}}]}}, "v entry 0 key is null, expected a string"),
        ({"stringValue": {"s": "a"}}, "v stringValue is an object, expected a string"),
        ({"boolValue": 1}, "v boolValue is a number, expected true or false"),
        ({"intValue": [1]}, "v intValue is an array, expected an integer"),
        ({"intValue": 2**63}, "v intValue 9223372036854775808 is outside"),
        ({"doubleValue": 10**400}, "v doubleValue is beyond the range of a double"),
        ({"doubleValue": True}, "v doubleValue is a boolean, expected a number"),
        ({"bytesValue": ["AA=="]}, "v bytesValue is not base64"),
        (_deep(33), "v nests arrays and key-value lists more than 32 levels deep"),
        ("text", "v is a string, expected an AnyValue object"),
        ([{"stringValue": "a"}], "v is an array, expected an AnyValue object"),
    ],
)
def test_wrong_values_are_refused_with_the_field_named(value: Any, reason: str) -> None:
    _refused_as_kinds_says(reason, any_value, value, "v", [])


@pytest.mark.parametrize(
    ("items", "reason"),
    [
        ({}, "attributes is an object, expected an array of key-value objects"),
        ({"a": {"stringValue": "x"}}, "attributes is an object"),
        ("", "attributes is a string"),
        (0, "attributes is a number"),
        ([None], "attributes entry 0 is null, expected a key-value object"),
        ([{"key": "a", "value": "x"}], "attributes 'a' is a string, expected an AnyValue object"),
    ],
)
def test_wrong_attribute_lists_are_refused(items: Any, reason: str) -> None:
    _refused_as_kinds_says(reason, key_values, items, "attributes", [])


#: The kind of each reason in the tables here (the summary groups by it) and the value it shows.
KINDS: dict[str, tuple[str, str | None]] = {
    "v arrayValue is a string, expected an object with 'values'": ("a value list is not an object", None),
    "v arrayValue is a number, expected an object with 'values'": ("a value list is not an object", None),
    "v arrayValue is a boolean": ("a value list is not an object", None),
    "v arrayValue values is an object, expected an array": ("a field is not an array", None),
    "v arrayValue values is a number, expected an array": ("a field is not an array", None),
    "v is an array, expected an AnyValue object": ("a value is not an AnyValue", None),
    "v kvlistValue is a string": ("a value list is not an object", None),
    "v entry 0 is a number, expected a key-value object": ("a key-value is not an object", None),
    "v entry 0 key is a number, expected a string": ("a key is not a string", None),
    "v entry 0 key is null, expected a string": ("a key is not a string", None),
    "v stringValue is an object, expected a string": ("a stringValue is not a string", None),
    "v boolValue is a number, expected true or false": ("a boolValue is not true or false", None),
    "v intValue is an array, expected an integer": ("a field is not an integer", None),
    "v intValue 9223372036854775808 is outside": ("an integer is out of range", "9223372036854775808"),
    "v doubleValue is beyond the range of a double": ("a number is beyond the range of a double", None),
    "v doubleValue is a boolean, expected a number": ("a field is not a number", None),
    "v bytesValue is not base64": ("a bytesValue is not base64", None),
    "v nests arrays and key-value lists more than 32 levels deep": ("a value is nested too deep", None),
    "v is a string, expected an AnyValue object": ("a value is not an AnyValue", None),
    "attributes is an object, expected an array of key-value objects": ("key-values are not an array", None),
    "attributes is an object": ("key-values are not an array", None),
    "attributes is a string": ("key-values are not an array", None),
    "attributes is a number": ("key-values are not an array", None),
    "attributes entry 0 is null, expected a key-value object": ("a key-value is not an object", None),
    "attributes 'a' is a string, expected an AnyValue object": ("a value is not an AnyValue", None),
    "name is an array, expected a string": ("a field is not a string", None),
    "kind (an array) is not one of 0..5 or their names": ("an enum value is unknown", "[2]"),
    "kind (a string) is not one of 0..5": (
        "an enum value is unknown",
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    ),
    "status is an array, expected an object": ("a field is not an object", None),
    "status message is a number, expected a string": ("a field is not a string", None),
    "status code (an object) is not one of 0..2": ("an enum value is unknown", "{}"),
    "traceState is a number, expected a string": ("a field is not a string", None),
    "traceState is an array, expected a string": ("a field is not a string", None),
    "events is an object, expected an array": ("a field is not an array", None),
    "event 0 name is an object, expected a string": ("a field is not a string", None),
    "link 0 traceState is an array, expected a string": ("a field is not a string", None),
    "attributes 'a' arrayValue is a number": ("a value list is not an object", None),
    "startTimeUnixNano is an array, expected an integer": ("a field is not an integer", None),
    "startTimeUnixNano (a number) is outside 0..18446744073709551615": (
        "an integer is out of range",
        "10000000000000000525047602552044202487044685811081591549158541155118024579889081957863713750804478640437044438328838781769425232353604305756447921847867069828483872009265758037378302337947880900593689…",
    ),
    "startTimeUnixNano -1 is outside 0..18446744073709551615": ("an integer is out of range", "-1"),
    "droppedEventsCount 4294967296 is outside 0..4294967295": ("an integer is out of range", "4294967296"),
    "flags 'x' is not an integer": ("a field is not an integer", "x"),
    "severityText is a number, expected a string": ("a field is not a string", None),
    "severityText is an array, expected a string": ("a field is not a string", None),
    "eventName is a boolean, expected a string": ("a field is not a string", None),
    "body arrayValue is a string": ("a value list is not an object", None),
    "body is a string, expected an AnyValue object": ("a value is not an AnyValue", None),
    "timeUnixNano is an object, expected an integer": ("a field is not an integer", None),
    "traceId 'AAAAAAAAAAAAAAAAAAAAAA==' has 24 characters, expected 32 (OTLP": (
        "an id looks like base64, not hex",
        "AAAAAAAAAAAAAAAAAAAAAA==",
    ),
    "traceId 'abc' has 3 characters, expected 32": ("an id has the wrong length", "abc"),
    "spanId is all zeros": ("an id is all zeros", None),
    "kind 9 is not one of 0..5 or their names": ("an enum value is unknown", "9"),
}


def _refused_as_kinds_says(reason: str, call: Any, *args: Any) -> None:
    """``call(*args)`` refuses with a message starting with ``reason``, of the kind and with
    the shown value :data:`KINDS` gives for it."""
    with pytest.raises(InvalidInput, match="^" + re.escape(reason)) as caught:
        call(*args)
    assert (caught.value.key, caught.value.value) == KINDS[reason]


def _span() -> dict[str, Any]:
    return copy.deepcopy(to_otlp_json(trace_request(1, 1))["resourceSpans"][0]["scopeSpans"][0]["spans"][0])


@pytest.mark.parametrize(
    ("patch", "reason"),
    [
        ({"name": ["op"]}, "name is an array, expected a string"),
        ({"kind": [2]}, "kind (an array) is not one of 0..5 or their names"),
        ({"kind": "x" * 100}, "kind (a string) is not one of 0..5"),
        ({"status": []}, "status is an array, expected an object"),
        ({"status": {"code": 2, "message": 5}}, "status message is a number, expected a string"),
        ({"status": {"code": {}}}, "status code (an object) is not one of 0..2"),
        ({"traceState": 0}, "traceState is a number, expected a string"),
        ({"traceState": []}, "traceState is an array, expected a string"),
        ({"events": {}}, "events is an object, expected an array"),
        ({"events": [{"name": {}}]}, "event 0 name is an object, expected a string"),
        ({"links": [{"traceState": ["k=v"]}]}, "link 0 traceState is an array, expected a string"),
        ({"attributes": [{"key": "a", "value": {"arrayValue": 3}}]}, "attributes 'a' arrayValue is a number"),
        ({"startTimeUnixNano": [1]}, "startTimeUnixNano is an array, expected an integer"),
        ({"startTimeUnixNano": 1e300}, "startTimeUnixNano (a number) is outside 0..18446744073709551615"),
        ({"startTimeUnixNano": -1}, "startTimeUnixNano -1 is outside 0..18446744073709551615"),
        ({"droppedEventsCount": 2**32}, "droppedEventsCount 4294967296 is outside 0..4294967295"),
        ({"flags": "x"}, "flags 'x' is not an integer"),
        (
            {"traceId": "AAAAAAAAAAAAAAAAAAAAAA=="},
            "traceId 'AAAAAAAAAAAAAAAAAAAAAA==' has 24 characters, expected 32 (OTLP",
        ),
        ({"traceId": "abc"}, "traceId 'abc' has 3 characters, expected 32"),
        ({"spanId": "0" * 16}, "spanId is all zeros"),
        ({"kind": 9}, "kind 9 is not one of 0..5 or their names"),
    ],
)
def test_wrong_span_fields_make_the_span_invalid(patch: dict[str, Any], reason: str) -> None:
    _refused_as_kinds_says(reason, span_from_otlp, {**_span(), **patch}, (), "", SCOPE, ORIGIN, [])


@pytest.mark.parametrize(
    ("patch", "reason"),
    [
        ({"severityText": 0}, "severityText is a number, expected a string"),
        ({"severityText": []}, "severityText is an array, expected a string"),
        ({"eventName": False}, "eventName is a boolean, expected a string"),
        ({"body": {"arrayValue": "x"}}, "body arrayValue is a string"),
        ({"body": "plain text"}, "body is a string, expected an AnyValue object"),
        ({"severityNumber": None, "timeUnixNano": {}}, "timeUnixNano is an object, expected an integer"),
    ],
)
def test_wrong_log_fields_make_the_record_invalid(patch: dict[str, Any], reason: str) -> None:
    record = to_otlp_json(logs_request())["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]
    _refused_as_kinds_says(reason, log_from_otlp, {**record, **patch}, (), "", SCOPE, ORIGIN, [])


@pytest.mark.parametrize(
    ("metric", "reason"),
    [
        ({"name": 5, "gauge": {}}, "metric name is a number, expected a string"),
        ({"name": "m", "unit": ["s"], "gauge": {}}, "metric 'm' unit is an array, expected a string"),
        ({"name": "m", "gauge": []}, "metric 'm' gauge is an array, expected an object"),
        ({"name": "m", "sum": "x"}, "metric 'm' sum is a string, expected an object"),
        ({"name": "m", "summary": []}, "metric 'm' summary is an array, expected an object"),
        ({"name": "m", "summary": {}}, "metric 'm' is a summary"),
        ({"name": "m", "gauge": {"dataPoints": {}}}, "metric 'm' dataPoints is an object, expected an array"),
        ({"name": "m", "sum": {"isMonotonic": "true"}}, "metric 'm' isMonotonic is a string, expected true or false"),
        ({"name": "m", "sum": {"aggregationTemporality": [2]}}, "aggregationTemporality (an array) is not one of"),
    ],
)
def test_wrong_metric_definitions_are_refused(metric: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidInput, match="^" + re.escape(reason)):
        metric_definition(metric)


@pytest.mark.parametrize(
    ("kind", "point", "reason"),
    [
        (MetricKind.HISTOGRAM, {"explicitBounds": 5}, "explicitBounds is a number, expected an array"),
        (MetricKind.HISTOGRAM, {"explicitBounds": {"a": 1.0}}, "explicitBounds is an object, expected an array"),
        (MetricKind.HISTOGRAM, {"bucketCounts": "1"}, "bucketCounts is a string, expected an array"),
        (MetricKind.HISTOGRAM, {"sum": 10**400}, "sum is beyond the range of a double"),
        (MetricKind.EXPONENTIAL_HISTOGRAM, {"positive": []}, "positive is an array, expected an object"),
        (MetricKind.EXPONENTIAL_HISTOGRAM, {"zeroThreshold": "x"}, "zeroThreshold is a string, expected a number"),
        (MetricKind.GAUGE, {"asDouble": [1.0]}, "data point asDouble is an array, expected a number"),
        (MetricKind.GAUGE, {"asInt": "1", "exemplars": {}}, "exemplars is an object, expected an array"),
        (MetricKind.GAUGE, {"asInt": "1", "attributes": {"a": 1}}, "attributes is an object, expected an array"),
    ],
)
def test_wrong_data_point_fields_make_the_point_invalid(kind: MetricKind, point: Any, reason: str) -> None:
    with pytest.raises(InvalidInput, match="^" + re.escape(reason)):
        point_from_otlp(point, Metric("m", kind), (), "", SCOPE, ORIGIN, [])


def _read(path: Path) -> list[object]:
    return [item for found in discover([str(path)]) if isinstance(found, InputFile) for item in read_input(found)]


def test_bare_lists_are_read_and_reported_once_per_record_resource_and_scope(tmp_path: Path) -> None:
    doc = to_otlp_json(trace_request(1, 1))
    group = doc["resourceSpans"][0]
    group["resource"]["attributes"].append({"key": "tags", "value": {"arrayValue": [{"stringValue": "a"}]}})
    group["scopeSpans"][1]["scope"]["attributes"] = [{"key": "kv", "value": {"kvlistValue": []}}]
    span = group["scopeSpans"][0]["spans"][0]
    span["attributes"] = [{"key": "arr", "value": {"arrayValue": [{"intValue": "1"}, {"arrayValue": []}]}}]
    path = tmp_path / "bare.json"
    path.write_text(json.dumps(doc))
    items = _read(path)
    problems = [(i.source, i.reason) for i in items if isinstance(i, FileProblem)]
    assert problems == [
        (str(path), f"resourceSpans[0]: resource attributes 'tags' arrayValue {BARE}"),
        (str(path), f"resourceSpans[0] scopeSpans[1]: scope attributes 'kv' kvlistValue {BARE}"),
    ]
    adjusted = [i for i in items if isinstance(i, Adjusted)]
    assert [(str(a.origin), a.reason) for a in adjusted] == [(f"{path}[0]", f"attributes 'arr' arrayValue {BARE}")]
    spans = [i for i in items if isinstance(i, SpanRecord)]
    assert len(spans) == 2 and not any(isinstance(i, InvalidRecord) for i in items)
    assert spans[0].attributes == {"arr": [1, []]}
    assert dict(spans[0].resource)["tags"] == ("a",)
    assert dict(spans[1].scope.attributes) == {"kv": ()}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("patch", "reason"),
    [
        ({"schemaUrl": 5}, "schemaUrl is a number, expected a string; its records are not read"),
        ({"resource": []}, "resource is an array, expected an object; its records are not read"),
        ({"resource": {"attributes": {"a": 1}}}, "resource attributes is an object, expected an array"),
        ({"scopeSpans": {}}, "scopeSpans is an object, expected an array; its records are not read"),
    ],
)
def test_a_wrong_resource_group_is_one_invalid_item(tmp_path: Path, patch: dict[str, Any], reason: str) -> None:
    doc = to_otlp_json(trace_request(1, 1))
    doc["resourceSpans"][0].update(patch)
    path = tmp_path / "group.json"
    path.write_text(json.dumps(doc))
    items = _read(path)
    (invalid,) = [i for i in items if isinstance(i, (InvalidRecord, Adjusted, SpanRecord, FileProblem))]
    assert isinstance(invalid, InvalidRecord) and invalid.reason.startswith(reason)


# -- the scalar rules, at their edges --------------------------------------------------------------
def _refused(call: Any, *args: Any) -> str:
    with pytest.raises(InvalidInput) as raised:
        call(*args)
    return str(raised.value)


def test_doubles_may_be_written_as_their_names() -> None:
    assert math.isnan(double("NaN", "d"))
    assert (double("Infinity", "d"), double("-Infinity", "d")) == (math.inf, -math.inf)
    assert double(2, "d") == 2.0 and isinstance(double(2, "d"), float)
    assert _refused(double, "nan", "d") == "d is a string, expected a number"  # names are case-sensitive


@pytest.mark.parametrize(
    ("value", "number"), [("42", 42), (42, 42), (42.0, 42), ("0", 0), (str(UINT64_MAX), UINT64_MAX)]
)
def test_integers_come_as_strings_or_numbers(value: Any, number: int) -> None:
    assert integer(value, "n") == number


@pytest.mark.parametrize(
    ("value", "low", "high", "reason"),
    [
        ("4.5", 0, 10, "n '4.5' is not an integer"),
        ("x" * 50, 0, 10, f"n {'x' * 40!r} is not an integer"),
        ("9" * 50, 0, 10, "n (a number) is outside 0..10"),
        (4.5, 0, 10, "n is a number, expected an integer"),
        (True, 0, 10, "n is a boolean, expected an integer"),
        (None, 0, 10, "n is null, expected an integer"),
        (-1, 0, 10, "n -1 is outside 0..10"),
        (11, 0, 10, "n 11 is outside 0..10"),
    ],
)
def test_an_integer_out_of_its_range_or_shape_is_refused(value: Any, low: int, high: int, reason: str) -> None:
    assert _refused(integer, value, "n", low, high) == reason


def test_integer_bounds_are_inclusive() -> None:
    assert (integer(-5, "n", -5, 5), integer(5, "n", -5, 5)) == (-5, 5)


def test_optional_integers_are_0_when_absent_and_32_bits_by_default() -> None:
    assert optional_int({}, "count") == 0 and optional_int({"count": None}, "count") == 0
    assert optional_int({"count": "7"}, "count") == 7
    assert optional_int({"count": 2**32 - 1}, "count") == 2**32 - 1
    assert _refused(optional_int, {"count": 2**32}, "count") == "count 4294967296 is outside 0..4294967295"
    assert optional_int({"n": 2**40}, "n", 2**40) == 2**40


def test_enums_are_their_numbers_or_names() -> None:
    names = {"A": 1, "B": 2, "C": 5}
    assert (enum(None, names, "e"), enum("B", names, "e"), enum(5, names, "e")) == (0, 2, 5)
    for wrong in (3, "b", True, 2.0):
        assert _refused(enum, wrong, names, "e") == f"e {shown(wrong)} is not one of 1..5 or their names"


def test_an_empty_or_unknown_any_value_is_none() -> None:
    notes: list[str] = []
    assert any_value(None, "v", notes) is None and any_value({}, "v", notes) is None
    assert any_value({"futureValue": 1}, "v", notes) is None and notes == []


def test_bytes_values_are_base64() -> None:
    assert any_value({"bytesValue": "AP8="}, "v", []) == b"\x00\xff"
    for wrong in ("AP8", "AP*8=", "AP8=\n"):
        assert _refused(any_value, {"bytesValue": wrong}, "v", []) == "v bytesValue is not base64", wrong


def _deep_kvlist(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"intValue": "1"}
    for _ in range(levels):
        value = {"kvlistValue": {"values": [{"key": "k", "value": value}]}}
    return value


def test_key_value_lists_nest_as_deep_as_arrays_may() -> None:
    expected: Any = 1
    for _ in range(32):
        expected = {"k": expected}
    assert any_value(_deep_kvlist(32), "v", []) == expected
    reason = _refused(any_value, _deep_kvlist(33), "v", [])
    assert reason == "v" + " 'k'" * 32 + " nests arrays and key-value lists more than 32 levels deep"
    attributes = [{"key": "a", "value": _deep(32)}, {"key": "b", "value": _deep_kvlist(32)}]
    assert key_values(attributes, "attributes", []) == {"a": _nested_list(32), "b": expected}  # from the top


def test_a_bare_list_is_noted_once_per_field() -> None:
    notes: list[str] = []
    value = {"kvlistValue": [{"key": "a", "value": {"arrayValue": []}}, {"key": "b", "value": {"arrayValue": []}}]}
    assert any_value(value, "v", notes) == {"a": [], "b": []}
    assert notes == ["v kvlistValue " + BARE, "v 'a' arrayValue " + BARE, "v 'b' arrayValue " + BARE]


def test_key_values_keep_their_order_and_name_long_keys_short() -> None:
    assert key_values(None, "attributes", []) == {}
    items = [{"key": "z", "value": {"intValue": 1}}, {"key": "a", "value": {"stringValue": "x"}}]
    assert list(key_values(items, "attributes", []).items()) == [("z", 1), ("a", "x")]
    assert frozen_attrs({"z": [1], "a": {"k": 2}}) == (("z", (1,)), ("a", (("k", 2),)))
    long_key = [{"key": "k" * 50, "value": {"boolValue": "yes"}}]
    reason = _refused(key_values, long_key, "attributes", [])
    assert reason == f"attributes {'k' * 40!r} boolValue is a string, expected true or false"


@pytest.mark.parametrize(("nbytes", "base64_length"), [(16, 24), (8, 12)])
def test_an_id_of_base64_length_is_said_to_look_like_base64(nbytes: int, base64_length: int) -> None:
    value = "A" * (base64_length - 2) + "=="
    reason = _refused(hex_id, value, nbytes, "traceId")
    assert reason.endswith("(OTLP/JSON ids are hex, this looks like base64)")
    plain = _refused(hex_id, "A" * (base64_length + 1), nbytes, "traceId")
    assert "base64" not in plain


def test_an_optional_id_is_0_when_absent_or_empty() -> None:
    assert optional_hex_id(None, 8, "parentSpanId") == 0 and optional_hex_id("", 8, "parentSpanId") == 0
    assert optional_hex_id("00000000000000ff", 8, "parentSpanId") == 255
    assert _refused(optional_hex_id, "ff", 8, "parentSpanId") == "parentSpanId 'ff' has 2 characters, expected 16"
