"""CodeMachine CLI telemetry sessions: trace, log and metrics documents.

The functions that turn one serialized record into an internal record are pure and
raise :class:`~otel_replay.sources.common.InvalidInput` with a one-line reason; :func:`read_codemachine` streams a
classified document through them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from otel_replay.model import (
    FileStart,
    LogRecord,
    Origin,
    ResourceAttrs,
    Signal,
    SourceItem,
    SpanEvent,
    SpanRecord,
    resource_from_mapping,
    truncate_utf8,
)
from otel_replay.sources.common import (
    INT64_MAX,
    INT64_MIN,
    InvalidInput,
    checked,
    finite_number,
    parse_hex_id,
)
from otel_replay.sources.jsondoc import Document, describe_json

DEFAULT_SERVICE = "codemachine"
#: ``span.kind`` attribute values → opentelemetry.trace.SpanKind values.
SPAN_KINDS = {"internal": 0, "server": 1, "client": 2, "producer": 3, "consumer": 4}
TRACE_ID_KEY, SPAN_ID_KEY = "trace.id", "span.id"
#: Longer attribute strings are cut with a marker: one value must not push a trace past
#: Tempo's max_bytes_per_trace (5 MB by default), which would drop the whole trace. Tempo
#: itself then cuts values to its max_attribute_bytes (2 KiB by default) when it stores them.
MAX_ATTRIBUTE_BYTES = 256_000


def ms_to_ns(value: Any, field: str) -> int:
    """Float milliseconds since the epoch → integer nanoseconds, rounded, not truncated.

    ``value * 1e6`` in floating point would lose up to ~128 ns near 1.8e18; splitting
    off the whole milliseconds first keeps the result within 0.5 ns of the float.
    """
    ms = finite_number(value, field)
    if ms < 0:
        raise InvalidInput(f"{field} is negative")
    if isinstance(ms, int):
        return ms * 1_000_000
    whole = math.floor(ms)
    return int(whole) * 1_000_000 + round((ms - whole) * 1_000_000)


def clean_value(value: Any, notes: list[str] | None = None, where: str = "value") -> Any:
    """Map a JSON value to an OTLP AnyValue-compatible one (see README, "Attribute values").

    Strings, booleans, doubles, arrays and objects (kvlist) pass through as the OTLP
    AnyValue mapping says; an integer outside int64 becomes its decimal string, so no
    digit is lost and the batch still encodes.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        if INT64_MIN <= value <= INT64_MAX:
            return value
        if notes is not None:
            notes.append(f"{where}: integer beyond 64 bits sent as its decimal string")
        return str(value)
    if isinstance(value, list):
        cleaned = [clean_value(v, notes, where) for v in value]
        return value if all(a is b for a, b in zip(cleaned, value, strict=True)) else cleaned
    if isinstance(value, dict):
        out = value
        for key, item in value.items():
            new = clean_value(item, notes, f"{where} {key!r}" if notes is not None else "")
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
            notes.append(f"{where}: null sent as an empty value (attribute values cannot be null)")
        return None
    if isinstance(value, str):
        if max_bytes is None or len(value) * 4 <= max_bytes:  # cheap: no string this short can be over
            return value
        cut_text, cut = truncate_utf8(value, max_bytes)
        if cut and notes is not None:
            size = len(value.encode("utf-8", "surrogatepass"))
            notes.append(f"{where}: string of {size} bytes cut to {max_bytes}, marker appended")
        return cut_text
    if notes is not None:
        if isinstance(value, dict):
            notes.append(f"{where}: object sent as a key-value list (attribute values are primitives or arrays)")
        elif isinstance(value, list) and len({_type_name(v) for v in value if v is not None}) > 1:
            notes.append(f"{where}: array of mixed types sent as a list of typed values (arrays hold one type)")
    return clean_value(value, notes, where)


