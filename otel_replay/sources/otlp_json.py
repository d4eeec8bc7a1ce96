"""OTLP/JSON input: one request object (``resourceSpans`` / ``resourceLogs`` /
``resourceMetrics``), pretty-printed or compact, and JSON Lines of such objects as the
OpenTelemetry Collector's file exporter writes them.

Values follow the OTLP/JSON rules of :mod:`otel_replay.sources.otlp_values` (hex ids,
64-bit integers as strings). The conversion functions are pure and raise
:class:`InvalidInput` with a one-line reason; metrics are read by
:mod:`otel_replay.sources.otlp_metrics`.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import msgspec
from opentelemetry.trace import TraceState

from otel_replay.model import (
    FileProblem,
    FileStart,
    InvalidRecord,
    LogRecord,
    Origin,
    ResourceAttrs,
    Scope,
    Signal,
    SourceItem,
    SpanEvent,
    SpanLink,
    SpanRecord,
)
from otel_replay.sources.common import (
    InvalidInput,
    Note,
    checked,
    json_array,
    json_object,
    json_string,
    scope_name_version,
)
from otel_replay.sources.discover import Part
from otel_replay.sources.jsondoc import TRUNCATED, Document
from otel_replay.sources.jsontext import describe_json
from otel_replay.sources.otlp_metrics import metric_items
from otel_replay.sources.otlp_values import (
    any_value,
    enum,
    frozen_attrs,
    hex_id,
    integer,
    key_values,
    optional_hex_id,
    optional_int,
)
from otel_replay.sources.outline import NESTED, StreamedRecords
from otel_replay.sources.rawdoc import MappedRecords, numbered
from otel_replay.sources.streams import Stride

OTLP_ARRAYS = {"resourceSpans": Signal.TRACES, "resourceLogs": Signal.LOGS, "resourceMetrics": Signal.METRICS}
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
_LINE_DECODER = msgspec.json.Decoder()


def _trace_state(value: Any, notes: list[str]) -> str:
    value = json_string(value, "traceState")
    if not value:
        return ""
    parsed = ",".join(f"{k}={v}" for k, v in TraceState.from_header([value]).items())
    if parsed != ",".join(part.strip() for part in value.split(",") if part.strip()):
        notes.append(
            Note(f"traceState {value[:60]!r} is not a valid W3C tracestate: sent as {parsed!r}", "traceState fixed")
        )
    return parsed


# -- records ---------------------------------------------------------------------------
def span_from_otlp(
    obj: Any, resource: ResourceAttrs, schema_url: str, scope: Scope, origin: Origin, notes: list[str]
) -> SpanRecord:
    if not isinstance(obj, dict):
        raise InvalidInput(f"span is {describe_json(obj)}, expected an object")
    trace_id = hex_id(obj.get("traceId"), 16, "traceId")
    span_id = hex_id(obj.get("spanId"), 8, "spanId")
    parent_id = optional_hex_id(obj.get("parentSpanId"), 8, "parentSpanId")
    name = json_string(obj.get("name"), "name")
    kind = enum(obj.get("kind"), _SPAN_KINDS, "kind")
    if kind == 0:
        notes.append("kind UNSPECIFIED sent as INTERNAL (the SDK has no unspecified kind)")
        kind = 1
    start = integer(obj.get("startTimeUnixNano", 0), "startTimeUnixNano")
    end = integer(obj.get("endTimeUnixNano", 0), "endTimeUnixNano")
    if end < start:
        raise InvalidInput("endTimeUnixNano is before startTimeUnixNano")
    status = json_object(obj.get("status"), "status")
    code = enum(status.get("code"), _STATUS_CODES, "status code")
    message = json_string(status.get("message"), "status message") or None
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
        attributes=key_values(obj.get("attributes"), "attributes", notes),
        events=[_event(ev, i, notes) for i, ev in enumerate(json_array(obj.get("events"), "events"))],
        resource=resource,
        origin=origin,
        scope=scope,
        resource_schema_url=schema_url,
        trace_state=_trace_state(obj.get("traceState"), notes),
        flags=optional_int(obj, "flags"),
        links=[_link(ln, i, notes) for i, ln in enumerate(json_array(obj.get("links"), "links"))],
        dropped_attributes=optional_int(obj, "droppedAttributesCount"),
        dropped_events=optional_int(obj, "droppedEventsCount"),
        dropped_links=optional_int(obj, "droppedLinksCount"),
    )


def _event(ev: Any, i: int, notes: list[str]) -> SpanEvent:
    if not isinstance(ev, dict):
        raise InvalidInput(f"event {i} is {describe_json(ev)}, expected an object", "an event is not an object")
    return SpanEvent(
        json_string(ev.get("name"), f"event {i} name"),
        integer(ev.get("timeUnixNano", 0), f"event {i} timeUnixNano"),
        key_values(ev.get("attributes"), f"event {i} attributes", notes),
        optional_int(ev, "droppedAttributesCount"),
    )


def _link(ln: Any, i: int, notes: list[str]) -> SpanLink:
    if not isinstance(ln, dict):
        raise InvalidInput(f"link {i} is {describe_json(ln)}, expected an object", "a link is not an object")
    if json_string(ln.get("traceState"), f"link {i} traceState"):
        notes.append(
            Note(
                f"link {i} traceState dropped: the OTLP exporter does not encode a link's trace state",
                "link traceState dropped",
            )
        )
    return SpanLink(
        hex_id(ln.get("traceId"), 16, f"link {i} traceId"),
        hex_id(ln.get("spanId"), 8, f"link {i} spanId"),
        "",
        key_values(ln.get("attributes"), f"link {i} attributes", notes),
        optional_int(ln, "droppedAttributesCount"),
        optional_int(ln, "flags"),
    )


def log_from_otlp(
    obj: Any, resource: ResourceAttrs, schema_url: str, scope: Scope, origin: Origin, notes: list[str]
) -> LogRecord:
    if not isinstance(obj, dict):
        raise InvalidInput(f"log record is {describe_json(obj)}, expected an object")
    text = json_string(obj.get("severityText"), "severityText") or None
    event_name = json_string(obj.get("eventName"), "eventName") or None
    return LogRecord(
        time_ns=integer(obj.get("timeUnixNano", 0), "timeUnixNano"),
        severity_number=enum(obj.get("severityNumber"), _SEVERITIES, "severityNumber"),
        severity_text=text,
        body=any_value(obj.get("body"), "body", notes),
        attributes=key_values(obj.get("attributes"), "attributes", notes),
        trace_id=optional_hex_id(obj.get("traceId"), 16, "traceId"),
        span_id=optional_hex_id(obj.get("spanId"), 8, "spanId"),
        resource=resource,
        origin=origin,
        observed_ns=integer(obj.get("observedTimeUnixNano", 0), "observedTimeUnixNano"),
        flags=optional_int(obj, "flags"),
        scope=scope,
        resource_schema_url=schema_url,
        event_name=event_name,
        dropped_attributes=optional_int(obj, "droppedAttributesCount"),
    )


def _scope(block: dict[str, Any], notes: list[str]) -> Scope:
    """The scope of a ``ScopeSpans``/``ScopeLogs`` block, with the block's schema URL."""
    obj, schema_url = block.get("scope"), json_string(block.get("schemaUrl"), "schemaUrl")
    if obj is None:
        return Scope("", None, schema_url)
    name, version = scope_name_version(obj)
    attributes = frozen_attrs(key_values(obj.get("attributes"), "scope attributes", notes))
    return Scope(name, version, schema_url, attributes)


