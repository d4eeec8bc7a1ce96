"""The records of a bug report → the data the page shows, as plain JSON-ready objects. Pure.

Times are milliseconds since the epoch as floats (a JavaScript number holds them to
well under a microsecond; nanoseconds would not fit), ids are lower-case hex, resources
are listed once and referred to by index. The spans of each trace come in depth-first
order with their depth, so the page can draw and collapse the tree without building it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from otel_replay.model import (
    ExponentialHistogramValue,
    HistogramValue,
    LogRecord,
    MetricPoint,
    Record,
    ResourceAttrs,
    SpanRecord,
    thaw,
)

#: Bumped when the shape of the data changes (the page's script reads this shape).
FORMAT = 1
KINDS = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
STATUS = {0: "unset", 1: "ok", 2: "error"}


def ms(ns: int) -> float:
    return ns / 1e6


def plain(value: Any) -> Any:
    """A record's value as JSON: bytes as hex, NaN and infinities as text, tuples as lists."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


class Resources:
    """Each distinct resource once; records refer to it by its index."""

    def __init__(self) -> None:
        self.index: dict[ResourceAttrs, int] = {}
        self.items: list[dict[str, Any]] = []

    def of(self, resource: ResourceAttrs) -> int:
        found = self.index.get(resource)
        if found is None:
            found = self.index[resource] = len(self.items)
            self.items.append({k: plain(thaw(v)) for k, v in resource})
        return found

    def service(self, index: int) -> str:
        name = self.items[index].get("service.name", "")
        return name if isinstance(name, str) else str(name)


def build(records: Iterable[Record], inputs: list[str], problems: list[str], problem_count: int) -> dict[str, Any]:
    """The page's data: traces (with their spans), log records, metrics, and what was read."""
    spans: list[SpanRecord] = []
    logs: list[LogRecord] = []
    points: list[MetricPoint] = []
    for rec in records:
        if isinstance(rec, SpanRecord):
            spans.append(rec)
        elif isinstance(rec, LogRecord):
            logs.append(rec)
        else:
            points.append(rec)
    resources = Resources()
    return {
        "format": FORMAT,
        "inputs": list(inputs),
        "problems": list(problems),
        "problemCount": problem_count,
        "counts": {"spans": len(spans), "logs": len(logs), "points": len(points)},
        "traces": traces(spans, resources),
        "logs": log_rows(logs, resources),
        "metrics": metrics(points),
        "resources": resources.items,
    }


def tree_order(spans: list[SpanRecord]) -> list[tuple[SpanRecord, int]]:
    """A trace's spans depth-first (children by start time) with their depth. A span whose
    parent is not in the trace is a root; spans in a parent cycle are shown from wherever
    the cycle is first entered, each once."""
    by_id = {s.span_id: s for s in spans}
    children: dict[int, list[SpanRecord]] = defaultdict(list)
    roots: list[SpanRecord] = []
    for span in sorted(spans, key=lambda s: (s.start_ns, s.end_ns)):
        if span.parent_span_id and span.parent_span_id in by_id and span.parent_span_id != span.span_id:
            children[span.parent_span_id].append(span)
        else:
            roots.append(span)
    out: list[tuple[SpanRecord, int]] = []
    done: set[int] = set()
    for start in [*roots, *sorted(spans, key=lambda s: s.start_ns)]:  # then what a cycle hid
        stack = [(start, 0)]
        while stack:
            span, depth = stack.pop()
            if id(span) in done:
                continue
            done.add(id(span))
            out.append((span, depth))
            stack.extend((c, depth + 1) for c in reversed(children.get(span.span_id, ())))
    return out


