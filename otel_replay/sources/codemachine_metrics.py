"""CodeMachine metrics sessions: each element of ``metrics`` is one periodic export of
the OpenTelemetry JS SDK (``ResourceMetrics``) with ISO-8601 times and the JS
``DataPointType`` as a string ("0" histogram, "1" exponential histogram, "2" gauge,
"3" sum). Temporality is cumulative.

What the file cannot tell is judged from the whole file (see docs/mapping.md, "Metrics → OTLP"):

- Histograms: CodeMachine's file exporter writes ``value: 0`` for every histogram point
  (it reads a field the SDK does not have) and no count or buckets. Such points carry
  nothing that was recorded: they are read as points with no recorded value (value
  None: counted, never sent, see :mod:`otel_replay.stages.unrecorded`), and a
  :class:`Notice` names the metric once. A non-zero number is a recorded sum, replayed
  as a cumulative sum named ``<name>.sum`` (its hint is about each such point, so it is
  shown only if one is sent); the JS SDK's whole histogram object is replayed whole.
- Sums: counters and up-down counters are both type "3". A sum's points wait until the
  file is read; then every stream with a series that goes down is sent non-monotonic
  (:mod:`otel_replay.sources.monotonic`). A session's series all live in its one metrics
  file (the resource names its process), so the file is the whole evidence there is.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
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
    scope_name_version,
    shown,
)
from otel_replay.sources.histograms import exponential_value, histogram_value
from otel_replay.sources.jsondoc import Document, DocumentError
from otel_replay.sources.jsontext import describe_json
from otel_replay.sources.monotonic import settle_monotonic
from otel_replay.sources.resources import record_resource

__all__ = ["exponential_value", "histogram_value", "iso_to_ns", "metric_definition", "point_from_codemachine"]

#: JS SDK DataPointType → what the points become.
TYPES = {"0": MetricKind.HISTOGRAM, "1": MetricKind.EXPONENTIAL_HISTOGRAM, "2": MetricKind.GAUGE, "3": MetricKind.SUM}
SUM_SUFFIX = ".sum"
_ISO = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:[.,](\d{1,9}))?(Z|[+-]\d\d:?\d\d)?", re.IGNORECASE | re.ASCII)


def unrecorded_notice(name: str) -> str:
    """The hint for histogram ``name`` whose points carried no recorded value."""
    return (
        f"{name}: histogram points not replayed: CodeMachine's file exporter records no histogram "
        "values (value 0, no count or buckets)"
    )


def sum_only_notice(name: str) -> str:
    """The hint for histogram ``name`` replayed as its sum."""
    return (
        f"{name}: histogram replayed as the cumulative sum {name}{SUM_SUFFIX}: the file records only "
        "its sum (no count, no buckets; see docs/mapping.md, Metrics)"
    )


def unrecorded(value: Any) -> bool:
    """Whether a histogram point's ``value`` is a number that records nothing: the ``0``
    CodeMachine's file exporter writes for every histogram point."""
    return type(value) in (int, float) and value == 0


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
        raise InvalidInput(f"{field} {value[:40]!r} is not an ISO-8601 time", "a time is not ISO-8601", value)
    base, fraction, zone = match.groups()
    zone = "+00:00" if zone in (None, "Z", "z") else zone
    try:
        when = datetime.fromisoformat(base + zone)
    except ValueError:
        raise InvalidInput(f"{field} {value[:40]!r} is not a valid time", "a time is not valid", value) from None
    ns = int(when.timestamp()) * 1_000_000_000 + int((fraction or "0").ljust(9, "0"))
    if ns < 0:
        raise InvalidInput(f"{field} {value[:40]!r} is before 1970", "a time is before 1970", value)
    return epoch_ns(ns, field)


def _number(value: Any) -> int | float:
    """A gauge or sum value. JavaScript numbers are doubles: an integer beyond 64 bits is
    the double that JSON.stringify wrote in full (``2**64`` as 18446744073709552000)."""
    number = finite_number(value, "value")
    if isinstance(number, int) and not INT64_MIN <= number <= INT64_MAX:
        return double_value(number, "value")
    return number


