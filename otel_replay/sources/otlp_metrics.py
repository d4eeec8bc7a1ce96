"""OTLP/JSON metrics: one ``Metric`` (gauge, sum, histogram, exponential histogram) →
its data points as :class:`MetricPoint` records.

Lossless for what the OpenTelemetry SDK's metrics data model carries. What it cannot
carry is reported per point (``Adjusted``: the point is sent without it) or refused
(``summary``: the SDK has no summary type); see docs/lossless.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from otel_replay.model import (
    Exemplar,
    ExponentialHistogramValue,
    HistogramValue,
    InvalidRecord,
    Metric,
    MetricKind,
    MetricPoint,
    Origin,
    ResourceAttrs,
    Scope,
    Signal,
    SourceItem,
)
from otel_replay.sources.common import (
    INT64_MAX,
    INT64_MIN,
    InvalidInput,
    Note,
    checked,
    json_array,
    json_object,
    json_string,
)
from otel_replay.sources.jsontext import describe_json
from otel_replay.sources.otlp_values import (
    double,
    enum,
    integer,
    key_values,
    optional_hex_id,
    optional_int,
)

#: OTLP/JSON field of each metric data kind.
KINDS = {
    "gauge": MetricKind.GAUGE,
    "sum": MetricKind.SUM,
    "histogram": MetricKind.HISTOGRAM,
    "exponentialHistogram": MetricKind.EXPONENTIAL_HISTOGRAM,
}
_TEMPORALITY = {
    "AGGREGATION_TEMPORALITY_UNSPECIFIED": 0,
    "AGGREGATION_TEMPORALITY_DELTA": 1,
    "AGGREGATION_TEMPORALITY_CUMULATIVE": 2,
}
_NO_RECORDED_VALUE = 1  # DataPointFlags.FLAG_NO_RECORDED_VALUE


def _optional_double(obj: dict[str, Any], key: str) -> float | None:
    return None if obj.get(key) is None else double(obj[key], key)


def _number_value(obj: dict[str, Any], field: str) -> int | float:
    if obj.get("asInt") is not None:
        return integer(obj["asInt"], f"{field} asInt", INT64_MIN, INT64_MAX)
    if obj.get("asDouble") is not None:
        return double(obj["asDouble"], f"{field} asDouble")
    raise InvalidInput(f"{field} has neither asInt nor asDouble")


def _counts(value: Any, field: str) -> list[int]:
    return [integer(v, field) for v in json_array(value, field)]


def _buckets(obj: dict[str, Any], side: str) -> tuple[int, list[int]]:
    buckets = json_object(obj.get(side), side)
    offset = integer(buckets.get("offset", 0), f"{side}.offset", -(2**31), 2**31 - 1)
    return offset, _counts(buckets.get("bucketCounts"), f"{side}.bucketCounts")


def _exemplar(obj: Any, i: int, notes: list[str]) -> Exemplar:
    if not isinstance(obj, dict):
        raise InvalidInput(f"exemplar {i} is {describe_json(obj)}, expected an object", "an exemplar is not an object")
    trace_id = optional_hex_id(obj.get("traceId"), 16, f"exemplar {i} traceId")
    span_id = optional_hex_id(obj.get("spanId"), 8, f"exemplar {i} spanId")
    if bool(trace_id) != bool(span_id):
        notes.append(
            Note(
                f"exemplar {i}: a trace id without a span id (or the reverse) is dropped by the exporter",
                "exemplar id without its pair dropped",
            )
        )
        trace_id = span_id = 0
    return Exemplar(
        integer(obj.get("timeUnixNano", 0), f"exemplar {i} timeUnixNano"),
        _number_value(obj, f"exemplar {i}"),
        key_values(obj.get("filteredAttributes"), f"exemplar {i} filteredAttributes", notes),
        trace_id,
        span_id,
    )


def _histogram(obj: dict[str, Any]) -> HistogramValue:
    counts = _counts(obj.get("bucketCounts"), "bucketCounts")
    bounds = [double(b, "explicitBounds") for b in json_array(obj.get("explicitBounds"), "explicitBounds")]
    return HistogramValue(
        integer(obj.get("count", 0), "count"),
        _optional_double(obj, "sum"),
        counts,
        bounds,
        _optional_double(obj, "min"),
        _optional_double(obj, "max"),
    )


def _exponential_histogram(obj: dict[str, Any], flags: int, notes: list[str]) -> ExponentialHistogramValue:
    if obj.get("zeroThreshold") is not None and double(obj["zeroThreshold"], "zeroThreshold"):
        notes.append("zeroThreshold dropped: the SDK's exponential histogram has none")
    positive, negative = _buckets(obj, "positive"), _buckets(obj, "negative")
    return ExponentialHistogramValue(
        integer(obj.get("count", 0), "count"),
        _optional_double(obj, "sum"),
        integer(obj.get("scale", 0), "scale", -(2**31), 2**31 - 1),
        integer(obj.get("zeroCount", 0), "zeroCount"),
        positive[0],
        positive[1],
        negative[0],
        negative[1],
        _optional_double(obj, "min"),
        _optional_double(obj, "max"),
        flags,
    )


def _point_value(
    obj: dict[str, Any], kind: MetricKind, flags: int, notes: list[str]
) -> int | float | HistogramValue | ExponentialHistogramValue:
    if kind is MetricKind.GAUGE or kind is MetricKind.SUM:
        return _number_value(obj, "data point")
    if kind is MetricKind.HISTOGRAM:
        return _histogram(obj)
    return _exponential_histogram(obj, flags, notes)


def point_from_otlp(
    obj: Any,
    metric: Metric,
    resource: ResourceAttrs,
    schema_url: str,
    scope: Scope,
    origin: Origin,
    notes: list[str],
) -> MetricPoint:
    if not isinstance(obj, dict):
        raise InvalidInput(f"data point is {describe_json(obj)}, expected an object")
    flags = optional_int(obj, "flags")
    kind = metric.kind
    if flags and kind is not MetricKind.EXPONENTIAL_HISTOGRAM:
        what = "no recorded value" if flags & _NO_RECORDED_VALUE else f"{flags:#x}"
        notes.append(
            Note(
                f"data point flags ({what}) dropped: the exporter encodes flags only for exponential histograms",
                "data point flags dropped",
            )
        )
    value = _point_value(obj, kind, flags, notes)
    start = integer(obj.get("startTimeUnixNano", 0), "startTimeUnixNano")
    if start and kind is MetricKind.GAUGE:
        notes.append("gauge startTimeUnixNano dropped: the exporter does not encode it for gauges")
        start = 0
    exemplars = json_array(obj.get("exemplars"), "exemplars")
    return MetricPoint(
        metric,
        key_values(obj.get("attributes"), "attributes", notes),
        start,
        integer(obj.get("timeUnixNano", 0), "timeUnixNano"),
        value,
        resource,
        origin,
        scope,
        schema_url,
        [_exemplar(e, i, notes) for i, e in enumerate(exemplars)],
    )


def metric_definition(obj: dict[str, Any]) -> tuple[Metric, list[Any]]:
    """The metric's definition and its raw data points."""
    name = json_string(obj.get("name"), "metric name")
    description = json_string(obj.get("description"), f"metric {name!r} description")
    unit = json_string(obj.get("unit"), f"metric {name!r} unit")
    field = next((f for f in ("summary", *KINDS) if obj.get(f) is not None), None)
    if field is None:
        raise InvalidInput(
            f"metric {name!r} has no gauge, sum, histogram or exponentialHistogram", "metric has no data"
        )
    data = json_object(obj[field], f"metric {name!r} {field}")
    if field == "summary":
        raise InvalidInput(
            f"metric {name!r} is a summary: the OpenTelemetry SDK has no summary type to send it as",
            "summary metrics cannot be sent",
        )
    points = json_array(data.get("dataPoints"), f"metric {name!r} dataPoints")
    kind = KINDS[field]
    temporality = enum(data.get("aggregationTemporality"), _TEMPORALITY, "aggregationTemporality")
    if kind is MetricKind.GAUGE:
        temporality = 0
    monotonic = data.get("isMonotonic")
    if monotonic is not None and not isinstance(monotonic, bool):
        raise InvalidInput(
            f"metric {name!r} isMonotonic is {describe_json(monotonic)}, expected true or false",
            "isMonotonic is not true or false",
        )
    return Metric(name, kind, description, unit, temporality, kind is MetricKind.SUM and monotonic is True), points


