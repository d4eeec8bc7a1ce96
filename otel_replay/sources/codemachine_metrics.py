"""CodeMachine metrics sessions: each element of ``metrics`` is one periodic export of
the OpenTelemetry JS SDK (``ResourceMetrics``) with ISO-8601 times and the JS
``DataPointType`` as a string ("0" histogram, "1" exponential histogram, "2" gauge,
"3" sum). Temporality is cumulative.

The exporter kept only the *sum* of a histogram in ``value``. A sum alone is not a
histogram (no count, no buckets), so such a point is replayed as what it is: a
cumulative sum named ``<name>.sum`` (see README, "Metrics"). Where a file does carry the
JS SDK's whole histogram value (``{count, sum, min, max, buckets}``), the histogram is
replayed whole.
"""

from __future__ import annotations

import math
import re
from collections.abc import Generator, Iterator
from datetime import datetime
from typing import Any

from otel_replay.model import (
    CUMULATIVE,
    ExponentialHistogramValue,
    FileStart,
    HistogramValue,
    InvalidRecord,
    Metric,
    MetricKind,
    MetricPoint,
    Notice,
    Origin,
    ResourceAttrs,
    Scope,
    Signal,
    SourceItem,
)
from otel_replay.sources.codemachine import session_problems, session_resource
from otel_replay.sources.common import (
    INT64_MAX,
    INT64_MIN,
    UINT64_MAX,
    InvalidInput,
    checked,
    clean_attributes,
    double_value,
    epoch_ns,
    finite_number,
    hrtime_to_ns,
    json_array,
    json_object,
    json_string,
    ms_to_ns,
    record_resource,
    scope_name_version,
    shown,
)
from otel_replay.sources.jsondoc import Document, describe_json

#: JS SDK DataPointType → what the points become.
TYPES = {"0": MetricKind.HISTOGRAM, "1": MetricKind.EXPONENTIAL_HISTOGRAM, "2": MetricKind.GAUGE, "3": MetricKind.SUM}
SUM_SUFFIX = ".sum"
SUM_ONLY_NOTICE = (
    "CodeMachine recorded only the sum of its histograms: they were replayed as cumulative "
    f"sums named <histogram>{SUM_SUFFIX} (no count, no buckets; see README, Metrics)"
)
_ISO = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:[.,](\d{1,9}))?(Z|[+-]\d\d:?\d\d)?", re.IGNORECASE | re.ASCII)


def iso_to_ns(value: Any, field: str) -> int:
    """An ISO-8601 instant (``2026-11-24T17:04:43.123Z``) → ns since the epoch, exactly
    (fractions down to the nanosecond). A JS ``HrTime`` pair or epoch milliseconds are
    taken too: other serializers write those."""
    if isinstance(value, list):
        try:
            return hrtime_to_ns(value)
        except InvalidInput as exc:
            raise InvalidInput(f"{field}: {exc}") from None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return ms_to_ns(value, field)
    if not isinstance(value, str):
        raise InvalidInput(f"missing {field}" if value is None else f"{field} is {describe_json(value)}")
    match = _ISO.fullmatch(value.strip())
    if match is None:
        raise InvalidInput(f"{field} {value[:40]!r} is not an ISO-8601 time")
    base, fraction, zone = match.groups()
    zone = "+00:00" if zone in (None, "Z", "z") else zone
    try:
        when = datetime.fromisoformat(base + zone)
    except ValueError:
        raise InvalidInput(f"{field} {value[:40]!r} is not a valid time") from None
    ns = int(when.timestamp()) * 1_000_000_000 + int((fraction or "0").ljust(9, "0"))
    if ns < 0:
        raise InvalidInput(f"{field} {value[:40]!r} is before 1970")
    return epoch_ns(ns, field)


def _optional_float(obj: dict[str, Any], key: str) -> float | None:
    value = obj.get(key)
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None  # JS writes Infinity/-Infinity (an empty min/max) as null
    return double_value(value, f"value {key}")


def _count(value: Any, field: str) -> int:
    if type(value) is not int or not 0 <= value <= UINT64_MAX:
        raise InvalidInput(f"{field} {shown(value)} is not an integer in 0..2^64-1")
    return value


def _number(value: Any) -> int | float:
    """A gauge or sum value. JavaScript numbers are doubles: an integer beyond 64 bits is
    the double that JSON.stringify wrote in full (``2**64`` as 18446744073709552000)."""
    number = finite_number(value, "value")
    if isinstance(number, int) and not INT64_MIN <= number <= INT64_MAX:
        return double_value(number, "value")
    return number