def metric_definition(obj: dict[str, Any], values: list[Any]) -> Metric:
    """What the points of one serialized metric become. ``values`` are their raw values
    (whether a histogram's are whole histograms or numbers). A sum is monotonic unless the
    file says ``isMonotonic: false``; the reader clears it for a stream that goes down."""
    name = obj.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidInput("metric has no name" if name in (None, "") else f"metric name is {describe_json(name)}")
    raw_type = obj.get("type", obj.get("dataPointType"))
    kind = TYPES.get(str(raw_type)) if type(raw_type) in (str, int) else None
    if kind is None:
        raise InvalidInput(
            f"metric {name!r}: type {shown(raw_type)} is not 0 (histogram), 1, 2 (gauge) or 3 (sum)",
            "metric type is unknown",
            raw_type,
        )
    description = json_string(obj.get("description"), f"metric {name!r}: description")
    unit = json_string(obj.get("unit"), f"metric {name!r}: unit")
    flag = obj.get("isMonotonic")
    if flag is not None and not isinstance(flag, bool):
        raise InvalidInput(
            f"metric {name!r}: isMonotonic is {describe_json(flag)}, expected true or false",
            "isMonotonic is not true or false",
        )
    if kind is MetricKind.GAUGE:
        return Metric(name, kind, description, unit, 0)
    if kind is MetricKind.SUM:
        return Metric(name, kind, description, unit, CUMULATIVE, flag is not False)
    values = [v for v in values if v is not None]  # a point without a value is refused on its own
    if all(isinstance(v, dict) for v in values):
        return Metric(name, kind, description, unit, CUMULATIVE)
    if any(isinstance(v, dict) for v in values):
        raise InvalidInput(f"metric {name!r}: some values are histograms, some numbers", "values of mixed kinds")
    what = f"{description} (sum of the histogram; count and buckets were not recorded)".lstrip()
    return Metric(name + SUM_SUFFIX, MetricKind.SUM, what, unit, CUMULATIVE, True)


def point_from_codemachine(
    obj: Any, metric: Metric, resource: ResourceAttrs, scope: Scope, origin: Origin, notes: list[str]
) -> MetricPoint:
    if not isinstance(obj, dict):
        raise InvalidInput(f"data point is {describe_json(obj)}, expected an object")
    raw = obj.get("value")
    value: int | float | HistogramValue | ExponentialHistogramValue | None
    if metric.kind is MetricKind.HISTOGRAM:
        value = None if unrecorded(raw) else histogram_value(raw)  # None: never sent (see stages/unrecorded.py)
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


@dataclass
class _MetricsFile:
    """What reading one metrics file keeps until its end: the running point number, the
    sums awaiting their monotonicity, and what the closing hints say."""

    source: str
    counter: int = 0
    sums: list[MetricPoint] = field(default_factory=list)
    unrecorded: dict[str, None] = field(default_factory=dict)  # histograms whose points recorded nothing
    notes: list[str] = field(default_factory=list)

    def origin(self) -> Origin:
        return Origin(self.source, self.counter)

    def invalid(self, number: int, reason: str) -> InvalidRecord:
        return InvalidRecord(Signal.METRICS, self.origin(), f"export {number}: {reason}")

    def route(self, item: SourceItem, histogram: str | None, judged: bool) -> tuple[SourceItem, ...]:
        """An item of one converted point, to yield now; a sum whose monotonicity is
        ``judged`` is kept for :meth:`finish` instead. ``histogram``: the name of the
        histogram a ``<name>.sum`` point comes from (its hint goes with the point)."""
        if isinstance(item, MetricPoint):
            hint = () if histogram is None else (Notice(sum_only_notice(histogram), item.origin),)
            if judged:
                self.sums.append(item)
                return hint
            return (*hint, item)
        return (item,)

    def finish(self) -> Iterator[SourceItem]:
        """The sums, settled, then the hints about the histograms that recorded nothing."""
        yield from settle_monotonic(self.sums)
        self.sums = []
        for name in self.unrecorded:
            yield Notice(unrecorded_notice(name))


