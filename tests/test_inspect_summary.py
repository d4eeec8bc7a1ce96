"""The pure parts of ``inspect``: records → summary, a trace → its tree, values → visible text."""

from __future__ import annotations

from otel_replay.collect import Collected
from otel_replay.inspect.layout import summary_blocks, trace_blocks
from otel_replay.inspect.metrics import summarise_metrics
from otel_replay.inspect.plain import render
from otel_replay.inspect.summary import summarise
from otel_replay.inspect.tree import trace_view
from otel_replay.inspect.values import format_span, visible
from otel_replay.model import LogRecord, Metric, MetricKind, MetricPoint, Origin, Signal, SpanEvent, SpanRecord
from otel_replay.stats import DUPLICATES

MS = 10**6
T0 = 1_795_539_600_000 * MS
RES = (("service.name", "svc"),)


def span(trace: int, sid: int, parent: int, name: str, start_ms: float, end_ms: float, **kw: object) -> SpanRecord:
    fields: dict = dict(
        trace_id=trace,
        span_id=sid,
        parent_span_id=parent,
        name=name,
        kind=0,
        start_ns=T0 + int(start_ms * MS),
        end_ns=T0 + int(end_ms * MS),
        status_code=0,
        status_message=None,
        attributes={},
        events=[],
        resource=RES,
        origin=Origin("a.json", sid),
    )
    fields.update(kw)
    return SpanRecord(**fields)


def log(trace: int, sid: int, at_ms: float, body: object = "hi", source: str = "a-logs.json") -> LogRecord:
    return LogRecord(T0 + int(at_ms * MS), 9, "INFO", body, {}, trace, sid, RES, Origin(source, 0))


def point(name: str, value: float, at_ms: float, **attrs: object) -> MetricPoint:
    metric = Metric(name, MetricKind.SUM, unit="{call}", monotonic=True)
    return MetricPoint(metric, dict(attrs), 0, T0 + int(at_ms * MS), value, RES, Origin("m.json", 0))


def test_traces_with_errors_come_first_and_each_row_counts_its_spans_errors_and_logs() -> None:
    ok = [span(1, 1, 0, "ok.root", 0, 50), span(1, 2, 1, "ok.child", 10, 20)]
    bad = [span(2, 3, 9, "bad.root", 100, 400), span(2, 4, 3, "bad.child", 150, 200, status_code=2)]
    found = Collected(records=[*ok, *bad, log(2, 4, 160), log(2, 0, 170), log(0, 0, 5)], inputs=["a.json"])
    rows = summarise(found).traces
    assert [(r.root, r.spans, r.errors, r.logs) for r in rows] == [("bad.root", 2, 1, 2), ("ok.root", 2, 0, 0)]
    assert rows[0].trace_id == f"{2:032x}" and rows[0].duration_ns == 300 * MS and rows[0].start_ns == T0 + 100 * MS


def test_files_overlapping_in_time_are_one_session_and_copies_count_apart() -> None:
    first = [span(1, 1, 0, "a", 0, 1000)]
    later = span(2, 2, 0, "b", 60_000, 61_000, origin=Origin("b.json", 0))
    copy = span(2, 2, 0, "b", 60_000, 61_000, origin=Origin("latest.json", 0))
    logs = [log(1, 1, 500), log(2, 2, 59_500, source="b-logs.json"), log(2, 2, 60_500, source="b-logs.json")]
    found = Collected(
        records=[*first, later, *logs],
        copies=[copy],
        inputs=["a.json", "a-logs.json", "b.json", "b-logs.json", "latest.json", "empty.json"],
    )
    found.stats.dropped(Signal.TRACES, DUPLICATES)
    s = summarise(found)
    assert [x.files for x in s.sessions] == [["a.json", "a-logs.json"], ["b-logs.json", "b.json", "latest.json"]]
    assert s.sessions[1].records == {"spans": 1, "logs": 2}
    latest = next(f for f in s.files if f.name == "latest.json")
    assert (latest.records, latest.copies) == ({}, 1)
    assert next(f for f in s.files if f.name == "empty.json").start_ns is None
    assert s.counts["traces"].duplicates == 1 and s.counts["traces"].records == 2
    assert (s.start_ns, s.end_ns) == (T0, T0 + 61_000 * MS)
    assert s.services == {"svc": {"spans": 2, "logs": 3}}


