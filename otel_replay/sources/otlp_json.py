"""OTLP/JSON input: one request object (``resourceSpans`` / ``resourceLogs`` /
``resourceMetrics``), pretty-printed or compact, and JSON Lines of such objects as the
OpenTelemetry Collector's file exporter writes them.

OTLP/JSON is not protobuf's canonical JSON: trace and span ids are hex (protobuf's
``json_format`` would read them as base64), 64-bit integers come as decimal strings or
numbers, enums as integers or their names; unknown fields are ignored. The conversion
functions are pure and raise :class:`InvalidInput` with a one-line reason.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Iterator
from typing import Any, BinaryIO

import msgspec
from opentelemetry.trace import TraceState

from otel_replay.model import (
    FileProblem,
    FileStart,
    InvalidRecord,
    LogRecord,
    MetricsExport,
    Origin,
    ResourceAttrs,
    Scope,
    Signal,
    SourceItem,
    SpanEvent,
    SpanLink,
    SpanRecord,
    freeze,
)
from otel_replay.sources.codemachine import INT64_MAX, INT64_MIN, InvalidInput, checked, parse_hex_id
from otel_replay.sources.jsondoc import Document, describe_json

OTLP_ARRAYS = {"resourceSpans": Signal.TRACES, "resourceLogs": Signal.LOGS, "resourceMetrics": Signal.METRICS}
_SCOPED = {"resourceSpans": ("scopeSpans", "spans"), "resourceLogs": ("scopeLogs", "logRecords")}
_SPAN_KINDS = {
    "SPAN_KIND_UNSPECIFIED": 0,
    "SPAN_KIND_INTERNAL": 1,
    "SPAN_KIND_SERVER": 2,
    "SPAN_KIND_CLIENT": 3,
    "SPAN_KIND_PRODUCER": 4,
    "SPAN_KIND_CONSUMER": 5,
}
_STATUS_CODES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}
_SEVERITY_NAMES = ("UNSPECIFIED", "TRACE", "TRACE2", "TRACE3", "TRACE4", "DEBUG", "DEBUG2", "DEBUG3", "DEBUG4",
                   "INFO", "INFO2", "INFO3", "INFO4", "WARN", "WARN2", "WARN3", "WARN4", "ERROR", "ERROR2",
                   "ERROR3", "ERROR4", "FATAL", "FATAL2", "FATAL3", "FATAL4")  # fmt: skip
_SEVERITIES = {f"SEVERITY_NUMBER_{name}": i for i, name in enumerate(_SEVERITY_NAMES)}
_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_LINE_DECODER = msgspec.json.Decoder()
UINT64_MAX = 2**64 - 1


# -- values ----------------------------------------------------------------------------
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


def _optional_int(obj: dict[str, Any], key: str, high: int = 2**32 - 1) -> int:
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
        number = value["doubleValue"]
        if isinstance(number, str) and number in _NON_FINITE:
            return _NON_FINITE[number]
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise InvalidInput(f"{field} doubleValue is {describe_json(number)}")
        return float(number)
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


def _frozen(attrs: dict[str, Any]) -> ResourceAttrs:
    """Attributes kept in the file's order (so they go out in the same order)."""
    return tuple((k, freeze(v)) for k, v in attrs.items())


def _id(value: Any, nbytes: int, field: str) -> int:
    try:
        return parse_hex_id(value, nbytes, field)
    except InvalidInput as exc:
        if isinstance(value, str) and len(value) == 4 * math.ceil(nbytes / 3):  # the length of base64
            raise InvalidInput(f"{exc} (OTLP/JSON ids are hex, this looks like base64)") from None
        raise


def _optional_id(value: Any, nbytes: int, field: str) -> int:
    return 0 if value in (None, "") else _id(value, nbytes, field)


def _trace_state(value: Any, notes: list[str]) -> str:
    if not value:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"traceState is {describe_json(value)}, expected a string")
    parsed = ",".join(f"{k}={v}" for k, v in TraceState.from_header([value]).items())
    if parsed != ",".join(part.strip() for part in value.split(",") if part.strip()):
        notes.append(f"traceState {value[:60]!r} is not a valid W3C tracestate: sent as {parsed!r}")
    return parsed