def read_metrics(doc: Document, source: str) -> Iterator[SourceItem]:
    """Stream the data points of a CodeMachine metrics document's exports (sums at the
    end of the file, see the module's description). Points are named ``file[n]`` by their
    running number in the file; a broken export or metric is one problem naming its
    export and metric."""
    default_resource = session_resource(doc)
    yield FileStart(source, Signal.METRICS, "codemachine")
    yield from session_problems(doc, source, Signal.METRICS)
    state = _MetricsFile(source)
    try:
        for number, export in enumerate(doc.items):
            yield from _export_points(export, number, default_resource, state)
    except DocumentError:  # the rest of the file is unreadable: what was read still goes out
        yield from state.finish()
        raise
    yield from state.finish()


def _export_points(
    export: Any, number: int, default_resource: ResourceAttrs, state: _MetricsFile
) -> Iterator[SourceItem]:
    try:
        resource, blocks = _export(export, default_resource)
    except InvalidInput as exc:
        yield state.invalid(number, f"{exc}; not read")
        return
    for block in blocks:
        try:
            if not isinstance(block, dict):
                raise InvalidInput(f"scopeMetrics entry is {describe_json(block)}, expected an object")
            scope = _scope(block.get("scope"))
            metrics = json_array(block.get("metrics"), "metrics")
        except InvalidInput as exc:
            yield state.invalid(number, f"{exc}; not read")
            continue
        for obj in metrics:
            yield from _metric_points(obj, number, (resource, scope), state)


def _export(export: Any, default_resource: ResourceAttrs) -> tuple[ResourceAttrs, list[Any]]:
    """One export's resource and its ``scopeMetrics`` blocks."""
    if not isinstance(export, dict):
        raise InvalidInput(f"export is {describe_json(export)}, expected an object")
    res = export.get("resource")
    if isinstance(res, dict) and res.get("attributes") is not None:
        res = json_object(res["attributes"], "resource attributes")  # the JS Resource object, not its attributes
    return record_resource(res, default_resource), json_array(export.get("scopeMetrics"), "scopeMetrics")


def _metric_points(
    obj: Any, number: int, context: tuple[ResourceAttrs, Scope], state: _MetricsFile
) -> Generator[SourceItem, None, None]:
    """The data points of one serialized metric of export ``number``: yielded, or kept
    in ``state`` (sums, histogram points that record nothing)."""
    points = obj.get("dataPoints") if isinstance(obj, dict) else None
    try:
        if not isinstance(obj, dict):
            raise InvalidInput(f"metric is {describe_json(obj)}, expected an object")
        points = json_array(points, "dataPoints")
        metric = metric_definition(obj, [p.get("value") for p in points if isinstance(p, dict)])
    except InvalidInput as exc:
        n = len(points) if isinstance(points, list) else 0
        yield state.invalid(number, f"{exc}; its {n} data point(s) are not read")
        state.counter += n
        return
    resource, scope = context
    judged = metric.kind is MetricKind.SUM and obj.get("isMonotonic") is None
    sum_only = metric.name != obj["name"]
    histogram = Metric(obj["name"], MetricKind.HISTOGRAM, unit=metric.unit)  # its points that recorded nothing
    for point in points:
        origin = state.origin()
        state.counter += 1
        if sum_only and isinstance(point, dict) and unrecorded(point.get("value")):
            state.unrecorded[obj["name"]] = None
            args = (point, histogram, resource, scope, origin, state.notes)
            yield from checked(Signal.METRICS, origin, state.notes, point_from_codemachine, *args)
            continue
        args = (point, metric, resource, scope, origin, state.notes)
        for item in checked(Signal.METRICS, origin, state.notes, point_from_codemachine, *args):
            yield from state.route(item, obj["name"] if sum_only else None, judged)
