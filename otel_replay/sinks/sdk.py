"""Internal records → OpenTelemetry SDK objects, and OTLP protobuf → OTLP/JSON.

Pure conversions shared by every sink that speaks OTLP (the exporter sink and the
file writer), so what is written to a file is exactly what would have been sent.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message
from opentelemetry._logs import LogRecord as ApiLogRecord
from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk.metrics import Exemplar as SdkExemplar
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Buckets,
    ExponentialHistogram,
    ExponentialHistogramDataPoint,
    Gauge,
    Histogram,
    HistogramDataPoint,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.metrics.export import Metric as SdkMetric
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

from otel_replay import __version__
from otel_replay.model import (
    Exemplar,
    ExponentialHistogramValue,
    HistogramValue,
    LogRecord,
    Metric,
    MetricKind,
    MetricPoint,
    Record,
    ResourceAttrs,
    Scope,
    SpanRecord,
    thaw,
)

SCOPE = InstrumentationScope("otel-replay", __version__)
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_NO_FLAGS = TraceFlags(0)
_REMOTE = 0x200  # SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK
_KINDS = {k.value: k for k in SpanKind}
_STATUS = {0: Status(StatusCode.UNSET), 1: Status(StatusCode.OK)}
#: OTLP/JSON fields that hold ids: hex in OTLP/JSON, base64 in protobuf's canonical JSON.
ID_FIELDS = frozenset({"traceId", "spanId", "parentSpanId"})


class SharedResource(Resource):
    """A resource that every record of it shares. The SDK derives a resource's hash from
    the JSON of its attributes on each call, and the official encoder hashes each span's
    resource to group the batch: about 5 µs per span, paid once here. Equality is the SDK's."""

    def __init__(self, attributes: Any, schema_url: str | None = None) -> None:
        super().__init__(attributes, schema_url)
        self._shared_hash = super().__hash__()

    def __hash__(self) -> int:
        return self._shared_hash


class ResourceCache:
    """One SDK ``Resource`` per distinct resource (built with ``Resource(...)``, never
    ``Resource.create``, which would add the replayer's own SDK attributes), and one
    ``InstrumentationScope`` per distinct scope: built once, shared by every record."""

    def __init__(self) -> None:
        self._cache: dict[tuple[ResourceAttrs, str], Resource] = {}
        self._scopes: dict[Scope, InstrumentationScope] = {}

    def get(self, attrs: ResourceAttrs, schema_url: str = "") -> Resource:
        res = self._cache.get((attrs, schema_url))
        if res is None:
            res = self._cache[(attrs, schema_url)] = SharedResource({k: thaw(v) for k, v in attrs}, schema_url or None)
        return res

    def scope(self, scope: Scope | None) -> InstrumentationScope:
        if scope is None:
            return SCOPE
        sdk = self._scopes.get(scope)
        if sdk is None:
            attrs = {k: thaw(v) for k, v in scope.attributes} or None
            sdk = self._scopes[scope] = InstrumentationScope(scope.name, scope.version, scope.schema_url or None, attrs)
        return sdk

    def readable_span(self, rec: SpanRecord) -> ReadableSpan:
        return to_readable_span(rec, self.get(rec.resource, rec.resource_schema_url), self.scope(rec.scope))

    def readable_log(self, rec: LogRecord) -> ReadableLogRecord:
        return to_readable_log(rec, self.get(rec.resource, rec.resource_schema_url), self.scope(rec.scope))

    def export_items(self, batch: Sequence[Record]) -> Any:
        """What the official exporter of the batch's signal takes: a list of ``ReadableSpan``
        or ``ReadableLogRecord``, or one ``MetricsData``."""
        first = batch[0]
        if isinstance(first, SpanRecord):
            return [self.readable_span(r) for r in batch]  # type: ignore[arg-type]
        if isinstance(first, LogRecord):
            return [self.readable_log(r) for r in batch]  # type: ignore[arg-type]
        return self.metrics_data(batch)  # type: ignore[arg-type]

    def metrics_data(self, points: Sequence[MetricPoint]) -> MetricsData:
        """Points → one ``MetricsData``: one ``ResourceMetrics`` per resource, one
        ``ScopeMetrics`` per scope, one ``Metric`` per definition, in first-seen order (the
        encoder merges nothing itself: it keys resources and scopes by identity)."""
        tree: dict[Resource, dict[InstrumentationScope, dict[Metric, list[Any]]]] = {}
        for p in points:
            scopes = tree.setdefault(self.get(p.resource, p.resource_schema_url), {})
            metrics = scopes.setdefault(self.scope(p.scope), {})
            metrics.setdefault(p.metric, []).append(to_sdk_point(p))
        resource_metrics = []
        for resource, scopes in tree.items():
            blocks = [ScopeMetrics(scope, _metrics(ms), scope.schema_url or "") for scope, ms in scopes.items()]
            resource_metrics.append(ResourceMetrics(resource, blocks, resource.schema_url))
        return MetricsData(resource_metrics)


# The SDK derives dropped counts from its own limits, which a replay never applied; these
# subclasses report the counts the file recorded instead (0 for CodeMachine input).
class _ReplayedEvent(Event):
    def __init__(self, name: str, attributes: Any, timestamp: int, dropped: int) -> None:
        super().__init__(name, attributes, timestamp)
        self._dropped = dropped

    @property
    def dropped_attributes(self) -> int:
        return self._dropped


class _ReplayedLink(Link):
    def __init__(self, context: SpanContext, attributes: Any, dropped: int) -> None:
        super().__init__(context, attributes)
        self._dropped = dropped

    @property
    def dropped_attributes(self) -> int:
        return self._dropped


