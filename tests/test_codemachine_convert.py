"""Pure conversions of serialized CodeMachine records, table by table."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from otel_replay.model import Adjusted, InvalidRecord, Notice, Origin, Signal, SpanEvent, SpanRecord
from otel_replay.sources.codemachine import log_from_codemachine, span_from_codemachine, span_kind
from otel_replay.sources.common import (
    NULL_NOTE,
    NULL_NOTICE,
    InvalidInput,
    checked,
    clean_attributes,
    clean_value,
    hrtime_to_ns,
    ms_to_ns,
    parse_hex_id,
)
from tests.helpers import log_doc, span_doc

ORIGIN = Origin("f.json", 0)
RES = (("service.name", "codemachine"),)


def _nested(levels: int) -> Any:
    """``levels`` arrays in one another."""
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize(
    "ms",
    [0, 1, 1795539600000, 1795539600000.5, 1795539600000.123456, 1764003883123.0001, 1799999999999.9998, 0.000001],
)
def test_ms_to_ns_is_within_half_a_nanosecond_of_the_float(ms: float) -> None:
    exact = Decimal(ms) * 1_000_000  # the float's exact value, in ns
    assert abs(Decimal(ms_to_ns(ms, "t")) - exact) <= Decimal("0.5")


def test_ms_to_ns_is_exact_for_a_real_value() -> None:
    ms = 1795539612952.987  # a real CodeMachine value
    assert abs(Decimal(ms_to_ns(ms, "t")) - Decimal(ms) * 1_000_000) <= Decimal("0.5")


@pytest.mark.parametrize(
    ("value", "reason"),
    [(None, "missing t"), ("12", "a string"), (True, "a boolean"), (-1, "negative"), (float("inf"), "finite")],
)
def test_ms_to_ns_rejects(value: Any, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        ms_to_ns(value, "t")


@pytest.mark.parametrize(
    ("value", "nbytes", "expected"),
    [
        ("0AF7651916CD43DD8448EB211C80319C", 16, 0x0AF7651916CD43DD8448EB211C80319C),
        ("b7ad6b7169203331", 8, 0xB7AD6B7169203331),
    ],
)
def test_hex_ids_accept_either_case(value: str, nbytes: int, expected: int) -> None:
    assert parse_hex_id(value, nbytes, "id") == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("abc", "has 3 characters"),
        ("z" * 32, "not hexadecimal"),
        ("0" * 32, "all zeros"),
        (123, "a number"),
        (None, "null"),
        ("0x" + "1" * 30, "not hexadecimal"),
        ("1" * 30 + " 1", "not hexadecimal"),  # whitespace, which bytes.fromhex would skip
        ("1" * 30 + "_1", "not hexadecimal"),  # an underscore, which int(…, 16) would take
        ("+" + "1" * 31, "not hexadecimal"),
        ("\u0661" * 32, "not hexadecimal"),  # Arabic-Indic digits: int() reads them as 1s
        ("é" * 32, "not hexadecimal"),
    ],
)
def test_hex_ids_reject(value: Any, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        parse_hex_id(value, 16, "traceId")


def test_span_carries_every_field() -> None:
    attributes = {"s": "x", "i": 7, "f": 1.5, "b": True, "arr": [1, 2], "mixed": [1, "a"], "obj": {"k": [True]}}
    doc = span_doc(
        name="checkout",
        parentSpanId="00f067aa0ba902b7",
        status={"code": 2, "message": "boom"},
        attributes={**attributes, "span.kind": "client"},
        events=[{"name": "exception", "time": 1795539600050.25, "attributes": {"exception.type": "E"}}],
    )
    rec = span_from_codemachine(doc, RES, ORIGIN)
    assert rec == SpanRecord(
        trace_id=0x0AF7651916CD43DD8448EB211C80319C,
        span_id=0xB7AD6B7169203331,
        parent_span_id=0x00F067AA0BA902B7,
        name=doc["name"],
        kind=2,  # CLIENT, from the span.kind attribute
        start_ns=1795539600000000000,  # integer start
        end_ns=1795539600100250000,  # float end
        status_code=2,
        status_message="boom",
        attributes=doc["attributes"],
        events=[SpanEvent("exception", 1795539600050250000, {"exception.type": "E"})],
        resource=RES,
        origin=ORIGIN,
    )  # every field, the ones only OTLP input carries at their defaults


@pytest.mark.parametrize("code", [0, 1])
def test_status_message_only_kept_for_error(code: int) -> None:
    rec = span_from_codemachine(span_doc(status={"code": code, "message": "m"}), RES, ORIGIN)
    assert rec.status_message is None


@pytest.mark.parametrize(
    ("value", "kind"),
    [("server", 1), ("CLIENT", 2), ("SPAN_KIND_PRODUCER", 3), ("consumer", 4), ("internal", 0), ("weird", 0), (2, 1)],
)
def test_span_kind_from_attribute(value: Any, kind: int) -> None:
    assert span_kind({"span.kind": value}) == kind


@pytest.mark.parametrize(
    ("patch", "reason"),
    [
        ({"traceId": "00" * 16}, "traceId is all zeros"),
        ({"spanId": "xyz"}, "spanId"),
        ({"parentSpanId": "12"}, "parentSpanId"),
        ({"startTime": None}, "missing startTime"),
        ({"endTime": "soon"}, "endTime is a string"),
        ({"endTime": 1795539599000.0}, "endTime is before startTime"),
        ({"status": {"code": 3}}, "status code 3"),
        ({"events": [{"name": "e"}]}, "event 0 .* has no time"),
        ({"attributes": [1, 2]}, "attributes is an array"),
        ({"name": None}, "missing name"),
        ({"name": {"n": 1}}, "name is an object, expected a string"),
        ({"parentSpanId": ["b7ad6b7169203331"]}, "parentSpanId is an array"),
        ({"status": "ok"}, "status is a string, expected an object"),
        ({"status": {"code": [2]}}, "status code \\(an array\\) is not 0"),
        ({"status": {"code": 2, "message": {"m": 1}}}, "status message is an object, expected a string"),
        ({"events": {"e": 1}}, "events is an object, expected an array"),
        ({"events": [{"name": 5, "time": 1}]}, "event 0 name is a number"),
        ({"events": [{"name": "e", "time": [1]}]}, "event 0 time is an array, expected a number"),
        ({"startTime": 2**70}, "startTime is after the year 2554"),
        ({"startTime": 1e300, "endTime": 1e300}, "startTime is after the year 2554"),
        ({"attributes": {"a": _nested(33)}}, "attributes 'a' nests arrays and objects more than 32 levels deep"),
        ({"events": [{"name": "e", "time": 1, "attributes": {"b": _nested(40)}}]}, "event 0 attributes 'b' nests"),
    ],
)
def test_invalid_spans_are_rejected_with_a_reason(patch: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        span_from_codemachine(span_doc(**patch), RES, ORIGIN)


def test_root_span_parent_absent_or_empty() -> None:
    assert span_from_codemachine(span_doc(parentSpanId=""), RES, ORIGIN).parent_span_id == 0
    assert span_from_codemachine(span_doc(), RES, ORIGIN).parent_span_id == 0


def test_integers_beyond_int64_become_strings_without_losing_digits() -> None:
    big = 2**64 + 1
    assert clean_value(big) == str(big)
    assert clean_value([1, big]) == [1, str(big)]
    assert clean_value({"a": {"b": -(2**63) - 1}}) == {"a": {"b": str(-(2**63) - 1)}}
    plain = {"a": [1, 2]}
    assert clean_value(plain) is plain  # nothing to change: no copy


def test_values_nested_as_deep_as_allowed_are_kept() -> None:
    rec = span_from_codemachine(span_doc(attributes={"a": _nested(32), "b": {"k": _nested(31)}}), RES, ORIGIN)
    assert rec.attributes == {"a": _nested(32), "b": {"k": _nested(31)}}


def test_a_time_as_late_as_64_bits_hold_is_kept() -> None:
    assert hrtime_to_ns([18446744073, 709551615]) == 2**64 - 1
    assert ms_to_ns(18446744073709, "t") == 18446744073709 * 10**6
    with pytest.raises(InvalidInput, match="timestamp is after the year 2554"):
        hrtime_to_ns([18446744073, 709551616])


def test_log_record_lifts_correlation_ids_and_keeps_the_rest() -> None:
    doc = log_doc(
        nanos=123_000_000,
        body={"k": 1},
        attributes={"trace.id": "0AF7651916CD43DD8448EB211C80319C", "span.id": "b7ad6b7169203331", "logger.name": "x"},
        resource={"service.name": "svc", "host.name": "h"},
    )
    rec = log_from_codemachine(doc, RES, ORIGIN)
    assert rec.time_ns == 1795539600_123000000
    assert rec.trace_id == 0x0AF7651916CD43DD8448EB211C80319C and rec.span_id == 0xB7AD6B7169203331
    assert rec.attributes == {"logger.name": "x"}
    assert dict(rec.resource) == {"service.name": "svc", "host.name": "h"}
    assert rec.body == {"k": 1} and rec.severity_number == 9 and rec.severity_text == "INFO"


@pytest.mark.parametrize(
    ("patch", "reason"),
    [
        ({"timestamp": 1795539600}, "timestamp is a number"),
        ({"timestamp": [1, 1_000_000_000]}, "nanoseconds"),
        ({"timestamp": [1, 2, 3]}, "expected \\[seconds, nanoseconds\\]"),
        ({"timestamp": [True, 5]}, "seconds is a boolean"),
        ({"timestamp": [1, 5.0]}, "nanoseconds is a number, expected an integer"),
        ({"timestamp": [-1, 5]}, "seconds are negative"),
        ({"timestamp": [1, -5]}, "nanoseconds -5 outside"),
        ({"severityNumber": True}, "severityNumber True"),
        ({"severityText": 5}, "severityText is a number"),
        ({"severityNumber": 25}, "severityNumber 25"),
        ({"attributes": {"trace.id": "nothex"}}, "trace.id"),
        ({"resource": "svc"}, "resource is a string"),
        ({"timestamp": [2**40, 0]}, "timestamp is after the year 2554"),
        ({"timestamp": {"s": 1}}, "timestamp is an object"),
        ({"severityNumber": [9]}, "severityNumber \\(an array\\) outside 0..24"),
        ({"attributes": {"span.id": {"id": 1}}}, "attribute span.id is an object"),
        ({"attributes": "x"}, "attributes is a string, expected an object"),
        ({"body": _nested(33)}, "body nests arrays and objects more than 32 levels deep"),
        ({"resource": {"a": _nested(33)}}, "resource 'a' nests arrays and objects"),
    ],
)
def test_invalid_log_records_are_rejected_with_a_reason(patch: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        log_from_codemachine(log_doc(**patch), RES, ORIGIN)


def test_hrtime() -> None:
    assert hrtime_to_ns([1, 999_999_999]) == 1_999_999_999


# -- null values (NaN and ±Infinity, as JSON.stringify writes them) ---------------------------
@pytest.mark.parametrize(
    ("attrs", "notes"),
    [
        ({"cost_per_step": None}, [NULL_NOTE]),
        ({"weights": [0.5, None, 1.5]}, [NULL_NOTE]),
        ({"a": None, "b": [None]}, [NULL_NOTE, NULL_NOTE]),
        ({"a": 0.5, "b": [1, 2], "c": "x"}, []),
        (
            {"a": [1, "x", None]},
            ["attributes 'a': array of mixed types sent as a list of typed values (arrays hold one type)", NULL_NOTE],
        ),
    ],
)
def test_a_null_value_is_kept_as_empty_and_noted_as_null_only(attrs: dict[str, Any], notes: list[str]) -> None:
    found: list[str] = []
    assert clean_attributes(attrs, "attributes", found) == attrs
    assert found == notes


def _record(notes: list[str], add: list[str]) -> str:
    notes.extend(add)
    return "record"


@pytest.mark.parametrize(
    ("add", "expected"),
    [
        ([], ["record"]),
        ([NULL_NOTE], [Notice(NULL_NOTICE, ORIGIN), "record"]),  # about the record: shown if it is sent
        ([NULL_NOTE, NULL_NOTE], [Notice(NULL_NOTICE, ORIGIN), "record"]),
        (["x cut"], [Adjusted(Signal.TRACES, ORIGIN, "x cut"), "record"]),
        (
            [NULL_NOTE, "x cut", NULL_NOTE, "y"],
            [Notice(NULL_NOTICE, ORIGIN), Adjusted(Signal.TRACES, ORIGIN, "x cut; y"), "record"],
        ),
    ],
)
def test_checked_makes_nulls_a_notice_and_changes_an_adjusted_item(add: list[str], expected: list[Any]) -> None:
    notes: list[str] = []
    assert list(checked(Signal.TRACES, ORIGIN, notes, _record, notes, add)) == expected
    assert notes == []


def test_checked_makes_an_invalid_record_and_forgets_the_notes() -> None:
    notes = [NULL_NOTE]

    def refuse() -> None:
        raise InvalidInput("bad")

    assert checked(Signal.LOGS, ORIGIN, notes, refuse) == (InvalidRecord(Signal.LOGS, ORIGIN, "bad"),)
    assert notes == []


def test_a_span_with_a_nan_attribute_is_read_unchanged() -> None:
    notes: list[str] = []
    rec = span_from_codemachine(span_doc(attributes={"workflow.cost_per_step": None}), RES, ORIGIN, notes)
    assert rec.attributes == {"workflow.cost_per_step": None} and notes == [NULL_NOTE]