# -- documents -------------------------------------------------------------------------
def read_otlp(
    doc: Document, source: str, stride: Stride | None = None, counter: list[int] | None = None
) -> Iterator[SourceItem]:
    """Stream the records of one OTLP/JSON request document; with ``stride``, only its
    share of the spans (the others are decoded, not converted; what concerns a resource
    group or scope block, the first share says). ``counter``: the records seen, all shares'."""
    assert doc.array_key is not None
    yield FileStart(source, OTLP_ARRAYS[doc.array_key], "otlp-json")
    counter = [0] if counter is None else counter
    for number, group in enumerate(doc.items):
        yield from _request_items(doc.array_key, number, group, source, counter, stride)


def _request_items(
    array_key: str, number: int, group: Any, source: str | PartLine, counter: list[int], stride: Stride | None = None
) -> Iterator[SourceItem]:
    """The records of entry ``number`` of ``array_key``: one ``ResourceSpans`` /
    ``ResourceLogs`` / ``ResourceMetrics``. ``counter`` numbers the records of the file."""
    signal = OTLP_ARRAYS[array_key]
    scoped_key, records_key = NESTED[array_key]
    notes: list[str] = []
    first_share = stride is None or stride.index == 0
    try:
        resource, schema_url, scoped = _resource_group(group, array_key, scoped_key, notes)
    except InvalidInput as exc:
        if first_share:
            yield InvalidRecord(signal, Origin(source, counter[0]), f"{exc}; its records are not read")
        return
    yield from _read_anyway(notes, source, signal, f"{array_key}[{number}]")
    for index, block in enumerate(scoped):
        try:
            if not isinstance(block, dict):
                raise InvalidInput(f"{scoped_key} entry is {describe_json(block)}, expected an object")
            scope = _scope(block, notes)
            records = block.get(records_key)
            if not isinstance(records, (StreamedRecords, MappedRecords)):  # read whole (not one by one)
                records = json_array(records, records_key)
        except InvalidInput as exc:
            notes.clear()
            if first_share:
                yield InvalidRecord(signal, Origin(source, counter[0]), f"{exc}; its records are not read")
            continue
        yield from _read_anyway(notes, source, signal, f"{array_key}[{number}] {scoped_key}[{index}]")
        if signal is Signal.METRICS:
            for obj in records:
                yield from metric_items(obj, resource, schema_url, scope, source, counter)
        else:
            yield from _records(signal, records, (resource, schema_url, scope), source, counter, stride)