# -- records ---------------------------------------------------------------------------
def span_from_otlp(
    obj: Any, resource: ResourceAttrs, schema_url: str, scope: Scope, origin: Origin, notes: list[str]
) -> SpanRecord:
    if not isinstance(obj, dict):
        raise InvalidInput(f"span is {describe_json(obj)}, expected an object")
    trace_id = _id(obj.get("traceId"), 16, "traceId")
    span_id = _id(obj.get("spanId"), 8, "spanId")
    parent_id = _optional_id(obj.get("parentSpanId"), 8, "parentSpanId")
    name = obj.get("name", "")
    if not isinstance(name, str):
        raise InvalidInput(f"name is {describe_json(name)}, expected a string")
    kind = enum(obj.get("kind"), _SPAN_KINDS, "kind")
    if kind == 0:
        notes.append("kind UNSPECIFIED sent as INTERNAL (the SDK has no unspecified kind)")
        kind = 1
    start = integer(obj.get("startTimeUnixNano", 0), "startTimeUnixNano")
    end = integer(obj.get("endTimeUnixNano", 0), "endTimeUnixNano")
    if end < start:
        raise InvalidInput("endTimeUnixNano is before startTimeUnixNano")
    status = obj.get("status") or {}
    if not isinstance(status, dict):
        raise InvalidInput(f"status is {describe_json(status)}, expected an object")
    code = enum(status.get("code"), _STATUS_CODES, "status code")
    message = status.get("message") or None
    if message is not None and not isinstance(message, str):
        raise InvalidInput(f"status message is {describe_json(message)}, expected a string")
    if message and code != 2:
        notes.append("status message dropped: the SDK keeps a status message only for ERROR")
    return SpanRecord(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent_id,
        name=name,
        kind=kind - 1,
        start_ns=start,
        end_ns=end,
        status_code=code,
        status_message=message if code == 2 else None,
        attributes=key_values(obj.get("attributes")),
        events=[_event(ev, i) for i, ev in enumerate(_list(obj.get("events"), "events"))],
        resource=resource,
        origin=origin,
        scope=scope,
        resource_schema_url=schema_url,
        trace_state=_trace_state(obj.get("traceState"), notes),
        flags=_optional_int(obj, "flags"),
        links=[_link(ln, i, notes) for i, ln in enumerate(_list(obj.get("links"), "links"))],
        dropped_attributes=_optional_int(obj, "droppedAttributesCount"),
        dropped_events=_optional_int(obj, "droppedEventsCount"),
        dropped_links=_optional_int(obj, "droppedLinksCount"),
    )


