"""Keep only what the user asked for: a time window, some traces, some services.

Filters look at the recorded timestamps (before any time shift). A span is kept when
its [start, end] overlaps the window, so a long parent span that began earlier stays
with its children; a log record or a metric data point when its time lies in the window
(a cumulative point's start is when counting began, not when it was observed).
"""

from __future__ import annotations

from collections.abc import Iterable

from otel_replay.model import MetricPoint, Record, SpanRecord


class TimeWindow:
    drop_label = "outside --since/--until"

    def __init__(self, since_ns: int | None, until_ns: int | None) -> None:
        self.since_ns = since_ns
        self.until_ns = until_ns

    def keeps(self, start_ns: int, end_ns: int) -> bool:
        if self.since_ns is not None and end_ns < self.since_ns:
            return False
        return not (self.until_ns is not None and start_ns >= self.until_ns)

    def apply(self, record: Record) -> Record | None:
        if isinstance(record, SpanRecord):
            return record if self.keeps(record.start_ns, record.end_ns) else None
        return record if self.keeps(record.time_ns, record.time_ns) else None


class TraceIdFilter:
    """``--trace-id``: that trace's spans and the log records that carry its id (metric
    data points belong to no trace: they are left out)."""

    drop_label = "not in --trace-id"

    def __init__(self, trace_ids: Iterable[int]) -> None:
        self.trace_ids = frozenset(trace_ids)

    def apply(self, record: Record) -> Record | None:
        if isinstance(record, MetricPoint):
            return None
        return record if record.trace_id in self.trace_ids else None


class ServiceFilter:
    """``--service``: records whose resource ``service.name`` is one of the names."""

    drop_label = "not in --service"

    def __init__(self, names: Iterable[str]) -> None:
        self.names = frozenset(names)
        self._cache: dict[object, bool] = {}

    def apply(self, record: Record) -> Record | None:
        keep = self._cache.get(record.resource)
        if keep is None:
            service = next((v for k, v in record.resource if k == "service.name"), None)
            keep = self._cache[record.resource] = service in self.names
        return record if keep else None
