"""CodeMachine CLI telemetry sessions: trace, log and metrics documents.

The functions that turn one serialized record into an internal record are pure and
raise :class:`~otel_replay.sources.common.InvalidInput` with a one-line reason;
:func:`read_codemachine` streams a classified document through them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from otel_replay.model import (
    SPAN_ID_KEY,
    TRACE_ID_KEY,
    FileProblem,
    FileStart,
    LogRecord,
    Origin,
    PlainLog,
    PlainLogs,
    ResourceAttrs,
    Signal,
    SourceItem,
    SpanEvent,
    SpanRecord,
)
from otel_replay.sources.common import (
    InvalidInput,
    checked,
    clean_attributes,
    clean_value,
    hrtime_to_ns,
    ms_to_ns,
    parse_hex_id,
    shown,
)
from otel_replay.sources.jsondoc import Document
from otel_replay.sources.jsontext import describe_json
from otel_replay.sources.plainlogs import CodeMachineLog, Known, TypedLog, as_dict, plain_log
from otel_replay.sources.rawdoc import numbered
from otel_replay.sources.resources import record_resource
from otel_replay.sources.streams import Stride

DEFAULT_SERVICE = "codemachine"
#: ``span.kind`` attribute values → opentelemetry.trace.SpanKind values.
SPAN_KINDS = {"internal": 0, "server": 1, "client": 2, "producer": 3, "consumer": 4}


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
    events = obj.get("events")
    events = [] if events == [] else _events(events, notes)
    kind = 0 if "span.kind" not in attributes else span_kind(attributes)
    # positional, in the order of SpanRecord's fields: twice as fast as keywords, once per span
    return SpanRecord(
        trace_id, span_id, parent_id, name, kind, start, end, code, message, attributes, events, resource, origin
    )


def _status(status: Any) -> tuple[int, str | None]:
    if status is None:
        return 0, None
    if not isinstance(status, dict):
        raise InvalidInput(f"status is {describe_json(status)}, expected an object")
    code = status.get("code", 0)
    if type(code) is not int or code not in (0, 1, 2):
        raise InvalidInput(
            f"status code {shown(code)} is not 0 (UNSET), 1 (OK) or 2 (ERROR)", "status code is unknown", code
        )
    message = status.get("message")
    if message is not None and not isinstance(message, str):
        raise InvalidInput(f"status message is {describe_json(message)}, expected a string")
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
            raise InvalidInput(f"event {i} is {describe_json(ev)}, expected an object", "an event is not an object")
        name = ev.get("name")
        if not isinstance(name, str):
            raise InvalidInput(
                f"event {i} has no name" if name is None else f"event {i} name is {describe_json(name)}",
                "an event name is missing or not a string",
            )
        if ev.get("time") is None:
            raise InvalidInput(f"event {i} ({name[:40]!r}) has no time", "an event has no time")
        out.append(
            SpanEvent(
                name,
                ms_to_ns(ev["time"], f"event {i} time"),
                clean_attributes(ev.get("attributes"), f"event {i} attributes", notes),
            )
        )
    return out


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
        raise InvalidInput(f"severityNumber {shown(sev)} outside 0..24", "severityNumber outside 0..24", sev)
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


def session_problems(doc: Document, source: str, signal: Signal) -> tuple[FileProblem, ...]:
    """A ``service`` that is not a string (the header keeps only scalars: an array or an
    object is in ``keys`` but not in ``header``)."""
    if "service" not in doc.keys:
        return ()
    service = doc.header.get("service")
    if "service" in doc.header and (service is None or isinstance(service, str)):
        return ()
    what = describe_json(service) if "service" in doc.header else "an array or an object"
    reason = f"'service' is {what}, expected a string; read as service {DEFAULT_SERVICE!r}"
    return (FileProblem(source, reason, signal),)


def read_codemachine(
    doc: Document, source: str, signal: Signal, stride: Stride | None = None, plain: frozenset[int] | None = None
) -> Iterator[SourceItem | PlainLogs]:
    """Stream the records of a classified CodeMachine trace or log document (metrics
    documents: :mod:`otel_replay.sources.codemachine_metrics`); with ``stride``, only its
    share of them (the others are decoded, not converted). With ``plain``, the plain log
    records but those at these indices come in blocks (:mod:`~otel_replay.sources.plainlogs`)."""
    resource = session_resource(doc)
    yield FileStart(source, signal, "codemachine")
    yield from session_problems(doc, source, signal)
    if plain is not None and signal is Signal.LOGS and stride is None:
        yield from _read_plain(doc, source, resource, plain)
        return
    notes: list[str] = []
    convert = span_from_codemachine if signal is Signal.TRACES else log_from_codemachine
    first, step = (0, 1) if stride is None else (stride.index, stride.of)
    for index, obj in numbered(doc.items, [0], first, step):
        origin = Origin(source, index)
        yield from checked(signal, origin, notes, convert, obj, resource, origin, notes)


#: Plain log records handed on at a time.
PLAIN_BLOCK = 1024


def _read_plain(
    doc: Document, source: str, resource: ResourceAttrs, checked_ones: frozenset[int]
) -> Iterator[SourceItem | PlainLogs]:
    """A log document's records in order: runs of plain ones (but those at
    ``checked_ones``, each the record it is) as blocks, any other converted as ever."""
    notes: list[str] = []
    known = Known(resource)
    block: list[PlainLog] = []
    alone = PlainLogs(source, [])  # makes a plain record the check must see (the reader's own record)
    for index, obj in enumerate(doc.items):
        if type(obj) is TypedLog or type(obj) is CodeMachineLog:
            found = plain_log(obj, index, known)
            if found is not None and index not in checked_ones:
                block.append(found)
                if len(block) == PLAIN_BLOCK:
                    yield PlainLogs(source, block)
                    block = []
                continue
            if found is None:
                obj = as_dict(obj)
        else:
            found = None
        if block:
            yield PlainLogs(source, block)
            block = []
        if found is not None:
            yield alone.record(found)
            continue
        origin = Origin(source, index)
        yield from checked(Signal.LOGS, origin, notes, log_from_codemachine, obj, resource, origin, notes)
    if block:
        yield PlainLogs(source, block)