def test_json_lines_records_belong_to_their_file_not_to_a_line() -> None:
    rec = log(0, 0, 1, source="dump.jsonl:7")
    s = summarise(Collected(records=[rec], inputs=["dump.jsonl"]))
    assert [(f.name, f.records) for f in s.files] == [("dump.jsonl", {"logs": 1})]


def test_a_metric_row_has_its_points_series_and_newest_value() -> None:
    rows = summarise_metrics(
        [point("calls", 1, 0, engine="a"), point("calls", 5, 20, engine="b"), point("calls", 2, 10, engine="a")]
    )
    (row,) = rows
    assert (row.name, row.type, row.unit, row.points, row.last_value) == ("calls", "counter", "{call}", 3, 5)
    assert [(x.attributes, x.points, x.last_value) for x in row.series] == [
        ({"engine": "a"}, 2, 2),
        ({"engine": "b"}, 1, 5),
    ]


def test_the_tree_nests_spans_and_puts_events_and_logs_inside_their_span_in_time() -> None:
    boom = SpanEvent("exception", T0 + 30 * MS, {"exception.type": "E", "exception.message": "bad"})
    spans = [
        span(7, 1, 0, "root", 0, 100),
        span(7, 3, 1, "second", 50, 90),
        span(7, 2, 1, "first", 10, 40, status_code=2, status_message="broke", events=[boom]),
        span(8, 9, 0, "other trace", 0, 1),
    ]
    logs = [log(7, 2, 20, "inside first"), log(7, 1, 45, "between"), log(7, 0, 95, "no span"), log(8, 9, 0, "x")]
    view = trace_view(7, spans, logs)
    shape = [(ln.depth, ln.kind, ln.text) for ln in view.lines]
    assert shape == [
        (0, "span", "root"),
        (1, "span", "first"),
        (2, "log", "inside first"),
        (2, "event", "exception"),
        (1, "log", "between"),
        (1, "span", "second"),
        (0, "log", "no span"),
    ]
    assert (view.spans, view.errors, view.logs) == (3, 1, 3)
    text = render([trace_blocks(view)])
    assert "first  30.0ms ERROR: broke  +10.0ms" in text and "◆ exception: E: bad" in text


def test_a_missing_parent_and_a_parent_cycle_still_show_every_span() -> None:
    spans = [span(1, 1, 5, "orphan", 0, 10), span(1, 2, 3, "a", 1, 2), span(1, 3, 2, "b", 1, 2)]
    view = trace_view(1, spans, [])
    assert sorted(ln.text for ln in view.lines) == ["a", "b", "orphan"]
    assert view.lines[0].missing_parent == f"{5:016x}"


def test_a_very_deep_trace_is_shown_without_recursion() -> None:
    spans = [span(1, i, i - 1 if i > 1 else 0, f"s{i}", i, 10_000) for i in range(1, 5001)]
    view = trace_view(1, spans, [])
    assert [ln.depth for ln in view.lines] == list(range(5000))
    assert "[4999] s5000" in render([trace_blocks(view)])


def test_values_from_the_input_cannot_drive_a_terminal() -> None:
    hostile = "[bold]x[/] \x1b]0;title\x07\x1b[2J\r\n\u202eevil\x9b"
    shown = visible(hostile)
    assert shown == "[bold]x[/] \\x1b]0;title\\x07\\x1b[2J\\x0d\\x0a\\u202eevil\\x9b"
    assert visible({"k": [1, "\x1b"]}) == '{"k":[1,"\\u001b"]}'
    assert visible("abcdef", limit=4) == "abc…"