def _resource_group(
    group: Any, array_key: str, scoped_key: str, notes: list[str]
) -> tuple[ResourceAttrs, str, list[Any]]:
    """A resource group's resource, schema URL and scope blocks."""
    if not isinstance(group, dict):
        raise InvalidInput(f"{array_key} entry is {describe_json(group)}, expected an object")
    res = json_object(group.get("resource"), "resource")
    resource = frozen_attrs(key_values(res.get("attributes"), "resource attributes", notes))
    schema_url = json_string(group.get("schemaUrl"), "schemaUrl")
    return resource, schema_url, json_array(group.get(scoped_key), scoped_key)


def _read_anyway(notes: list[str], source: str | PartLine, signal: Signal, where: str) -> tuple[FileProblem, ...]:
    """The notes about a resource or scope (read in a shape OTLP/JSON does not write) as
    one problem line: they concern every record of the group, so no record is named."""
    if not notes:
        return ()
    problem = FileProblem(str(source), f"{where}: {'; '.join(notes)}", signal)
    notes.clear()
    return (problem,)


def _records(
    signal: Signal,
    records: Iterable[Any],
    context: tuple[ResourceAttrs, str, Scope],
    source: str | PartLine,
    counter: list[int],
    stride: Stride | None = None,
) -> Iterator[SourceItem]:
    """The spans or log records of one scope block (of ``stride``'s share)."""
    convert = span_from_otlp if signal is Signal.TRACES else log_from_otlp
    resource, schema_url, scope = context
    notes: list[str] = []
    first, step = (0, 1) if stride is None else (stride.index, stride.of)
    for number, obj in numbered(records, counter, first, step):
        origin = Origin(source, number)
        yield from checked(signal, origin, notes, convert, obj, resource, schema_url, scope, origin, notes)