def metric_items(
    obj: Any, resource: ResourceAttrs, schema_url: str, scope: Scope, source: str, counter: list[int]
) -> Iterator[SourceItem]:
    """The data points of one OTLP/JSON ``Metric``; a metric that cannot be read is one
    invalid item naming it and how many points it held."""
    try:
        if not isinstance(obj, dict):
            raise InvalidInput(f"metric is {describe_json(obj)}, expected an object")
        metric, points = metric_definition(obj)
    except InvalidInput as exc:
        n = _point_count(obj)
        yield InvalidRecord(Signal.METRICS, Origin(source, counter[0]), f"{exc}; its {n} data point(s) are not sent")
        counter[0] += n
        return
    notes: list[str] = []
    has_metadata = bool(obj.get("metadata"))
    for point in points:
        origin = Origin(source, counter[0])
        counter[0] += 1
        if has_metadata:
            notes.append("metric metadata dropped: the SDK's metrics data model has none")
        args = (point, metric, resource, schema_url, scope, origin, notes)
        yield from checked(Signal.METRICS, origin, notes, point_from_otlp, *args)


def _point_count(obj: Any) -> int:
    if not isinstance(obj, dict):
        return 0
    for field in (*KINDS, "summary"):
        data = obj.get(field)
        if isinstance(data, dict) and isinstance(data.get("dataPoints"), list):
            return len(data["dataPoints"])
    return 0