class _ReplayedSpan(ReadableSpan):
    def __init__(self, dropped: tuple[int, int, int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._dropped = dropped

    @property
    def dropped_attributes(self) -> int:
        return self._dropped[0]

    @property
    def dropped_events(self) -> int:
        return self._dropped[1]

    @property
    def dropped_links(self) -> int:
        return self._dropped[2]


@dataclass(frozen=True)
class _ReplayedLogRecord(ReadableLogRecord):
    dropped: int = 0

    @property
    def dropped_attributes(self) -> int:
        return self.dropped


def _trace_state(header: str) -> TraceState | None:
    return TraceState.from_header([header]) if header else None


def _flags(flags: int) -> TraceFlags:
    return _SAMPLED if flags == 0 else TraceFlags(flags & 0xFF)


def to_readable_span(rec: SpanRecord, resource: Resource, scope: InstrumentationScope = SCOPE) -> ReadableSpan:
    state = _trace_state(rec.trace_state)
    trace_flags = _flags(rec.flags)
    context = SpanContext(rec.trace_id, rec.span_id, is_remote=False, trace_flags=trace_flags, trace_state=state)
    parent = (
        SpanContext(rec.trace_id, rec.parent_span_id, is_remote=bool(rec.flags & _REMOTE), trace_flags=trace_flags)
        if rec.parent_span_id
        else None
    )
    status = _STATUS.get(rec.status_code) or Status(StatusCode.ERROR, rec.status_message)
    events = [_ReplayedEvent(e.name, e.attributes, e.time_ns, e.dropped_attributes) for e in rec.events]
    links = [
        _ReplayedLink(
            SpanContext(
                ln.trace_id, ln.span_id, is_remote=bool(ln.flags & _REMOTE), trace_flags=_flags(ln.flags),
                trace_state=_trace_state(ln.trace_state),
            ),
            ln.attributes,
            ln.dropped_attributes,
        )
        for ln in rec.links
    ]  # fmt: skip
    return _ReplayedSpan(
        (rec.dropped_attributes, rec.dropped_events, rec.dropped_links),
        name=rec.name,
        context=context,
        parent=parent,
        resource=resource,
        attributes=rec.attributes,
        events=events,
        links=links,
        kind=_KINDS[rec.kind],
        status=status,
        start_time=rec.start_ns,
        end_time=rec.end_ns,
        instrumentation_scope=scope,
    )


def log_trace_flags(flags: int | None) -> TraceFlags:
    """The W3C trace flags a log record is sent with: those the file recorded (OTLP
    ``flags`` bits 0-7; bits 8-31 are reserved), else none. A CodeMachine log record records
    no flags, and its span may be one the recording sampler dropped (at trace level 1):
    nothing says it was sampled, so it is not marked so."""
    return _NO_FLAGS if not flags else TraceFlags(flags & 0xFF)


def to_readable_log(rec: LogRecord, resource: Resource, scope: InstrumentationScope = SCOPE) -> ReadableLogRecord:
    flags = log_trace_flags(rec.flags)
    log = ApiLogRecord(
        timestamp=rec.time_ns,
        observed_timestamp=rec.time_ns if rec.observed_ns is None else rec.observed_ns,
        trace_id=rec.trace_id,
        span_id=rec.span_id,
        trace_flags=flags,
        severity_text=rec.severity_text,
        severity_number=SeverityNumber(rec.severity_number),
        body=rec.body,
        attributes=rec.attributes,
        event_name=rec.event_name,
    )
    return _ReplayedLogRecord(log, resource, scope, None, rec.dropped_attributes)


def _metrics(metrics: dict[Metric, list[Any]]) -> list[SdkMetric]:
    return [to_sdk_metric(m, points) for m, points in metrics.items()]


def _sdk_exemplars(exemplars: list[Exemplar]) -> list[SdkExemplar]:
    return [
        SdkExemplar(e.attributes or None, e.value, e.time_ns, e.span_id or None, e.trace_id or None) for e in exemplars
    ]


def to_sdk_point(p: MetricPoint) -> Any:
    """One point as the SDK data point of its metric's kind."""
    exemplars = _sdk_exemplars(p.exemplars) if p.exemplars else []
    value = p.value
    if isinstance(value, HistogramValue):
        return HistogramDataPoint(
            p.attributes, p.start_ns, p.time_ns, value.count, value.sum,  # type: ignore[arg-type]
            value.bucket_counts, value.explicit_bounds, value.min, value.max, exemplars,  # type: ignore[arg-type]
        )  # fmt: skip
    if isinstance(value, ExponentialHistogramValue):
        return ExponentialHistogramDataPoint(
            p.attributes, p.start_ns, p.time_ns, value.count, value.sum, value.scale,  # type: ignore[arg-type]
            value.zero_count, Buckets(value.positive_offset, value.positive_counts),
            Buckets(value.negative_offset, value.negative_counts), value.flags, value.min, value.max,  # type: ignore[arg-type]
            exemplars,
        )  # fmt: skip
    return NumberDataPoint(p.attributes, p.start_ns, p.time_ns, value, exemplars)


def to_sdk_metric(metric: Metric, points: list[Any]) -> SdkMetric:
    temporality = AggregationTemporality(metric.temporality)
    data: Any
    if metric.kind is MetricKind.GAUGE:
        data = Gauge(points)
    elif metric.kind is MetricKind.SUM:
        data = Sum(points, temporality, metric.monotonic)
    elif metric.kind is MetricKind.HISTOGRAM:
        data = Histogram(points, temporality)
    else:
        data = ExponentialHistogram(points, temporality)
    return SdkMetric(metric.name, metric.description, metric.unit, data)


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
