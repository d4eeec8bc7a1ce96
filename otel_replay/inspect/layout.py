"""A summary or a trace → blocks of cells a renderer lays out (plain.py as text, fancy.py
with ``rich``). Every value from the input passes :func:`visible` here, once, so that no
renderer shows an escape code or markup from a recording as anything but text."""

from __future__ import annotations

from dataclasses import dataclass, field

from otel_replay.inspect.complaints import Complaints
from otel_replay.inspect.summary import NOUNS, Summary
from otel_replay.inspect.tree import TraceView
from otel_replay.inspect.values import format_number, format_span, format_time, visible

#: Longest a name, body or value is shown in a table or tree (``--json`` has them whole).
WIDTH = 100


@dataclass(frozen=True)
class Cell:
    text: str
    style: str = ""  # "", "error", "warn", "dim", "ok", "title"


@dataclass
class Table:
    title: str
    headers: list[str]
    #: Column numbers aligned right (numbers, durations).
    right: frozenset[int] = frozenset()
    rows: list[list[Cell]] = field(default_factory=list)


@dataclass
class Lines:
    title: str
    lines: list[Cell] = field(default_factory=list)
    #: Indentation (in levels) per line; empty: none.
    depths: list[int] = field(default_factory=list)


Block = Table | Lines


def counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{counts[n]} {n}" for n in NOUNS.values() if counts.get(n)) or "nothing"


def overview(s: Summary) -> Lines:
    out = Lines("")
    when = "no timestamps"
    if s.start_ns is not None and s.end_ns is not None:
        when = f"{format_time(s.start_ns)} → {format_time(s.end_ns)} ({format_span(s.end_ns - s.start_ns)})"
    ignored = f", {s.files_ignored} ignored (not .json)" if s.files_ignored else ""
    out.lines.append(Cell(f"{s.inputs} file(s){ignored}, {len(s.sessions)} session(s), {when}", "title"))
    if s.replay_offset_ns and s.start_ns is not None and s.end_ns is not None:
        moved = f"{format_time(s.start_ns + s.replay_offset_ns)} → {format_time(s.end_ns + s.replay_offset_ns)}"
        out.lines.append(Cell(f"replayed now: {moved} (moved by {format_span(s.replay_offset_ns)}; docs/time.md)"))
    kept = {NOUNS_BY_SIGNAL[k]: c.records for k, c in s.counts.items()}
    extra = []
    if dup := sum(c.duplicates for c in s.counts.values()):
        extra.append(f"{dup} duplicates skipped (copies of records read before)")
    if bad := sum(c.invalid for c in s.counts.values()):
        extra.append(f"{bad} invalid")
    dropped: dict[str, int] = {}
    for c in s.counts.values():
        for label, n in c.dropped.items():
            dropped[label] = dropped.get(label, 0) + n
    extra += [f"{n} {label}" for label, n in dropped.items()]
    out.lines.append(Cell("records: " + counts_text(kept) + "".join(f"; {e}" for e in extra)))
    for name, per in s.services.items():
        out.lines.append(Cell(f"service {visible(name, WIDTH)}: {counts_text(per)}"))
    return out


NOUNS_BY_SIGNAL = {signal.value: noun for signal, noun in NOUNS.items()}


def sessions(s: Summary) -> Lines:
    out = Lines(f"sessions ({len(s.sessions)})")
    files = {f.name: f for f in s.files}
    width = max((len(visible(name)) for session in s.sessions for name in session.files), default=0)
    for session in s.sessions:
        span = f"{format_time(session.start_ns)} → {format_time(session.end_ns)}"
        services = ", ".join(visible(v, WIDTH) for v in session.services) or "no service.name"
        out.lines.append(Cell(f"session {session.number}: {span}  {services}: {counts_text(session.records)}"))
        out.depths.append(0)
        for name in session.files:
            f = files[name]
            what = counts_text(f.records) if f.records else ""
            if f.copies:
                what += ("; " if what else "") + f"{f.copies} copies of records read before"
            out.lines.append(Cell(f"{visible(name).ljust(width)}  {what}", "" if f.records else "dim"))
            out.depths.append(1)
    empty = [f for f in s.files if f.start_ns is None]
    if empty:
        out.lines.append(Cell("nothing to replay from:"))
        out.depths.append(0)
        for f in empty:
            out.lines.append(Cell(visible(f.name), "dim"))
            out.depths.append(1)
    return out