def _counts(value: Any, field: str) -> list[int]:
    return [_count(v, field) for v in json_array(value, field)]


def _histogram_object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput("missing value" if value is None else f"value is {describe_json(value)}, expected an object")
    return value


def histogram_value(value: Any) -> HistogramValue:
    """The JS SDK's ``Histogram`` value: ``{buckets: {boundaries, counts}, sum, count, min, max}``."""
    value = _histogram_object(value)
    buckets = json_object(value.get("buckets"), "value buckets")
    bounds = json_array(buckets.get("boundaries"), "value buckets.boundaries")
    counts = _counts(buckets.get("counts"), "value buckets.counts")
    if counts and len(counts) != len(bounds) + 1:
        raise InvalidInput(f"value has {len(counts)} bucket counts for {len(bounds)} boundaries (expected one more)")
    count = _count(value.get("count"), "value count")
    return HistogramValue(
        count,
        _optional_float(value, "sum"),
        counts,
        [double_value(b, "value boundary") for b in bounds],
        _optional_float(value, "min"),
        _optional_float(value, "max"),
    )


def exponential_value(value: Any) -> ExponentialHistogramValue:
    """The JS SDK's ``ExponentialHistogram`` value: ``{count, sum, scale, zeroCount,
    positive: {offset, bucketCounts}, negative: {…}, min, max}``."""
    value = _histogram_object(value)
    sides = []
    for side in ("positive", "negative"):
        buckets = json_object(value.get(side), f"value {side}")
        offset = buckets.get("offset", 0)
        if type(offset) is not int or not -(2**31) <= offset < 2**31:
            raise InvalidInput(f"value {side}.offset {shown(offset)} is not a 32-bit integer")
        sides.append((offset, _counts(buckets.get("bucketCounts"), f"value {side}.bucketCounts")))
    scale = value.get("scale", 0)
    if type(scale) is not int or not -10 <= scale <= 20:
        raise InvalidInput(f"value scale {shown(scale)} is outside -10..20")
    return ExponentialHistogramValue(
        _count(value.get("count"), "value count"),
        _optional_float(value, "sum"),
        scale,
        _count(value.get("zeroCount", 0), "value zeroCount"),
        sides[0][0],
        sides[0][1],
        sides[1][0],
        sides[1][1],
        _optional_float(value, "min"),
        _optional_float(value, "max"),
    )


def metric_definition(obj: dict[str, Any], values: list[Any]) -> Metric:
    """What the points of one serialized metric become. ``values`` are their raw values
    (a sum is monotonic unless one of them is negative or the file says otherwise)."""
    name = obj.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidInput("metric has no name" if name in (None, "") else f"metric name is {describe_json(name)}")
    raw_type = obj.get("type", obj.get("dataPointType"))
    kind = TYPES.get(str(raw_type)) if type(raw_type) in (str, int) else None
    if kind is None:
        raise InvalidInput(f"metric {name!r}: type {shown(raw_type)} is not 0 (histogram), 1, 2 (gauge) or 3 (sum)")
    description = json_string(obj.get("description"), f"metric {name!r}: description")
    unit = json_string(obj.get("unit"), f"metric {name!r}: unit")
    flag = obj.get("isMonotonic")
    if flag is not None and not isinstance(flag, bool):
        raise InvalidInput(f"metric {name!r}: isMonotonic is {describe_json(flag)}, expected true or false")
    values = [v for v in values if v is not None]  # a point without a value is refused on its own
    negative = any(isinstance(v, (int, float)) and v < 0 for v in values)
    monotonic = flag if flag is not None else not negative
    if kind is MetricKind.GAUGE:
        return Metric(name, kind, description, unit, 0)
    if kind is MetricKind.SUM:
        return Metric(name, kind, description, unit, CUMULATIVE, monotonic)
    if all(isinstance(v, dict) for v in values):
        return Metric(name, kind, description, unit, CUMULATIVE)
    if any(isinstance(v, dict) for v in values):
        raise InvalidInput(f"metric {name!r}: some values are histograms, some numbers")
    what = f"{description} (sum of the histogram; count and buckets were not recorded)".lstrip()
    return Metric(name + SUM_SUFFIX, MetricKind.SUM, what, unit, CUMULATIVE, not negative)


