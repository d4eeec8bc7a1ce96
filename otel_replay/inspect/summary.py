"""What is in a bug report: :class:`~otel_replay.collect.Collected` records → a
plain :class:`Summary` (files and sessions, time range, services, counts per signal,
traces, metrics, problems). Pure: no I/O, no rendering; :meth:`Summary.to_dict` is the
``--json`` object.

A *session* is a group of files whose recorded times overlap: a CodeMachine CLI run
writes a trace, a log and a metrics file over the same minutes (its log file may be
named a second before its trace file), and the ``latest*`` copies fall in the session
they copy. Files whose records are all elsewhere (nothing in them was read) belong to no
session.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from otel_replay.collect import Collected
from otel_replay.inspect.complaints import Complaints, complaints
from otel_replay.inspect.metrics import MetricRow, summarise_metrics
from otel_replay.inspect.values import trace_hex
from otel_replay.model import SIGNAL_OF, LogRecord, MetricPoint, Record, Signal, SpanRecord
from otel_replay.stats import DUPLICATES
from otel_replay.timechoice import default_offset

#: A record's noun per signal, as the counts are shown.
NOUNS = {Signal.TRACES: "spans", Signal.LOGS: "logs", Signal.METRICS: "points"}


@dataclass
class FileRow:
    name: str
    #: Records kept per signal (what a replay would send from this file).
    records: dict[str, int]
    #: Records dropped as copies of records read before (a ``latest*`` copy: all of them).
    copies: int = 0
    start_ns: int | None = None
    end_ns: int | None = None


@dataclass
class SessionRow:
    number: int
    start_ns: int
    end_ns: int
    files: list[str]
    records: dict[str, int]
    services: list[str]


@dataclass
class TraceRow:
    trace_id: str
    root: str
    service: str | None
    start_ns: int
    duration_ns: int
    spans: int
    errors: int
    logs: int


@dataclass
class SignalCounts:
    records: int = 0
    read: int = 0
    duplicates: int = 0
    invalid: int = 0
    changed_to_fit: int = 0
    #: Not replayed for another reason, as replay counts it: left out by --since/--until,
    #: --trace-id, --service, or a point with no recorded value (label → count).
    dropped: dict[str, int] = field(default_factory=dict)


@dataclass
class Summary:
    inputs: int
    files_ignored: int
    files: list[FileRow]
    sessions: list[SessionRow]
    start_ns: int | None
    end_ns: int | None
    #: service.name → records per signal.
    services: dict[str, dict[str, int]]
    counts: dict[str, SignalCounts]
    #: Errors first, then by start.
    traces: list[TraceRow]
    metrics: list[MetricRow]
    #: What ``replay`` would complain about, and exit with.
    complaints: Complaints
    #: What a replay now with default flags moves the records by (docs/time.md).
    replay_offset_ns: int = 0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        del out["complaints"]
        return out | self.complaints.to_dict()


def summarise(found: Collected, now_ns: int | None = None) -> Summary:
    """``now_ns``: what the age of the records is measured against (default: now)."""
    files = file_rows(found)
    spans = [r for r in found.records if isinstance(r, SpanRecord)]
    logs = [r for r in found.records if isinstance(r, LogRecord)]
    times = [t for f in files for t in (f.start_ns, f.end_ns) if t is not None and f.records]
    stats = found.stats
    now = time.time_ns() if now_ns is None else now_ns
    return Summary(
        inputs=len(found.inputs),
        files_ignored=stats.files_ignored,
        files=files,
        sessions=sessions(files, found.records),
        start_ns=min(times, default=None),
        end_ns=max(times, default=None),
        services=services(found.records),
        counts=signal_counts(found),
        traces=trace_rows(spans, logs),
        metrics=summarise_metrics(r for r in found.records if isinstance(r, MetricPoint)),
        complaints=complaints(stats, now_ns),
        replay_offset_ns=default_offset(min(times, default=None), max(times, default=None), now),
    )


def record_times(record: Record) -> tuple[int, int]:
    """When a record happened: a span's start and end, a log record's or a point's time."""
    if isinstance(record, SpanRecord):
        return record.start_ns, record.end_ns
    return record.time_ns, record.time_ns


def service_of(record: Record) -> str | None:
    for key, value in record.resource:
        if key == "service.name":
            return str(value)
    return None


