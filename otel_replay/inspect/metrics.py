"""The metrics a report recorded: data points → one row per metric (name, type, unit,
points, series, last value). Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from otel_replay.model import ExponentialHistogramValue, HistogramValue, MetricPoint


@dataclass
class SeriesRow:
    attributes: dict[str, Any]
    points: int
    last_value: Any
    last_time_ns: int


@dataclass
class MetricRow:
    name: str
    type: str
    unit: str
    description: str
    points: int
    #: The value of the newest point (of any series); a histogram's as its count and sum.
    last_value: Any
    last_time_ns: int
    series: list[SeriesRow] = field(default_factory=list)


def plain_value(value: Any) -> Any:
    """A point's value as JSON-ready data: a number, or a histogram's count, sum, min and max."""
    if isinstance(value, (HistogramValue, ExponentialHistogramValue)):
        out = {"count": value.count, "sum": value.sum}
        if value.min is not None:
            out["min"] = value.min
        if value.max is not None:
            out["max"] = value.max
        return out
    return value


def summarise_metrics(points: Iterable[MetricPoint]) -> list[MetricRow]:
    """One row per metric (by name, type and unit), sorted by name; each series (a set of
    attribute values) with its own count and last value."""
    rows: dict[tuple[str, str, str], MetricRow] = {}
    series_of: dict[tuple[str, str, str], dict[str, SeriesRow]] = {}
    for point in points:
        key = (point.metric.name, point.metric.type_name, point.metric.unit)
        row = rows.get(key)
        if row is None:
            row = rows[key] = MetricRow(key[0], key[1], key[2], point.metric.description, 0, None, point.time_ns)
            series_of[key] = {}
        row.points += 1
        value = plain_value(point.value)
        if point.time_ns >= row.last_time_ns:
            row.last_value, row.last_time_ns = value, point.time_ns
        attrs = repr(sorted(point.attributes.items(), key=lambda kv: kv[0]))
        series = series_of[key].get(attrs)
        if series is None:
            series = series_of[key][attrs] = SeriesRow(dict(point.attributes), 0, value, point.time_ns)
            row.series.append(series)
        series.points += 1
        if point.time_ns >= series.last_time_ns:
            series.last_value, series.last_time_ns = value, point.time_ns
    return sorted(rows.values(), key=lambda r: (r.name, r.type, r.unit))