def point_from_codemachine(
    obj: Any, metric: Metric, resource: ResourceAttrs, scope: Scope, origin: Origin, notes: list[str]
) -> MetricPoint:
    if not isinstance(obj, dict):
        raise InvalidInput(f"data point is {describe_json(obj)}, expected an object")
    raw = obj.get("value")
    value: int | float | HistogramValue | ExponentialHistogramValue
    if metric.kind is MetricKind.HISTOGRAM:
        value = histogram_value(raw)
    elif metric.kind is MetricKind.EXPONENTIAL_HISTOGRAM:
        value = exponential_value(raw)
    else:
        value = _number(raw)
    start = iso_to_ns(obj.get("startTime"), "startTime")
    end = iso_to_ns(obj.get("endTime"), "endTime")
    if end < start:
        raise InvalidInput("endTime is before startTime")
    return MetricPoint(
        metric,
        clean_attributes(obj.get("attributes"), "attributes", notes),
        start,
        end,
        value,
        resource,
        origin,
        scope,
    )


def _scope(obj: Any) -> Scope:
    if obj is None:
        return Scope("")
    name, version = scope_name_version(obj)
    return Scope(name, version, json_string(obj.get("schemaUrl"), "scope schemaUrl"))


def read_metrics(doc: Document, source: str) -> Iterator[SourceItem]:
    """Stream the data points of a CodeMachine metrics document's exports. Points are
    named ``file[n]`` by their running number in the file; a broken export or metric is
    one problem naming its export and metric."""
    default_resource = session_resource(doc)
    yield FileStart(source, Signal.METRICS, "codemachine")
    yield from session_problems(doc, source, Signal.METRICS)
    counter = [0]
    sums_only = False
    for number, export in enumerate(doc.items):
        try:
            resource, blocks = _export(export, default_resource)
        except InvalidInput as exc:
            yield InvalidRecord(Signal.METRICS, Origin(source, counter[0]), f"export {number}: {exc}; not read")
            continue
        for block in blocks:
            try:
                if not isinstance(block, dict):
                    raise InvalidInput(f"scopeMetrics entry is {describe_json(block)}, expected an object")
                scope = _scope(block.get("scope"))
                metrics = json_array(block.get("metrics"), "metrics")
            except InvalidInput as exc:
                yield InvalidRecord(Signal.METRICS, Origin(source, counter[0]), f"export {number}: {exc}; not read")
                continue
            for obj in metrics:
                renamed = yield from _metric_points(obj, number, (resource, scope), source, counter)
                sums_only = sums_only or renamed
    if sums_only:
        yield Notice(SUM_ONLY_NOTICE)


def _export(export: Any, default_resource: ResourceAttrs) -> tuple[ResourceAttrs, list[Any]]:
    """One export's resource and its ``scopeMetrics`` blocks."""
    if not isinstance(export, dict):
        raise InvalidInput(f"export is {describe_json(export)}, expected an object")
    res = export.get("resource")
    if isinstance(res, dict) and res.get("attributes") is not None:
        res = json_object(res["attributes"], "resource attributes")  # the JS Resource object, not its attributes
    return record_resource(res, default_resource), json_array(export.get("scopeMetrics"), "scopeMetrics")


def _metric_points(
    obj: Any, number: int, context: tuple[ResourceAttrs, Scope], source: str, counter: list[int]
) -> Generator[SourceItem, None, bool]:
    """The data points of one serialized metric of export ``number``; returns whether the
    metric was renamed (a histogram of sums only)."""
    points = obj.get("dataPoints") if isinstance(obj, dict) else None
    try:
        if not isinstance(obj, dict):
            raise InvalidInput(f"metric is {describe_json(obj)}, expected an object")
        points = json_array(points, "dataPoints")
        metric = metric_definition(obj, [p.get("value") for p in points if isinstance(p, dict)])
    except InvalidInput as exc:
        n = len(points) if isinstance(points, list) else 0
        reason = f"export {number}: {exc}; its {n} data point(s) are not read"
        yield InvalidRecord(Signal.METRICS, Origin(source, counter[0]), reason)
        counter[0] += n
        return False
    resource, scope = context
    notes: list[str] = []
    for point in points:
        origin = Origin(source, counter[0])
        counter[0] += 1
        args = (point, metric, resource, scope, origin, notes)
        yield from checked(Signal.METRICS, origin, notes, point_from_codemachine, *args)
    return metric.name != obj["name"]
