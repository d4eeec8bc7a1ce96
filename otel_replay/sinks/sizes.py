"""How many bytes a record adds to an OTLP export request, as an upper bound, and the one
place a record joins a request (the OTLP sink and the OTLP/JSON file sink batch alike)."""

from __future__ import annotations

import functools
from collections.abc import Hashable
from typing import Any

from otel_replay.model import (
    ExponentialHistogramValue,
    HistogramValue,
    LogRecord,
    Metric,
    MetricPoint,
    Record,
    ResourceAttrs,
    Scope,
    Signal,
    SpanRecord,
    thaw,
)
from otel_replay.sinks.batching import Batcher
from otel_replay.sinks.sdk import SCOPE
from otel_replay.stats import RunStats

#: The fixed bytes of an export request around its resources.
REQUEST_OVERHEAD = 64


def add_to_request(
    batcher: Batcher[Record], record: Record, stats: RunStats, signal: Signal, verb: str = "sent"
) -> None:
    """Batch a record for an OTLP request, bounded by its encoded size; a record that
    cannot fit in a request even alone is refused here (the exporter would drop it)."""
    size = estimate_bytes(record)
    group, group_bytes = request_group(record)
    if batcher.fits_alone(size, group_bytes):
        batcher.add(record, size, group, group_bytes)
    else:
        stats.too_large(signal, record.origin, size + group_bytes, "--max-request-bytes", batcher.max_bytes, verb)


_SCALARS = frozenset({bool, int, float, type(None)})


def _value_bytes(value: Any) -> int:
    """An upper bound of an AnyValue's encoded size (tag, length prefix and payload)."""
    kind = type(value)  # the common cases first, by exact type (this runs for every value)
    if kind is str:
        return (len(value) if value.isascii() else len(value.encode("utf-8", "surrogatepass"))) + 8
    if kind in _SCALARS:
        return 14
    if kind is list:
        return 10 + sum(map(_value_bytes, value))
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
    return 12 * len(attrs) + sum(map(len, attrs)) + sum(map(_value_bytes, attrs.values()))


def estimate_span_bytes(rec: SpanRecord) -> int:
    """Never less than the span's share of an encoded ExportTraceServiceRequest."""
    size = 110 + len(rec.name.encode()) + _attrs_bytes(rec.attributes)
    if rec.status_message:
        size += 8 + len(rec.status_message.encode())
    for ev in rec.events:
        size += 30 + len(ev.name.encode()) + _attrs_bytes(ev.attributes)
    if rec.links:
        size += len(rec.trace_state) + sum(60 + _attrs_bytes(ln.attributes) for ln in rec.links)
    return size


def estimate_log_bytes(rec: LogRecord) -> int:
    """Never less than the log record's share of an encoded ExportLogsServiceRequest."""
    return 90 + _value_bytes(rec.body) + _attrs_bytes(rec.attributes) + len(rec.severity_text or "")


def estimate_point_bytes(rec: MetricPoint) -> int:
    """Never less than the data point's share of an encoded ExportMetricsServiceRequest."""
    size = 40 + _attrs_bytes(rec.attributes)
    value = rec.value
    if isinstance(value, HistogramValue):
        size += 40 + 11 * (len(value.bucket_counts) + len(value.explicit_bounds))
    elif isinstance(value, ExponentialHistogramValue):
        size += 60 + 11 * (len(value.positive_counts) + len(value.negative_counts))
    for ex in rec.exemplars:
        size += 60 + _attrs_bytes(ex.attributes)
    return size


def estimate_bytes(rec: Record) -> int:
    """Never less than the record's share of an encoded export request."""
    if isinstance(rec, SpanRecord):
        return estimate_span_bytes(rec)
    if isinstance(rec, LogRecord):
        return estimate_log_bytes(rec)
    return estimate_point_bytes(rec)


def request_group(rec: Record) -> tuple[Hashable, int]:
    """The wrapper a record shares with others in a request (resource and scope, and for a
    data point its metric) and an upper bound of that wrapper's encoded bytes."""
    group = (rec.resource, rec.resource_schema_url, rec.scope)
    size = estimate_resource_bytes(rec.resource, rec.scope)
    if isinstance(rec, MetricPoint):
        return (*group, rec.metric), size + estimate_metric_bytes(rec.metric)
    return group, size


@functools.lru_cache(maxsize=4096)
def estimate_metric_bytes(metric: Metric) -> int:
    """A metric's wrapper (name, description, unit, kind), once per metric in a request."""
    return 24 + len(metric.name.encode()) + len(metric.description.encode()) + len(metric.unit.encode())


@functools.lru_cache(maxsize=4096)
def estimate_resource_bytes(attrs: ResourceAttrs, scope: Scope | None = None) -> int:
    """Resource plus scope wrapper overhead, once per distinct (resource, scope) in a request."""
    scope_bytes = len(SCOPE.name) + len(SCOPE.version or "")
    if scope is not None:
        scope_bytes = (
            len(scope.name)
            + len(scope.version or "")
            + len(scope.schema_url)
            + 2 * _attrs_bytes({k: thaw(v) for k, v in scope.attributes})
        )
    return 96 + scope_bytes + _attrs_bytes({k: thaw(v) for k, v in attrs})
