"""Internal records → OpenTelemetry SDK objects, and OTLP protobuf → OTLP/JSON.

Pure conversions shared by every sink that speaks OTLP (the exporter sink and the
file writer), so what is written to a file is exactly what would have been sent.
"""

from __future__ import annotations

import base64
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message
from opentelemetry._logs import LogRecord as ApiLogRecord
from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from otel_replay import __version__
from otel_replay.model import LogRecord, ResourceAttrs, SpanRecord, thaw

SCOPE = InstrumentationScope("otel-replay", __version__)
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_KINDS = {k.value: k for k in SpanKind}
_STATUS = {0: Status(StatusCode.UNSET), 1: Status(StatusCode.OK)}
#: OTLP/JSON fields that hold ids: hex in OTLP/JSON, base64 in protobuf's canonical JSON.
ID_FIELDS = frozenset({"traceId", "spanId", "parentSpanId"})


class ResourceCache:
    """One SDK ``Resource`` per distinct resource (built with ``Resource(...)``, never
    ``Resource.create``, which would add the replayer's own SDK attributes)."""

    def __init__(self) -> None:
        self._cache: dict[ResourceAttrs, Resource] = {}

    def get(self, attrs: ResourceAttrs) -> Resource:
        res = self._cache.get(attrs)
        if res is None:
            res = self._cache[attrs] = Resource({k: thaw(v) for k, v in attrs})
        return res


def to_readable_span(rec: SpanRecord, resource: Resource, scope: InstrumentationScope = SCOPE) -> ReadableSpan:
    context = SpanContext(rec.trace_id, rec.span_id, is_remote=False, trace_flags=_SAMPLED)
    parent = (
        SpanContext(rec.trace_id, rec.parent_span_id, is_remote=False, trace_flags=_SAMPLED)
        if rec.parent_span_id
        else None
    )
    status = _STATUS.get(rec.status_code) or Status(StatusCode.ERROR, rec.status_message)
    return ReadableSpan(
        name=rec.name,
        context=context,
        parent=parent,
        resource=resource,
        attributes=rec.attributes,
        events=[Event(e.name, e.attributes, e.time_ns) for e in rec.events],
        kind=_KINDS[rec.kind],
        status=status,
        start_time=rec.start_ns,
        end_time=rec.end_ns,
        instrumentation_scope=scope,
    )


def to_readable_log(rec: LogRecord, resource: Resource, scope: InstrumentationScope = SCOPE) -> ReadableLogRecord:
    log = ApiLogRecord(
        timestamp=rec.time_ns,
        observed_timestamp=rec.time_ns,
        trace_id=rec.trace_id,
        span_id=rec.span_id,
        trace_flags=_SAMPLED if rec.trace_id else TraceFlags(0),
        severity_text=rec.severity_text,
        severity_number=SeverityNumber(rec.severity_number),
        body=rec.body,
        attributes=rec.attributes,
    )
    return ReadableLogRecord(log_record=log, resource=resource, instrumentation_scope=scope)


# -- size estimate ------------------------------------------------------------------------
def _value_bytes(value: Any) -> int:
    """An upper bound of an AnyValue's encoded size (tag, length prefix and payload)."""
    if isinstance(value, str):
        n = len(value) if value.isascii() else len(value.encode("utf-8", "surrogatepass"))
        return n + 8
    if isinstance(value, (bool, int, float)) or value is None:
        return 14
    if isinstance(value, (list, tuple)):
        return 10 + sum(_value_bytes(v) for v in value)
    if isinstance(value, dict):
        return 10 + _attrs_bytes(value)
    return 16 + len(str(value))


def _attrs_bytes(attrs: dict[str, Any]) -> int:
    total = 0
    for key, value in attrs.items():
        total += 12 + len(key) + _value_bytes(value)
    return total


def estimate_span_bytes(rec: SpanRecord) -> int:
    """Never less than the span's share of an encoded ExportTraceServiceRequest."""
    size = 110 + len(rec.name.encode()) + _attrs_bytes(rec.attributes)
    if rec.status_message:
        size += 8 + len(rec.status_message.encode())
    for ev in rec.events:
        size += 30 + len(ev.name.encode()) + _attrs_bytes(ev.attributes)
    return size


def estimate_log_bytes(rec: LogRecord) -> int:
    """Never less than the log record's share of an encoded ExportLogsServiceRequest."""
    return 90 + _value_bytes(rec.body) + _attrs_bytes(rec.attributes) + len(rec.severity_text or "")


def estimate_resource_bytes(attrs: ResourceAttrs) -> int:
    """Resource plus scope wrapper overhead, once per distinct resource in a request."""
    return 64 + len(SCOPE.name) + len(SCOPE.version or "") + _attrs_bytes({k: thaw(v) for k, v in attrs})


# -- OTLP/JSON ------------------------------------------------------------------------------
def _ids_to_hex(node: Any) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ID_FIELDS and isinstance(value, str):
                node[key] = base64.b64decode(value).hex()
            else:
                _ids_to_hex(value)
    elif isinstance(node, list):
        for item in node:
            _ids_to_hex(item)


def _ids_to_base64(node: Any) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ID_FIELDS and isinstance(value, str):
                node[key] = base64.b64encode(bytes.fromhex(value)).decode()
            else:
                _ids_to_base64(value)
    elif isinstance(node, list):
        for item in node:
            _ids_to_base64(item)


def proto_to_otlp_json(message: Message) -> dict[str, Any]:
    """An OTLP request message as OTLP/JSON: lowerCamelCase names, enums as integers,
    64-bit integers as decimal strings, trace and span ids as hex (not base64)."""
    doc = json_format.MessageToDict(message, use_integers_for_enums=True)
    _ids_to_hex(doc)
    return doc


def otlp_json_to_proto(doc: dict[str, Any], message: Message) -> Message:
    """Parse OTLP/JSON (hex ids) into ``message``; the inverse of :func:`proto_to_otlp_json`."""
    import copy

    doc = copy.deepcopy(doc)
    _ids_to_base64(doc)
    json_format.ParseDict(doc, message, ignore_unknown_fields=True)
    return message