def _list(value: Any, field: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidInput(f"{field} is {describe_json(value)}, expected an array")
    return value


def _event(ev: Any, i: int) -> SpanEvent:
    if not isinstance(ev, dict):
        raise InvalidInput(f"event {i} is {describe_json(ev)}, expected an object")
    name = ev.get("name", "")
    if not isinstance(name, str):
        raise InvalidInput(f"event {i} name is {describe_json(name)}, expected a string")
    return SpanEvent(
        name,
        integer(ev.get("timeUnixNano", 0), f"event {i} timeUnixNano"),
        key_values(ev.get("attributes"), f"event {i} attributes"),
        _optional_int(ev, "droppedAttributesCount"),
    )


def _link(ln: Any, i: int, notes: list[str]) -> SpanLink:
    if not isinstance(ln, dict):
        raise InvalidInput(f"link {i} is {describe_json(ln)}, expected an object")
    state = ln.get("traceState") or ""
    if state:
        notes.append(f"link {i} traceState dropped: the OTLP exporter does not encode a link's trace state")
    return SpanLink(
        _id(ln.get("traceId"), 16, f"link {i} traceId"),
        _id(ln.get("spanId"), 8, f"link {i} spanId"),
        "",
        key_values(ln.get("attributes"), f"link {i} attributes"),
        _optional_int(ln, "droppedAttributesCount"),
        _optional_int(ln, "flags"),
    )


def log_from_otlp(
    obj: Any, resource: ResourceAttrs, schema_url: str, scope: Scope, origin: Origin, notes: list[str]
) -> LogRecord:
    if not isinstance(obj, dict):
        raise InvalidInput(f"log record is {describe_json(obj)}, expected an object")
    text = obj.get("severityText") or None
    if text is not None and not isinstance(text, str):
        raise InvalidInput(f"severityText is {describe_json(text)}, expected a string")
    event_name = obj.get("eventName") or None
    if event_name is not None and not isinstance(event_name, str):
        raise InvalidInput(f"eventName is {describe_json(event_name)}, expected a string")
    return LogRecord(
        time_ns=integer(obj.get("timeUnixNano", 0), "timeUnixNano"),
        severity_number=enum(obj.get("severityNumber"), _SEVERITIES, "severityNumber"),
        severity_text=text,
        body=any_value(obj.get("body"), "body"),
        attributes=key_values(obj.get("attributes")),
        trace_id=_optional_id(obj.get("traceId"), 16, "traceId"),
        span_id=_optional_id(obj.get("spanId"), 8, "spanId"),
        resource=resource,
        origin=origin,
        observed_ns=integer(obj.get("observedTimeUnixNano", 0), "observedTimeUnixNano"),
        flags=_optional_int(obj, "flags"),
        scope=scope,
        resource_schema_url=schema_url,
        event_name=event_name,
        dropped_attributes=_optional_int(obj, "droppedAttributesCount"),
    )


def _scope(block: dict[str, Any]) -> Scope:
    """The scope of a ``ScopeSpans``/``ScopeLogs`` block, with the block's schema URL."""
    obj, schema_url = block.get("scope"), _schema_url(block)
    if obj is None:
        return Scope("", None, schema_url)
    if not isinstance(obj, dict):
        raise InvalidInput(f"scope is {describe_json(obj)}, expected an object")
    name, version = obj.get("name") or "", obj.get("version") or None
    if not isinstance(name, str) or (version is not None and not isinstance(version, str)):
        raise InvalidInput("scope name and version must be strings")
    return Scope(name, version, schema_url, _frozen(key_values(obj.get("attributes"), "scope attributes")))


def _schema_url(obj: dict[str, Any]) -> str:
    url = obj.get("schemaUrl") or ""
    return url if isinstance(url, str) else ""


# -- documents -------------------------------------------------------------------------
def read_otlp(doc: Document, source: str) -> Iterator[SourceItem]:
    """Stream the records of one OTLP/JSON request document."""
    assert doc.array_key is not None
    yield FileStart(source, OTLP_ARRAYS[doc.array_key], "otlp-json")
    counter = [0]
    for group in doc.items:
        yield from _request_items(doc.array_key, group, source, counter)


def _request_items(array_key: str, group: Any, source: str, counter: list[int]) -> Iterator[SourceItem]:
    """The records of one ``ResourceSpans`` / ``ResourceLogs`` / ``ResourceMetrics``."""
    signal = OTLP_ARRAYS[array_key]
    where = Origin(source, counter[0])
    try:
        if not isinstance(group, dict):
            raise InvalidInput(f"{array_key} entry is {describe_json(group)}, expected an object")
        res = group.get("resource") or {}
        if not isinstance(res, dict):
            raise InvalidInput(f"resource is {describe_json(res)}, expected an object")
        resource = _frozen(key_values(res.get("attributes"), "resource attributes"))
        schema_url = _schema_url(group)
        if signal is Signal.METRICS:
            yield MetricsExport(_count_points(group), where)
            counter[0] += 1
            return
        scoped_key, records_key = _SCOPED[array_key]
        scoped = _list(group.get(scoped_key), scoped_key)
    except InvalidInput as exc:
        yield InvalidRecord(signal, where, f"{exc}; its records are not read")
        return
    convert = span_from_otlp if signal is Signal.TRACES else log_from_otlp
    notes: list[str] = []
    for block in scoped:
        try:
            if not isinstance(block, dict):
                raise InvalidInput(f"{scoped_key} entry is {describe_json(block)}, expected an object")
            scope = _scope(block)
            records = _list(block.get(records_key), records_key)
        except InvalidInput as exc:
            yield InvalidRecord(signal, Origin(source, counter[0]), f"{exc}; its records are not read")
            continue
        for obj in records:
            origin = Origin(source, counter[0])
            counter[0] += 1
            yield from checked(signal, origin, notes, convert, obj, resource, schema_url, scope, origin, notes)


def _count_points(group: dict[str, Any]) -> int:
    total = 0
    for block in group.get("scopeMetrics") or ():
        for metric in (block.get("metrics") or ()) if isinstance(block, dict) else ():
            if not isinstance(metric, dict):
                continue
            for kind in ("gauge", "sum", "histogram", "exponentialHistogram", "summary"):
                data = metric.get(kind)
                if isinstance(data, dict) and isinstance(data.get("dataPoints"), list):
                    total += len(data["dataPoints"])
    return total


def read_otlp_lines(stream: BinaryIO, source: str) -> Iterator[SourceItem]:
    """OTLP JSON Lines, one request object per line, each line decoded on its own (memory
    is bounded by the longest line). Records are named ``file:LINE[index]``."""
    started: set[Signal] = set()
    for number, line in enumerate(stream, 1):
        if not line.strip():
            continue
        name = f"{source}:{number}"
        try:
            obj = _LINE_DECODER.decode(line)
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            reason = "not valid UTF-8 text" if isinstance(exc, UnicodeDecodeError) else f"not valid JSON: {exc}"
            yield FileProblem(name, f"{reason}; the line is skipped")
            continue
        key = next((k for k in OTLP_ARRAYS if isinstance(obj, dict) and k in obj), None)
        if key is None:
            what = describe_json(obj) if not isinstance(obj, dict) else "an object without resourceSpans/Logs/Metrics"
            yield FileProblem(name, f"line is {what}; skipped")
            continue
        signal = OTLP_ARRAYS[key]
        if signal not in started:
            started.add(signal)
            yield FileStart(source, signal, "otlp-jsonl")
        if not isinstance(obj[key], list):
            yield FileProblem(name, f"'{key}' is {describe_json(obj[key])}, expected an array; skipped")
            continue
        counter = [0]
        for group in obj[key]:
            yield from _request_items(key, group, name, counter)
