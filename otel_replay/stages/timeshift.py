"""Move every timestamp of a record by one offset (``--shift-to-now``, ``--time-offset``).

One offset for the whole run keeps relative timing across traces and logs, so a log
record still falls inside the span that wrote it. Why shift at all: Loki refuses entries
older than 7 days (``reject_old_samples_max_age``) and more than ~1 h behind a stream's
newest entry, and Tempo's time-range search only covers recent ingestion, so unshifted
old traces are found by id only.
"""

from __future__ import annotations

from otel_replay.model import LogRecord, MetricPoint, Record, SpanRecord


def newest_ns(record: Record) -> int:
    """The latest instant a record carries (a span's end or last event, a log's or a data
    point's time)."""
    if isinstance(record, SpanRecord):
        newest = record.end_ns
        for ev in record.events:
            if ev.time_ns > newest:
                newest = ev.time_ns
        return newest
    if isinstance(record, LogRecord):
        return record.time_ns
    return max([record.time_ns, *(e.time_ns for e in record.exemplars)])


def oldest_ns(record: Record) -> int:
    if isinstance(record, SpanRecord):
        oldest = record.start_ns
        for ev in record.events:
            if ev.time_ns < oldest:
                oldest = ev.time_ns
        return oldest
    if isinstance(record, LogRecord):
        return record.time_ns
    return min([record.start_ns or record.time_ns, record.time_ns, *(e.time_ns for e in record.exemplars if e.time_ns)])


class OffsetOutOfRange(ValueError):
    pass


def shift_record(record: Record, offset_ns: int) -> Record:
    """Pure in effect: every timestamp moved by ``offset_ns`` (records belong to the pipeline,
    so they are updated in place rather than copied). A 0 timestamp (a log without a time)
    stays 0."""
    if isinstance(record, SpanRecord):
        record.start_ns += offset_ns
        record.end_ns += offset_ns
        for ev in record.events:
            ev.time_ns += offset_ns
    elif isinstance(record, LogRecord):
        if record.time_ns:
            record.time_ns += offset_ns
        if record.observed_ns:
            record.observed_ns += offset_ns
    elif isinstance(record, MetricPoint):
        if record.start_ns:
            record.start_ns += offset_ns
        record.time_ns += offset_ns
        for ex in record.exemplars:
            if ex.time_ns:
                ex.time_ns += offset_ns
    return record


class TimeShift:
    drop_label = "before the epoch after the time shift"

    def __init__(self, offset_ns: int) -> None:
        self.offset_ns = offset_ns

    def shift_log_times(self, times: list[int]) -> list[int | None]:
        """Log records' times (0: none) moved as :meth:`apply` moves such a record's: None
        for one it drops."""
        offset = self.offset_ns
        return [None if t + offset < 0 else t + offset if t else 0 for t in times]

    def apply(self, record: Record) -> Record | None:
        if oldest_ns(record) + self.offset_ns < 0:
            return None
        return shift_record(record, self.offset_ns)
