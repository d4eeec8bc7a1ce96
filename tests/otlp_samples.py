"""OTLP requests with every field the SDK data model carries set, written as OTLP/JSON
the way the Collector's file exporter writes it (hex ids, int64 as strings)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.metrics.v1 import metrics_pb2 as mpb
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from otel_replay.sinks.sdk import otlp_json_to_proto
from tests.helpers import write_json_lines

M = TypeVar("M", bound=Message)

T0 = 1_795_539_600_000_000_000  # 2026-11-24T17:00:00Z
ID_FIELDS = {"traceId", "spanId", "parentSpanId"}


def kv(key: str, value: Any) -> KeyValue:
    return KeyValue(key=key, value=av(value))


def av(value: Any) -> AnyValue:
    if value is None:
        return AnyValue()
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, bytes):
        return AnyValue(bytes_value=value)
    if isinstance(value, list):
        return AnyValue(array_value=ArrayValue(values=[av(v) for v in value]))
    if isinstance(value, dict):
        return AnyValue(kvlist_value=KeyValueList(values=[kv(k, v) for k, v in value.items()]))
    return AnyValue(string_value=value)


RICH_ATTRS = {
    "s": "text ✓",
    "i": -(2**63),
    "big": 2**63 - 1,
    "d": 2.5,
    "b": True,
    "bytes": b"\x00\xff",
    "arr": [1, 2, 3],
    "mixed": [1, "x", None, {"k": [True]}],
    "kv": {"a": {"b": 1.5}},
    "empty": None,
}


def trace_request(n_resources: int = 2, spans_per_scope: int = 3) -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    sid = 1
    for r in range(n_resources):
        rs = req.resource_spans.add(schema_url=f"https://opentelemetry.io/schemas/1.{r}.0")
        rs.resource.attributes.extend([kv("service.name", f"svc-{r}"), kv("z.first", 1), kv("a.last", [1.5])])
        for sc in range(2):
            ss = rs.scope_spans.add(schema_url="https://example.com/scope" if sc else "")
            ss.scope.name = f"lib-{sc}"
            if sc:
                ss.scope.version = "1.2.3"
                ss.scope.attributes.extend([kv("scope.attr", "x")])
            for _ in range(spans_per_scope):
                trace = (0xA0 + r).to_bytes(16, "big")
                span = ss.spans.add(
                    trace_id=trace,
                    span_id=sid.to_bytes(8, "big"),
                    parent_span_id=(sid + 1000).to_bytes(8, "big") if sid % 3 else b"",
                    trace_state="vendor=abc,other=1" if sid % 2 else "",
                    name=f"span {sid}",
                    kind=Span.SPAN_KIND_SERVER if sid % 2 else Span.SPAN_KIND_CLIENT,
                    start_time_unix_nano=T0 + sid * 1000,
                    end_time_unix_nano=T0 + sid * 1000 + 777,
                    dropped_attributes_count=sid % 4,
                    dropped_events_count=sid % 5,
                    dropped_links_count=sid % 2,
                    flags=0x300 if sid % 3 else 0x100,
                    status=Status(code=Status.STATUS_CODE_ERROR, message="boom")
                    if sid % 2
                    else Status(code=Status.STATUS_CODE_OK),
                )
                span.attributes.extend([kv(k, v) for k, v in RICH_ATTRS.items()])
                ev = span.events.add(name="exception", time_unix_nano=T0 + sid * 1000 + 5, dropped_attributes_count=2)
                ev.attributes.extend([kv("exception.message", "bad"), kv("n", 3)])
                span.events.add(name="bare", time_unix_nano=T0 + sid * 1000 + 6)
                link = span.links.add(
                    trace_id=(0xCC).to_bytes(16, "big"), span_id=(0xDD).to_bytes(8, "big"),
                    dropped_attributes_count=1, flags=0x300,
                )  # fmt: skip
                link.attributes.extend([kv("link.kind", "follows")])
                sid += 1
    return req


def logs_request() -> ExportLogsServiceRequest:
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add(schema_url="https://opentelemetry.io/schemas/1.9.0")
    rl.resource.attributes.extend([kv("service.name", "svc-logs"), kv("host.name", "h1")])
    sl = rl.scope_logs.add(schema_url="https://example.com/scope")
    sl.scope.name, sl.scope.version = "logger", "0.1"
    sl.scope.attributes.extend([kv("scope.attr", 7)])
    for i in range(4):
        rec = sl.log_records.add(
            time_unix_nano=T0 + i * 1_000_000,
            observed_time_unix_nano=T0 + i * 1_000_000 + 3 if i % 2 else 0,
            severity_number=9 + i,
            severity_text="INFO" if i else "",
            trace_id=(0xA0).to_bytes(16, "big") if i % 2 else b"",
            span_id=(i + 1).to_bytes(8, "big") if i % 2 else b"",
            flags=1 if i % 2 else 0,
            dropped_attributes_count=i,
            event_name="app.started" if i == 3 else "",
        )
        rec.body.CopyFrom(av({"msg": f"line {i}", "n": [i]} if i == 2 else f"line {i}"))
        rec.attributes.extend([kv(k, v) for k, v in RICH_ATTRS.items()])
    return req


def metrics_request() -> ExportMetricsServiceRequest:
    """Every metric kind the SDK can send, with every field it carries set: int and double
    values, delta and cumulative, (non-)monotonic sums, histograms with buckets and min/max,
    exponential histograms with both bucket sides, zero count and flags, exemplars."""
    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add(schema_url="https://opentelemetry.io/schemas/1.9.0")
    rm.resource.attributes.extend([kv("service.name", "svc-metrics"), kv("host.name", "h1")])
    sm = rm.scope_metrics.add(schema_url="https://example.com/scope")
    sm.scope.name, sm.scope.version = "meter", "2.0"
    sm.scope.attributes.extend([kv("scope.attr", True)])
    ex = mpb.Exemplar(
        time_unix_nano=T0 + 5, as_double=0.25, trace_id=(0xA0).to_bytes(16, "big"), span_id=(7).to_bytes(8, "big")
    )
    ex.filtered_attributes.extend([kv("user", "u1")])
    gauge = sm.metrics.add(name="queue.depth", description="Items waiting", unit="{item}")
    gauge.gauge.data_points.add(time_unix_nano=T0 + 1, as_int=-42).attributes.extend([kv("queue", "a")])
    gauge.gauge.data_points.add(time_unix_nano=T0 + 2, as_double=1.5, exemplars=[ex])
    counter = sm.metrics.add(name="requests", unit="1")
    counter.sum.aggregation_temporality = mpb.AGGREGATION_TEMPORALITY_CUMULATIVE
    counter.sum.is_monotonic = True
    for i in range(3):
        point = counter.sum.data_points.add(start_time_unix_nano=T0, time_unix_nano=T0 + 10 * (i + 1), as_int=i * 7)
        point.attributes.extend([kv(k, v) for k, v in RICH_ATTRS.items()])
    updown = sm.metrics.add(name="balance", description="delta, not monotonic")
    updown.sum.aggregation_temporality = mpb.AGGREGATION_TEMPORALITY_DELTA
    updown.sum.data_points.add(start_time_unix_nano=T0 + 1, time_unix_nano=T0 + 9, as_double=-3.25)
    hist = sm.metrics.add(name="latency", unit="ms")
    hist.histogram.aggregation_temporality = mpb.AGGREGATION_TEMPORALITY_DELTA
    hist.histogram.data_points.add(
        start_time_unix_nano=T0, time_unix_nano=T0 + 60, count=6, sum=123.5, bucket_counts=[1, 2, 3],
        explicit_bounds=[10.0, 100.0], min=0.5, max=99.0, exemplars=[ex],
    )  # fmt: skip
    hist.histogram.data_points.add(start_time_unix_nano=T0, time_unix_nano=T0 + 61, count=0)  # no sum, min, max
    expo = sm.metrics.add(name="sizes", unit="By")
    expo.exponential_histogram.aggregation_temporality = mpb.AGGREGATION_TEMPORALITY_CUMULATIVE
    expo.exponential_histogram.data_points.add(
        start_time_unix_nano=T0, time_unix_nano=T0 + 70, count=9, sum=1e6, scale=3, zero_count=2,
        positive=mpb.ExponentialHistogramDataPoint.Buckets(offset=-2, bucket_counts=[1, 0, 4]),
        negative=mpb.ExponentialHistogramDataPoint.Buckets(offset=5, bucket_counts=[2]),
        flags=1, min=-8.0, max=9000.0,
    ).attributes.extend([kv("kind", "blob")])  # fmt: skip
    return req


def to_otlp_json(message: Message) -> dict[str, Any]:
    """OTLP/JSON as the spec writes it: protobuf JSON mapping, but ids in hex."""
    doc = json_format.MessageToDict(message)  # enums as names, int64 as strings

    def fix(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ID_FIELDS and isinstance(value, str):
                    node[key] = base64.b64decode(value).hex()
                else:
                    fix(value)
        elif isinstance(node, list):
            for item in node:
                fix(item)

    fix(doc)
    return doc


def write_lines(path: Path, messages: list[Message]) -> Path:
    """An OTLP JSON Lines file: one request on each line."""
    return write_json_lines(path, [to_otlp_json(m) for m in messages])


def read_lines(path: Path, message_type: type[M]) -> list[M]:
    """The OTLP/JSON lines of ``path`` (a --output file, say) as ``message_type`` messages."""
    with path.open(encoding="utf-8") as fh:
        return [otlp_json_to_proto(json.loads(line), message_type()) for line in fh]


def spans_in(requests: list[ExportTraceServiceRequest]) -> list[Span]:
    return [span for r in requests for rs in r.resource_spans for ss in rs.scope_spans for span in ss.spans]


def renumbered(request: ExportTraceServiceRequest, n: int) -> ExportTraceServiceRequest:
    """``request`` with every span id moved up by ``100 * n`` (distinct ids for copy n)."""
    for span in spans_in([request]):
        span.span_id = (int.from_bytes(span.span_id, "big") + 100 * n).to_bytes(8, "big")
    return request


def _flatten(requests: list[Any], groups: str, scoped: str, records: str) -> list[tuple[bytes, ...]]:
    """Every record with the resource and scope it came with, serialized for comparison
    (the grouping of a request into Resource*/Scope* blocks is not compared)."""
    out = []
    for req in requests:
        for group in getattr(req, groups):
            for block in getattr(group, scoped):
                for rec in getattr(block, records):
                    out.append((
                        group.resource.SerializeToString(), group.schema_url.encode(),
                        block.scope.SerializeToString(), block.schema_url.encode(),
                        rec.SerializeToString(deterministic=True),
                    ))  # fmt: skip
    return sorted(out, key=lambda t: t[-1])


def flatten_spans(requests: list[ExportTraceServiceRequest]) -> list[tuple[bytes, ...]]:
    return _flatten(requests, "resource_spans", "scope_spans", "spans")


def flatten_logs(requests: list[ExportLogsServiceRequest]) -> list[tuple[bytes, ...]]:
    return _flatten(requests, "resource_logs", "scope_logs", "log_records")


def metrics_of(requests: list[ExportMetricsServiceRequest]) -> list[Any]:
    return [m for req in requests for rm in req.resource_metrics for sm in rm.scope_metrics for m in sm.metrics]


def points_of(metric: Any) -> Any:
    return getattr(metric, metric.WhichOneof("data")).data_points


def flatten_points(requests: list[ExportMetricsServiceRequest]) -> list[tuple[bytes, ...]]:
    """Every data point with its resource, scope and metric (name, description, unit,
    kind, temporality, monotonicity; the metric's points are compared one by one)."""
    out = []
    for req in requests:
        for rm in req.resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    data = getattr(metric, metric.WhichOneof("data"))
                    shape = (metric.WhichOneof("data"), getattr(data, "aggregation_temporality", 0),
                             getattr(data, "is_monotonic", False))  # fmt: skip
                    head = f"{metric.name}|{metric.description}|{metric.unit}|{shape}".encode()
                    for point in data.data_points:
                        out.append((
                            rm.resource.SerializeToString(), rm.schema_url.encode(),
                            sm.scope.SerializeToString(), sm.schema_url.encode(),
                            head, point.SerializeToString(deterministic=True),
                        ))  # fmt: skip
    return sorted(out)


__all__ = [
    "LogRecord",
    "flatten_logs",
    "flatten_points",
    "flatten_spans",
    "logs_request",
    "metrics_of",
    "metrics_request",
    "points_of",
    "to_otlp_json",
    "trace_request",
]