def traces(spans: list[SpanRecord], resources: Resources) -> list[dict[str, Any]]:
    """One entry per trace (ordered by start): the row of the trace list and its spans."""
    grouped: dict[int, list[SpanRecord]] = defaultdict(list)
    for span in spans:
        grouped[span.trace_id].append(span)
    out = []
    for trace_id, members in grouped.items():
        ordered = tree_order(members)
        root = ordered[0][0]
        rows = [span_row(s, depth, resources) for s, depth in ordered]
        start = min(s.start_ns for s in members)
        out.append(
            {
                "id": f"{trace_id:032x}",
                "root": root.name,
                "service": resources.service(rows[0]["r"]),
                "start": ms(start),
                "duration": ms(max(s.end_ns for s in members) - start),
                "errors": sum(1 for s in members if s.status_code == 2),
                "spans": rows,
            }
        )
    out.sort(key=lambda t: (t["start"], t["id"]))
    return out


def span_row(span: SpanRecord, depth: int, resources: Resources) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": f"{span.span_id:016x}",
        "parent": f"{span.parent_span_id:016x}" if span.parent_span_id else "",
        "name": span.name,
        "depth": depth,
        "kind": KINDS.get(span.kind, str(span.kind)),
        "start": ms(span.start_ns),
        "end": ms(span.end_ns),
        "status": STATUS.get(span.status_code, str(span.status_code)),
        "message": span.status_message or "",
        "attributes": plain(span.attributes),
        "events": [{"name": e.name, "time": ms(e.time_ns), "attributes": plain(e.attributes)} for e in span.events],
        "r": resources.of(span.resource),
        "origin": str(span.origin),
    }
    if span.scope is not None:
        row["scope"] = span.scope.name + (f" {span.scope.version}" if span.scope.version else "")
    if span.links:
        row["links"] = [{"trace": f"{link.trace_id:032x}", "span": f"{link.span_id:016x}"} for link in span.links]
    return row


def log_rows(logs: list[LogRecord], resources: Resources) -> list[dict[str, Any]]:
    """Every log record, oldest first."""
    out = []
    for rec in sorted(logs, key=lambda r: r.time_ns):
        out.append(
            {
                "time": ms(rec.time_ns),
                "severity": rec.severity_number,
                "level": rec.severity_text or severity_name(rec.severity_number),
                "body": plain(rec.body),
                "attributes": plain(rec.attributes),
                "trace": f"{rec.trace_id:032x}" if rec.trace_id else "",
                "span": f"{rec.span_id:016x}" if rec.span_id else "",
                "r": resources.of(rec.resource),
                "origin": str(rec.origin),
            }
        )
    return out


def severity_name(number: int) -> str:
    """OpenTelemetry's short name of a severity number (``INFO``, ``ERROR2``...)."""
    if not 1 <= number <= 24:
        return ""
    names = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
    base, step = names[(number - 1) // 4], (number - 1) % 4
    return base if step == 0 else f"{base}{step + 1}"


def point_value(point: MetricPoint) -> float | None:
    """The number a chart draws: a gauge's or sum's value, a histogram's count."""
    value = point.value
    if isinstance(value, (HistogramValue, ExponentialHistogramValue)):
        return float(value.count)
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def metrics(points: list[MetricPoint]) -> list[dict[str, Any]]:
    """One entry per metric (name, type, unit), each with its series (one per set of
    attribute values and service), points oldest first."""
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    series: dict[tuple[tuple[str, str, str], str], dict[str, Any]] = {}
    for point in sorted(points, key=lambda p: p.time_ns):
        key = (point.metric.name, point.metric.type_name, point.metric.unit)
        metric = found.get(key)
        if metric is None:
            metric = found[key] = {
                "name": key[0],
                "type": key[1],
                "unit": key[2],
                "description": point.metric.description,
                "series": [],
            }
        attrs = plain(point.attributes)
        service = plain(thaw(dict(point.resource).get("service.name", "")))
        skey = (key, repr((sorted(attrs.items()), service)))
        one = series.get(skey)
        if one is None:
            one = series[skey] = {"attributes": attrs, "service": service, "points": []}
            metric["series"].append(one)
        one["points"].append([ms(point.time_ns), point_value(point)])
    return sorted(found.values(), key=lambda m: (m["name"], m["type"], m["unit"]))