def file_rows(found: Collected) -> list[FileRow]:
    """One row per input, in reading order, with what it holds and when."""
    rows = {name: FileRow(name, {}) for name in found.inputs}
    row_of: dict[str, FileRow] = {}
    for records, copies in ((found.records, False), (found.copies, True)):
        for record in records:
            source = str(record.origin.source)
            row = row_of.get(source)
            if row is None:
                name = file_of(source, rows)
                row = row_of[source] = rows.get(name) or rows.setdefault(name, FileRow(name, {}))
            if copies:
                row.copies += 1
            else:
                noun = NOUNS[SIGNAL_OF[type(record)]]
                row.records[noun] = row.records.get(noun, 0) + 1
            start, end = record_times(record)
            row.start_ns = start if row.start_ns is None else min(row.start_ns, start)
            row.end_ns = end if row.end_ns is None else max(row.end_ns, end)
    return list(rows.values())


def file_of(source: str, inputs: dict[str, FileRow]) -> str:
    """The input a record's source names: a JSON Lines record's is ``FILE:LINE``."""
    if source in inputs:
        return source
    head, _, line = source.rpartition(":")
    return head if line.isdigit() and head in inputs else source


def sessions(files: list[FileRow], records: list[Record]) -> list[SessionRow]:
    """Files grouped by overlapping recorded times, oldest first."""
    timed = sorted((f for f in files if f.start_ns is not None), key=lambda f: (f.start_ns, f.name))
    groups: list[list[FileRow]] = []
    end = None
    for f in timed:
        assert f.start_ns is not None and f.end_ns is not None
        if groups and end is not None and f.start_ns <= end:
            groups[-1].append(f)
            end = max(end, f.end_ns)
        else:
            groups.append([f])
            end = f.end_ns
    by_file: dict[str, set[str]] = defaultdict(set)
    inputs = {f.name: f for f in files}
    for record in records:
        service = service_of(record)
        if service is not None:
            by_file[file_of(str(record.origin.source), inputs)].add(service)
    out = []
    for number, group in enumerate(groups, 1):
        counts: dict[str, int] = {}
        for f in group:
            for noun, n in f.records.items():
                counts[noun] = counts.get(noun, 0) + n
        out.append(
            SessionRow(
                number=number,
                start_ns=min(f.start_ns for f in group),  # type: ignore[type-var]
                end_ns=max(f.end_ns for f in group),  # type: ignore[type-var]
                files=[f.name for f in group],
                records=counts,
                services=sorted({s for f in group for s in by_file[f.name]}),
            )
        )
    return out


def services(records: Iterable[Record]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for record in records:
        counts = out.setdefault(service_of(record) or "(no service.name)", {})
        noun = NOUNS[SIGNAL_OF[type(record)]]
        counts[noun] = counts.get(noun, 0) + 1
    return dict(sorted(out.items()))


def signal_counts(found: Collected) -> dict[str, SignalCounts]:
    out: dict[str, SignalCounts] = {}
    kept: dict[Signal, int] = defaultdict(int)
    for record in found.records:
        kept[SIGNAL_OF[type(record)]] += 1
    for signal, st in found.stats.signals.items():
        out[signal.value] = SignalCounts(
            records=kept[signal],
            read=st.read,
            duplicates=st.duplicates,
            invalid=st.invalid,
            changed_to_fit=st.adjusted,
            dropped={k: v for k, v in st.dropped.items() if k != DUPLICATES},
        )
    return out


def trace_rows(spans: list[SpanRecord], logs: list[LogRecord]) -> list[TraceRow]:
    """One row per trace: its root (the earliest span whose parent is not in the trace),
    start, duration, spans, errors and the log records that carry its id."""
    by_trace: dict[int, list[SpanRecord]] = defaultdict(list)
    for span in spans:
        by_trace[span.trace_id].append(span)
    logs_of: dict[int, int] = defaultdict(int)
    for log in logs:
        if log.trace_id:
            logs_of[log.trace_id] += 1
    rows = []
    for trace_id, members in by_trace.items():
        ids = {s.span_id for s in members}
        roots = [s for s in members if s.parent_span_id not in ids or s.parent_span_id == s.span_id]
        root = min(roots or members, key=lambda s: (s.start_ns, s.span_id))
        start = min(s.start_ns for s in members)
        rows.append(
            TraceRow(
                trace_id=trace_hex(trace_id),
                root=root.name,
                service=service_of(root),
                start_ns=start,
                duration_ns=max(s.end_ns for s in members) - start,
                spans=len(members),
                errors=sum(1 for s in members if s.status_code == 2),
                logs=logs_of[trace_id],
            )
        )
    rows.sort(key=lambda r: (r.errors == 0, r.start_ns, r.trace_id))
    return rows