def traces(s: Summary) -> Table:
    failing = sum(1 for t in s.traces if t.errors)
    table = Table(
        f"traces ({len(s.traces)}, {failing} with errors)",
        ["TRACE ID", "ROOT SPAN", "START", "DURATION", "SPANS", "ERRORS", "LOGS"],
        frozenset({3, 4, 5, 6}),
    )
    for t in s.traces:
        style = "error" if t.errors else ""
        table.rows.append(
            [
                Cell(t.trace_id, style),
                Cell(visible(t.root, WIDTH), style),
                Cell(format_time(t.start_ns)),
                Cell(format_span(t.duration_ns)),
                Cell(str(t.spans)),
                Cell(str(t.errors), style),
                Cell(str(t.logs)),
            ]
        )
    return table


def value_text(value: object) -> str:
    if isinstance(value, dict):
        return " ".join(f"{k}={format_number(v)}" for k, v in value.items())
    return format_number(value)


def metrics(s: Summary) -> Table:
    table = Table(
        f"metrics ({len(s.metrics)})", ["NAME", "TYPE", "UNIT", "POINTS", "SERIES", "LAST VALUE"], frozenset({3, 4})
    )
    for m in s.metrics:
        table.rows.append(
            [
                Cell(visible(m.name, WIDTH)),
                Cell(m.type),
                Cell(visible(m.unit, 20)),
                Cell(str(m.points)),
                Cell(str(len(m.series))),
                Cell(visible(value_text(m.last_value), WIDTH)),
            ]
        )
    return table


def problems(said: Complaints) -> Lines:
    """What replay would print after its counts, line for line (made visible)."""
    if not said.lines:
        return Lines("problems: none (replay would not complain)")
    out = Lines("what replay would report" if said.exit_status else "problems: none")
    for line in said.lines:
        style = "warn" if line.startswith(("hint: ", "warning: ")) else "error"
        out.lines.append(Cell(visible(line), style))
    return out


def summary_blocks(s: Summary) -> list[Block]:
    blocks: list[Block] = [overview(s), sessions(s)]
    if s.traces:
        blocks.append(traces(s))
    if s.metrics:
        blocks.append(metrics(s))
    blocks.append(problems(s.complaints))
    return blocks


def trace_blocks(view: TraceView) -> Lines:
    """The tree: one line per span, event and log record, indented by depth."""
    title = (
        f"trace {view.trace_id}: {format_time(view.start_ns)}, {format_span(view.duration_ns)}, "
        f"{view.spans} span(s), {view.errors} error(s), {view.logs} log record(s)"
    )
    out = Lines(title)
    for line in view.lines:
        at = f"+{format_span(line.offset_ns)}"
        if line.kind == "span":
            status = f" {line.status}" if line.status else ""
            detail = f": {visible(line.detail, WIDTH)}" if line.detail else ""
            orphan = f" (parent {line.missing_parent} is not in the input)" if line.missing_parent else ""
            text = f"{visible(line.text, WIDTH)}  {format_span(line.duration_ns or 0)}{status}{detail}  {at}{orphan}"
            style = "error" if line.status == "ERROR" else ""
        elif line.kind == "event":
            text, style = f"◆ {visible(line.text, WIDTH)}{_exception(line.attributes)}  {at}", "dim"
        else:
            severity = visible(line.status, 10) or "LOG"
            text = f"▪ {severity} {visible(line.text, WIDTH)}  {at}"
            style = "error" if severity.upper().startswith(("ERROR", "FATAL")) else "warn" if "WARN" in severity else ""
        out.lines.append(Cell(text, style))
        out.depths.append(line.depth)
    return out


def _exception(attributes: dict[str, object]) -> str:
    """An exception event's type and message (its stack trace is in --json)."""
    kind, message = attributes.get("exception.type"), attributes.get("exception.message")
    shown = ": ".join(visible(v, WIDTH) for v in (kind, message) if v is not None)
    return f": {shown}" if shown else ""