def clean_attributes(
    attrs: Any, field: str = "attributes", notes: list[str] | None = None, max_bytes: int | None = MAX_ATTRIBUTE_BYTES
) -> dict[str, Any]:
    """Attributes as OTLP carries them (see :func:`attribute_value`). Log records pass
    ``max_bytes=None``: their sinks apply the backend's own limits (Loki's metadata size)."""
    if attrs is None:
        return {}
    if not isinstance(attrs, dict):
        raise InvalidInput(f"{field} is {describe_json(attrs)}, expected an object")
    out = attrs
    for key, value in attrs.items():
        kind = type(value)  # the common cases first, kept cheap
        if kind is str:
            if max_bytes is None or len(value) * 4 <= max_bytes:
                continue
        elif kind is bool or kind is float or (kind is int and INT64_MIN <= value <= INT64_MAX):
            continue
        new = attribute_value(value, notes, f"{field} {key!r}" if notes is not None else "", max_bytes)
        if new is not value:
            if out is attrs:
                out = dict(attrs)
            out[key] = new
    return out


def span_kind(attrs: dict[str, Any]) -> int:
    raw = attrs.get("span.kind")
    if isinstance(raw, str):
        key = raw.strip().lower().removeprefix("span_kind_")
        return SPAN_KINDS.get(key, 0)
    if isinstance(raw, int) and not isinstance(raw, bool) and 1 <= raw <= 5:
        return raw - 1  # OTLP proto numbering: 1 INTERNAL … 5 CONSUMER
    return 0


def span_from_codemachine(
    obj: Any, resource: ResourceAttrs, origin: Origin, notes: list[str] | None = None
) -> SpanRecord:
    """One serialized span; ``notes`` receives a line for each value that had to change."""
    if not isinstance(obj, dict):
        raise InvalidInput(f"span is {describe_json(obj)}, expected an object")
    trace_id = parse_hex_id(obj.get("traceId"), 16, "traceId")
    span_id = parse_hex_id(obj.get("spanId"), 8, "spanId")
    parent = obj.get("parentSpanId")
    parent_id = 0 if parent is None or parent == "" else parse_hex_id(parent, 8, "parentSpanId")
    name = obj.get("name")
    if not isinstance(name, str):
        raise InvalidInput("missing name" if name is None else f"name is {describe_json(name)}, expected a string")
    start = ms_to_ns(obj.get("startTime"), "startTime")
    end = ms_to_ns(obj.get("endTime"), "endTime")
    if end < start:
        raise InvalidInput("endTime is before startTime")
    code, message = _status(obj.get("status"))
    attributes = clean_attributes(obj.get("attributes"), "attributes", notes)
    return SpanRecord(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent_id,
        name=name,
        kind=span_kind(attributes),
        start_ns=start,
        end_ns=end,
        status_code=code,
        status_message=message,
        attributes=attributes,
        events=_events(obj.get("events"), notes),
        resource=resource,
        origin=origin,
    )


def _status(status: Any) -> tuple[int, str | None]:
    if status is None:
        return 0, None
    if not isinstance(status, dict):
        raise InvalidInput(f"status is {describe_json(status)}, expected an object")
    code = status.get("code", 0)
    if isinstance(code, bool) or not isinstance(code, int) or code not in (0, 1, 2):
        raise InvalidInput(f"status code {code!r} is not 0 (UNSET), 1 (OK) or 2 (ERROR)")
    message = status.get("message")
    if message is not None and not isinstance(message, str):
        message = str(message)
    # The SDK keeps a description only for ERROR (the OTel spec says so); so do we.
    return code, (message if code == 2 else None)


def _events(events: Any, notes: list[str] | None) -> list[SpanEvent]:
    if events is None:
        return []
    if not isinstance(events, list):
        raise InvalidInput(f"events is {describe_json(events)}, expected an array")
    out = []
    for i, ev in enumerate(events):
        if not isinstance(ev, dict):
            raise InvalidInput(f"event {i} is {describe_json(ev)}, expected an object")
        name = ev.get("name")
        if not isinstance(name, str):
            raise InvalidInput(f"event {i} has no name")
        if ev.get("time") is None:
            raise InvalidInput(f"event {i} ({name!r}) has no time")
        out.append(
            SpanEvent(
                name,
                ms_to_ns(ev["time"], f"event {i} time"),
                clean_attributes(ev.get("attributes"), f"event {i} attributes", notes),
            )
        )
    return out


