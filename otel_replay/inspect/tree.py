"""One trace as an indented tree: its spans nested under their parents, and under each
span its events and the log records that carry its span id, all in time order. Pure:
records → :class:`TraceView`, a list of lines with a depth (built without recursion, so
a trace nested ten thousand deep is shown too).

A span whose parent is not in the trace starts a tree of its own (``missing_parent``
names the parent); so do the spans of a parent cycle. Log records that carry the trace
id but no span of it sit at the top level, in time order.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from otel_replay.inspect.values import span_hex, trace_hex
from otel_replay.model import LogRecord, SpanRecord

STATUS = {0: "", 1: "OK", 2: "ERROR"}


@dataclass
class TreeLine:
    depth: int
    kind: str  # "span", "event" or "log"
    #: From the trace's start.
    offset_ns: int
    text: str
    duration_ns: int | None = None  # spans
    status: str = ""  # spans: "", "OK", "ERROR"; logs: the severity text
    detail: str | None = None  # a span's status message; a log record's severity number
    span_id: str | None = None
    missing_parent: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class TraceView:
    trace_id: str
    start_ns: int
    duration_ns: int
    spans: int
    errors: int
    logs: int
    lines: list[TreeLine]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def trace_view(trace_id: int, spans: list[SpanRecord], logs: list[LogRecord]) -> TraceView:
    """The tree of ``trace_id`` among ``spans`` and ``logs`` (others are ignored)."""
    mine = sorted((s for s in spans if s.trace_id == trace_id), key=lambda s: (s.start_ns, s.span_id))
    my_logs = sorted((r for r in logs if r.trace_id == trace_id), key=lambda r: r.time_ns)
    times = [t for s in mine for t in (s.start_ns, s.end_ns)] + [r.time_ns for r in my_logs]
    start = min(times, default=0)
    ids = {s.span_id for s in mine}
    children: dict[int, list[SpanRecord]] = defaultdict(list)
    roots: list[SpanRecord] = []
    for s in mine:
        if s.parent_span_id and s.parent_span_id in ids and s.parent_span_id != s.span_id:
            children[s.parent_span_id].append(s)
        else:
            roots.append(s)
    logs_of: dict[int, list[LogRecord]] = defaultdict(list)
    loose: list[LogRecord] = []
    for r in my_logs:
        (logs_of[r.span_id] if r.span_id in ids else loose).append(r)
    lines: list[TreeLine] = []
    done: set[int] = set()  # by id(): a span id may repeat (OTLP input replays as recorded)
    top: list[tuple[int, object]] = [(s.start_ns, s) for s in roots] + [(r.time_ns, r) for r in loose]
    _walk(sorted(top, key=_order), 0, start, children, logs_of, lines, done)
    for s in mine:  # a parent cycle: no root leads there
        if id(s) not in done:
            _walk([(s.start_ns, s)], 0, start, children, logs_of, lines, done)
    return TraceView(
        trace_id=trace_hex(trace_id),
        start_ns=start,
        duration_ns=max(times, default=0) - start,
        spans=len(mine),
        errors=sum(1 for s in mine if s.status_code == 2),
        logs=len(my_logs),
        lines=lines,
    )


def _order(item: tuple[int, object]) -> tuple[int, int]:
    """Time order; at the same instant an event or log record before a span (which then
    holds what happens later)."""
    return item[0], 1 if isinstance(item[1], SpanRecord) else 0


def _walk(
    items: list[tuple[int, object]],
    depth: int,
    start: int,
    children: dict[int, list[SpanRecord]],
    logs_of: dict[int, list[LogRecord]],
    lines: list[TreeLine],
    done: set[int],
) -> None:
    """Depth first, with an explicit stack: each span's line, then its contents in time order."""
    stack = [(depth, item) for item in reversed(items)]
    while stack:
        depth, (_, item) = stack.pop()
        if isinstance(item, LogRecord):
            lines.append(_log_line(item, depth, start))
            continue
        if isinstance(item, tuple):  # an event: (event, span)
            event = item[0]
            lines.append(TreeLine(depth, "event", event.time_ns - start, event.name, attributes=event.attributes))
            continue
        assert isinstance(item, SpanRecord)
        if id(item) in done:
            continue
        done.add(id(item))
        lines.append(_span_line(item, depth, start, children))
        inside: list[tuple[int, object]] = [(c.start_ns, c) for c in children.get(item.span_id, [])]
        inside += [(e.time_ns, (e, item)) for e in item.events]
        inside += [(r.time_ns, r) for r in logs_of.get(item.span_id, [])]
        stack.extend((depth + 1, x) for x in reversed(sorted(inside, key=_order)))


def _span_line(span: SpanRecord, depth: int, start: int, children: dict[int, list[SpanRecord]]) -> TreeLine:
    orphan = depth == 0 and span.parent_span_id != 0
    return TreeLine(
        depth,
        "span",
        span.start_ns - start,
        span.name,
        duration_ns=span.end_ns - span.start_ns,
        status=STATUS.get(span.status_code, str(span.status_code)),
        detail=span.status_message or None,
        span_id=span_hex(span.span_id),
        missing_parent=span_hex(span.parent_span_id) if orphan else None,
        attributes=span.attributes,
    )


def _log_line(record: LogRecord, depth: int, start: int) -> TreeLine:
    severity = record.severity_text or (str(record.severity_number) if record.severity_number else "")
    body = record.body
    return TreeLine(
        depth,
        "log",
        record.time_ns - start,
        body if isinstance(body, str) else json.dumps(body, ensure_ascii=False, default=str),
        status=severity,
        span_id=span_hex(record.span_id) if record.span_id else None,
        attributes=record.attributes,
    )