def test_durations_are_short() -> None:
    assert [format_span(n) for n in (950_000, 182_700_000, 2_350_000_000, 192 * 10**9, 7500 * 10**9)] == [
        "950µs",
        "182.7ms",
        "2.35s",
        "3m 12s",
        "2h 5m",
    ]


def test_every_value_in_the_summary_text_is_made_visible() -> None:
    name = "\x1b[31mred\x1b[0m"
    found = Collected(records=[span(1, 1, 0, name, 0, 1), point(name, 1, 0, **{"k": name})], inputs=[name])
    found.stats.problem(f"{name}: invalid")
    found.stats.hint(name)
    text = render(summary_blocks(summarise(found)))
    assert "\x1b" not in text and text.count("\\x1b[31mred\\x1b[0m") >= 4


def _terminal_output(blocks: list) -> str:
    import io

    from rich.console import Console

    from otel_replay.inspect import fancy

    out = io.StringIO()
    console = Console(file=out, force_terminal=True, color_system="standard", width=200, highlight=False, markup=False)
    fancy.show(console, blocks)
    return out.getvalue()


def test_a_large_table_or_tree_on_a_terminal_is_aligned_text_with_the_same_cells() -> None:
    import re

    from otel_replay.inspect.fancy import RICH_ROWS

    hostile = "[b]x[/b]\x1b]0;t\x07"
    spans = [span(i, i, 0, f"{hostile}{i}", i, i + 1, status_code=2 if i == 3 else 0) for i in range(1, RICH_ROWS + 2)]
    blocks = summary_blocks(summarise(Collected(records=list(spans), inputs=["a.json"])))
    shown = _terminal_output(blocks)
    assert "\x1b[1;31m" in shown  # the error row in colour
    plain = re.sub(r"\x1b\[[0-9;]*m", "", shown)
    assert "\x1b" not in plain and "\x07" not in plain
    rows = [ln for ln in plain.splitlines() if "[b]x[/b]\\x1b]0;t\\x07" in ln]
    assert len(rows) == RICH_ROWS + 1
    assert rows == [ln for ln in render(blocks).splitlines() if "[b]x[/b]" in ln]  # aligned as the plain text
    deep = [span(1, i, i - 1, f"s{i}", i, 10_000) for i in range(1, RICH_ROWS + 2)]
    tree = re.sub(r"\x1b\[[0-9;]*m", "", _terminal_output([trace_blocks(trace_view(1, deep, []))]))
    assert tree.splitlines()[1:] == render([trace_blocks(trace_view(1, deep, []))]).splitlines()[1:]


def test_a_small_table_and_tree_on_a_terminal_are_drawn_by_rich() -> None:
    spans = [span(1, 1, 0, "root", 0, 10), span(1, 2, 1, "child", 1, 2)]
    shown = _terminal_output(
        [*summary_blocks(summarise(Collected(records=spans))), trace_blocks(trace_view(1, spans, []))]
    )
    assert "─────" in shown and "└── " in shown  # rich's table rule and tree guides


def test_the_complaints_are_replays_own_lines_and_exit_status() -> None:
    from otel_replay.inspect.complaints import complaints

    found = Collected(records=[span(1, 1, 0, "a", 0, 1)], inputs=["a.json"])
    found.stats.file_read()
    found.stats.sent(Signal.TRACES, 1)
    assert (complaints(found.stats).lines, complaints(found.stats).exit_status) == ([], 0)
    found.stats.invalid(Signal.TRACES, Origin("a.json", 3), "spanId 'zz' is not hex", "spanId is not hex")
    found.stats.hint("a hint")
    said = complaints(found.stats)
    assert said.lines == ["problems (1):", "  a.json[3]: invalid span: spanId 'zz' is not hex", "hint: a hint"]
    assert said.exit_status == 1 and said.problem_count == 1 and said.problems[0]["reason_kind"] == "spanId is not hex"
    nothing = complaints(Collected().stats)
    assert nothing.lines == ["nothing replayed: no input files found"] and nothing.exit_status == 1