@dataclass(frozen=True, slots=True)
class PartLine:
    """``file:LINE`` for line ``number`` of the part of ``path`` that starts at byte
    ``start``: the lines before the part are counted the first time a name is shown."""

    path: str
    start: int
    number: int

    def __str__(self) -> str:
        return f"{self.path}:{lines_before(self.path, self.start) + self.number}"


def lines_before(path: str, offset: int) -> int:
    """How many lines of ``path`` start before the first line that starts at or after
    ``offset`` (the line that byte ``offset - 1`` is in counts as before)."""
    if offset == 0:
        return 0
    st = os.stat(path)
    return _count_lines_before(path, offset, st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=64)  # per part, once: a name is shown per problem and per --verbose batch
def _count_lines_before(path: str, offset: int, size: int, mtime_ns: int) -> int:
    count = 0
    chunk = b""
    with open(path, "rb") as fh:
        left = offset
        while left > 0:
            chunk = fh.read(min(left, 1 << 20))
            if not chunk:
                return count
            count += chunk.count(b"\n")
            left -= len(chunk)
    if not chunk.endswith(b"\n"):  # the part starts after the rest of that line
        count += 1
    return count


def read_otlp_lines(stream: BinaryIO, source: str, part: Part | None = None) -> Iterator[SourceItem]:
    """OTLP JSON Lines, one request object per line, each line decoded on its own (memory
    is bounded by the longest line). Records are named ``file:LINE[index]``.

    ``part``: the stream holds only the lines of that part of the file (see
    :func:`~otel_replay.sources.discover.discover`); a later part names its lines the same
    way, counting the lines before it only when a name is needed, and does not count the
    file again (its first part does: ``FileStart.counted``)."""
    started: set[Signal] = set()
    start = part.start if part is not None and part.index > 0 else None
    consumed = recovered = 0  # bytes of the lines so far; records of the lines so far
    for number, line in enumerate(stream, 1):
        consumed += len(line)
        if not line.strip():
            continue
        name: str | PartLine = f"{source}:{number}" if start is None else PartLine(source, start, number)
        try:
            obj = _LINE_DECODER.decode(line)
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            if not line.endswith(b"\n") and "truncated" in str(exc):  # the last line, cut short
                yield FileProblem(source, _cut_line(consumed, recovered, part))
                return
            reason = "not valid UTF-8 text" if isinstance(exc, UnicodeDecodeError) else f"not valid JSON: {exc}"
            yield FileProblem(str(name), f"{reason}; the line is skipped")
            continue
        key = next((k for k in OTLP_ARRAYS if isinstance(obj, dict) and k in obj), None)
        if key is None:
            what = describe_json(obj) if not isinstance(obj, dict) else "an object without resourceSpans/Logs/Metrics"
            yield FileProblem(str(name), f"line is {what}; skipped")
            continue
        signal = OTLP_ARRAYS[key]
        if signal not in started:
            started.add(signal)
            yield FileStart(source, signal, "otlp-jsonl", counted=start is None)
        if not isinstance(obj[key], list):
            yield FileProblem(str(name), f"'{key}' is {describe_json(obj[key])}, expected an array; skipped")
            continue
        counter = [0]
        for number, group in enumerate(obj[key]):
            yield from _request_items(key, number, group, name, counter)
        recovered += counter[0]


def _cut_line(consumed: int, recovered: int, part: Part | None) -> str:
    """The problem line of a JSON Lines file whose last line is cut short."""
    if part is not None:  # where the part starts in the file is not known here
        return f"{TRUNCATED}: the last line is cut; the lines before it were read"
    return f"{TRUNCATED}: cut at byte {consumed}, {recovered} records recovered"