def hrtime_to_ns(value: Any) -> int:
    """OTel JS ``HrTime`` ``[seconds, nanoseconds]`` → integer nanoseconds."""
    if type(value) is list and len(value) == 2:
        sec, nanos = value
        if type(sec) is int and type(nanos) is int and sec >= 0 and 0 <= nanos <= 999_999_999:
            return sec * 1_000_000_000 + nanos
    if not isinstance(value, list) or len(value) != 2:
        if value is None:
            raise InvalidInput("missing timestamp")
        raise InvalidInput(f"timestamp is {describe_json(value)}, expected [seconds, nanoseconds]")
    sec, nanos = value
    for part, label in ((sec, "seconds"), (nanos, "nanoseconds")):
        if isinstance(part, bool) or not isinstance(part, int):
            raise InvalidInput(f"timestamp {label} is {describe_json(part)}, expected an integer")
    if sec < 0:
        raise InvalidInput("timestamp seconds are negative")
    if not 0 <= nanos <= 999_999_999:
        raise InvalidInput(f"timestamp nanoseconds {nanos} outside 0..999999999")
    return sec * 1_000_000_000 + nanos  # integers of a subclass: the fast path above takes only int


def log_from_codemachine(
    obj: Any, default_resource: ResourceAttrs, origin: Origin, notes: list[str] | None = None
) -> LogRecord:
    if not isinstance(obj, dict):
        raise InvalidInput(f"log record is {describe_json(obj)}, expected an object")
    time_ns = hrtime_to_ns(obj.get("timestamp"))
    sev = obj.get("severityNumber", 0)
    if sev is None:
        sev = 0
    if type(sev) is not int or not 0 <= sev <= 24:
        raise InvalidInput(f"severityNumber {sev!r} outside 0..24")
    sev_text = obj.get("severityText")
    if sev_text is not None and type(sev_text) is not str:
        raise InvalidInput(f"severityText is {describe_json(sev_text)}, expected a string")
    attributes = clean_attributes(obj.get("attributes"), "attributes", notes, None)
    trace_id = span_id = 0
    if TRACE_ID_KEY in attributes or SPAN_ID_KEY in attributes:
        attributes = dict(attributes)
        raw_trace, raw_span = attributes.pop(TRACE_ID_KEY, None), attributes.pop(SPAN_ID_KEY, None)
        if raw_trace not in (None, ""):
            trace_id = parse_hex_id(raw_trace, 16, "attribute trace.id")
        if raw_span not in (None, ""):
            span_id = parse_hex_id(raw_span, 8, "attribute span.id")
    resource = record_resource(obj.get("resource"), default_resource, notes)
    body = _body(obj.get("body"), notes)
    # positional: twice as fast as keywords, and this runs for every record
    return LogRecord(time_ns, sev, sev_text, body, attributes, trace_id, span_id, resource, origin)


def record_resource(res: Any, default: ResourceAttrs, notes: list[str] | None = None) -> ResourceAttrs:
    """A record's own ``resource`` (attributes as an object), or the session's default."""
    if res is None:
        return default
    if not isinstance(res, dict):
        raise InvalidInput(f"resource is {describe_json(res)}, expected an object")
    return resource_from_mapping(clean_attributes(res, "resource", notes, None))


def _body(body: Any, notes: list[str] | None) -> Any:
    if type(body) is str:
        return body
    if body is None and notes is not None:
        notes.append("body is null: sent as an empty body")
    return clean_value(body, notes, "body")


def classify(doc: Document) -> Signal | None:
    """What a CodeMachine document holds, judged by its top-level keys."""
    if doc.array_key == "spans":
        return Signal.TRACES
    if doc.array_key == "logs":
        return Signal.LOGS
    if doc.array_key == "metrics" or doc.header.get("type") == "metrics":
        return Signal.METRICS
    return None


def session_resource(doc: Document) -> ResourceAttrs:
    """The resource of records that name none: the session's ``service``."""
    service = doc.header.get("service")
    if not isinstance(service, str) or not service:
        service = DEFAULT_SERVICE
    return (("service.name", service),)


def read_codemachine(doc: Document, source: str, signal: Signal) -> Iterator[SourceItem]:
    """Stream the records of a classified CodeMachine trace or log document (metrics
    documents: :mod:`otel_replay.sources.codemachine_metrics`)."""
    resource = session_resource(doc)
    yield FileStart(source, signal, "codemachine")
    notes: list[str] = []
    convert = span_from_codemachine if signal is Signal.TRACES else log_from_codemachine
    for index, obj in enumerate(doc.items):
        origin = Origin(source, index)
        yield from checked(signal, origin, notes, convert, obj, resource, origin, notes)
