"""Stages — time shift and filters: the pure parts by table, and the flags end to end."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_replay.config import parse_duration, parse_instant
from otel_replay.model import (
    Exemplar,
    LogRecord,
    Metric,
    MetricKind,
    MetricPoint,
    Origin,
    ResourceOverrides,
    Scope,
    Signal,
    SpanEvent,
    SpanRecord,
)
from otel_replay.report import format_duration
from otel_replay.resume import ResumeState
from otel_replay.stages.dedup import SeenCheck, identify, log_identity, point_identity
from otel_replay.stages.filters import ServiceFilter, TimeWindow, TraceIdFilter
from otel_replay.stages.resource import ResourceRewrite, override_resource
from otel_replay.stages.timeshift import TimeShift, newest_ns, oldest_ns, shift_record
from otel_replay.stats import DELIVERED, DUPLICATES
from tests.fakes.loki import LokiReceiver
from tests.fakes.otlp import OtlpReceiver
from tests.helpers import EXAMPLE, log_doc, log_file, replay_json, span_doc, trace_file
from tests.otlp_samples import metrics_of, points_of, read_lines, spans_in

S = 10**9
TRACE_A, TRACE_B = "0af7651916cd43dd8448eb211c80319c", "1bf7651916cd43dd8448eb211c80319d"


def span(start: int, end: int, trace: int = 1, events: tuple[int, ...] = (), service: str = "a") -> SpanRecord:
    return SpanRecord(
        trace, 2, 0, "op", 0, start, end, 0, None, {}, [SpanEvent("e", t, {}) for t in events],
        (("service.name", service),), Origin("f", 0),
    )  # fmt: skip


def log(t: int, trace: int = 0, service: str = "a") -> LogRecord:
    return LogRecord(t, 9, None, "x", {}, trace, 0, (("service.name", service),), Origin("f", 0))


@pytest.mark.parametrize(
    ("text", "ns"),
    [("-3d", -3 * 86400 * S), ("90m", 5400 * S), ("1h30m", 5400 * S), ("+2.5h", 9000 * S), ("250ms", 250_000_000)],
)
def test_parse_duration(text: str, ns: int) -> None:
    assert parse_duration(text) == ns


@pytest.mark.parametrize("text", ["", "3", "3q", "h", "1h 2x", "--3d"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


NOW = 1_795_550_000 * S


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("now", NOW),
        ("2h", NOW - 7200 * S),
        ("2026-11-24T17:00:00Z", 1_795_539_600 * S),
        ("2026-11-24T18:00:00+01:00", 1_795_539_600 * S),
        ("2026-11-24T17:00:00", 1_795_539_600 * S),  # no zone: UTC
        ("2026-11-24T17:00:00.5Z", 1_795_539_600 * S + S // 2),
        ("1795539600", 1_795_539_600 * S),
        ("1795539600000", 1_795_539_600 * S),
    ],
)
def test_parse_instant(text: str, ns: int) -> None:
    assert parse_instant(text, NOW) == ns


def test_parse_instant_refuses_junk() -> None:
    with pytest.raises(ValueError, match="not a time"):
        parse_instant("yesterday-ish", NOW)


@pytest.mark.parametrize(
    ("ns", "text"),
    [(3 * 86400 * S + 4 * 3600 * S + 12 * 60 * S, "+3d 4h 12m"), (-90 * S, "-1m 30s"), (250_000_000, "+250ms")],
)
def test_format_duration(ns: int, text: str) -> None:
    assert format_duration(ns) == text


def test_time_shift_moves_every_timestamp_by_one_offset() -> None:
    s = TimeShift(10 * S).apply(span(1 * S, 2 * S, events=(int(1.5 * S),)))
    assert isinstance(s, SpanRecord)
    assert (s.start_ns, s.end_ns, s.events[0].time_ns) == (11 * S, 12 * S, int(11.5 * S))
    rec = TimeShift(-S).apply(log(5 * S))
    assert isinstance(rec, LogRecord) and rec.time_ns == 4 * S


def test_time_shift_drops_what_would_land_before_the_epoch() -> None:
    assert TimeShift(-10 * S).apply(span(5 * S, 20 * S)) is None


def test_newest_counts_events_after_the_end() -> None:
    assert newest_ns(span(1, 5, events=(9,))) == 9
    assert newest_ns(log(7)) == 7


def test_time_window_keeps_spans_that_overlap_it() -> None:
    w = TimeWindow(10 * S, 20 * S)
    assert w.apply(span(5 * S, 12 * S)) is not None  # began before, still running
    assert w.apply(span(5 * S, 9 * S)) is None
    assert w.apply(span(20 * S, 21 * S)) is None  # until is exclusive
    assert w.apply(log(10 * S)) is not None and w.apply(log(20 * S)) is None


def test_trace_and_service_filters() -> None:
    t = TraceIdFilter([7])
    assert t.apply(span(1, 2, trace=7)) is not None and t.apply(span(1, 2, trace=8)) is None
    assert t.apply(log(1, trace=7)) is not None and t.apply(log(1)) is None
    f = ServiceFilter(["a"])
    assert f.apply(log(1, service="a")) is not None and f.apply(log(1, service="b")) is None


def point(time: int, start: int = 0, exemplars: tuple[int, ...] = (), service: str = "a") -> MetricPoint:
    return MetricPoint(
        Metric("m", MetricKind.SUM), {"k": "v"}, start, time, 1.5, (("service.name", service),), Origin("f", 0),
        exemplars=[Exemplar(t, 2) for t in exemplars],
    )  # fmt: skip


def test_newest_and_oldest_look_at_every_time_a_record_carries() -> None:
    assert (oldest_ns(span(10, 20, events=(15,))), newest_ns(span(10, 20, events=(15,)))) == (10, 20)
    assert (oldest_ns(span(10, 20, events=(5, 25))), newest_ns(span(10, 20, events=(5, 25)))) == (5, 25)
    assert (oldest_ns(log(7)), newest_ns(log(7))) == (7, 7)
    assert (oldest_ns(point(50, start=30)), newest_ns(point(50, start=30))) == (30, 50)
    assert (oldest_ns(point(50)), newest_ns(point(50))) == (50, 50)  # no start: the time
    assert (oldest_ns(point(50, exemplars=(40, 60))), newest_ns(point(50, exemplars=(40, 60)))) == (40, 60)
    assert oldest_ns(point(50, exemplars=(0,))) == 50  # an exemplar without a time


def test_shift_moves_every_time_and_leaves_the_missing_ones_missing() -> None:
    s = shift_record(span(10, 20, events=(15,)), 100)
    assert isinstance(s, SpanRecord) and (s.start_ns, s.end_ns, s.events[0].time_ns) == (110, 120, 115)
    rec = log(7)
    rec.observed_ns = 9
    shifted = shift_record(rec, 100)
    assert isinstance(shifted, LogRecord) and (shifted.time_ns, shifted.observed_ns) == (107, 109)
    untimed = log(0)
    untimed.observed_ns = 0
    assert (untimed.time_ns, untimed.observed_ns) == (0, 0)
    shift_record(untimed, 100)
    assert (untimed.time_ns, untimed.observed_ns) == (0, 0)  # no time: still none
    p = shift_record(point(50, start=30, exemplars=(40, 0)), 100)
    assert isinstance(p, MetricPoint)
    assert (p.start_ns, p.time_ns, [e.time_ns for e in p.exemplars]) == (130, 150, [140, 0])
    gauge = shift_record(point(50), 100)
    assert isinstance(gauge, MetricPoint) and (gauge.start_ns, gauge.time_ns) == (0, 150)


def test_a_shift_to_exactly_the_epoch_is_kept_one_before_is_dropped() -> None:
    assert TimeShift(-10).apply(span(10, 20)) is not None
    assert TimeShift(-11).apply(span(10, 20)) is None
    assert TimeShift(-5).apply(span(10, 20, events=(4,))) is None  # an event before the start counts
    assert TimeShift(-30).apply(point(50, start=30)) is not None
    assert TimeShift(-31).apply(point(50, start=30)) is None


def test_the_window_keeps_what_touches_since_and_drops_what_starts_at_until() -> None:
    w = TimeWindow(10, 20)
    assert w.apply(span(0, 10)) is not None and w.apply(span(0, 9)) is None
    assert w.apply(span(19, 30)) is not None and w.apply(span(20, 30)) is None
    assert w.apply(log(10)) is not None and w.apply(log(9)) is None and w.apply(log(19)) is not None
    assert w.apply(point(10)) is not None and w.apply(point(20, start=5)) is None  # a point's time counts
    assert TimeWindow(None, 20).apply(log(0)) is not None and TimeWindow(10, None).apply(log(10**18)) is not None
    assert TimeWindow(None, None).apply(span(0, 1)) is not None


def test_trace_ids_keep_spans_and_logs_of_those_traces_never_points() -> None:
    t = TraceIdFilter([7, 9])
    assert t.apply(span(1, 2, trace=9)) is not None and t.apply(log(1, trace=7)) is not None
    assert t.apply(point(1)) is None and t.apply(log(1, trace=8)) is None


def test_services_are_matched_by_service_name_once_per_resource() -> None:
    f = ServiceFilter(["a", "c"])
    assert f.apply(log(1, service="a")) is not None and f.apply(point(1, service="c")) is not None
    assert f.apply(log(1, service="b")) is None and f.apply(log(2, service="b")) is None
    nameless = log(1)
    nameless.resource = (("host", "a"),)
    assert f.apply(nameless) is None  # a resource without service.name matches no name
    assert f.apply(log(3, service="a")) is not None  # the cached verdict is the resource's own


def test_overrides_win_later_keys_first_and_the_resource_stays_sorted() -> None:
    resource = (("service.name", "codemachine"), ("z", 1))
    overrides = ResourceOverrides("bug-1", (("a", "x"), ("z", "2"), ("service.name", "ignored")))
    assert override_resource(resource, overrides) == (("a", "x"), ("service.name", "bug-1"), ("z", "2"))
    assert override_resource(resource, ResourceOverrides(None, (("z", 3),))) == (
        ("service.name", "codemachine"), ("z", 3),
    )  # fmt: skip
    rewrite = ResourceRewrite(ResourceOverrides("svc", ()))
    first, second = log(1, service="a"), log(2, service="a")
    assert rewrite.apply(first) is first and first.resource == (("service.name", "svc"),)
    assert rewrite.apply(second) is second and second.resource is first.resource  # built once per resource


def _with(rec: object, **fields: object) -> object:
    for name, value in fields.items():
        setattr(rec, name, value)
    return rec


def test_a_log_records_identity_is_all_it_carries_and_nothing_else() -> None:
    base = log_identity(log(5, trace=1))
    assert log_identity(log(5, trace=1)) == base and len(base) == 16
    for change in (
        {"time_ns": 6}, {"severity_number": 10}, {"severity_text": "WARN"}, {"body": "y"}, {"attributes": {"a": 1}},
        {"trace_id": 2}, {"span_id": 3}, {"resource": (("service.name", "b"),)},
    ):  # fmt: skip
        assert log_identity(_with(log(5, trace=1), **change)) != base, change  # type: ignore[arg-type]
    assert log_identity(_with(log(5, trace=1), origin=Origin("g", 9))) == base  # type: ignore[arg-type]


def test_a_points_identity_is_all_it_carries_and_nothing_else() -> None:
    base = point_identity(point(50, start=30, exemplars=(40,)))
    assert len(base) == 16
    for change in (
        {"metric": Metric("n", MetricKind.SUM)}, {"scope": Scope("s")}, {"resource": (("service.name", "b"),)},
        {"attributes": {"k": "w"}}, {"start_ns": 31}, {"time_ns": 51}, {"value": 2.5}, {"exemplars": []},
    ):  # fmt: skip
        assert point_identity(_with(point(50, start=30, exemplars=(40,)), **change)) != base, change  # type: ignore[arg-type]
    assert point_identity(_with(point(50, start=30, exemplars=(40,)), origin=Origin("g", 9))) == base  # type: ignore[arg-type]


def test_identify_sets_the_digest_of_logs_and_points_and_keys_spans_by_their_ids() -> None:
    rec, p = log(5), point(50)
    assert identify(rec) == rec.key == log_identity(rec)
    assert identify(p) == p.key == point_identity(p)
    assert identify(span(1, 2, trace=3)) == (3 << 64) | 2


def test_seen_check_drops_repeats_per_signal_and_what_the_journal_has(tmp_path: Path) -> None:
    state = ResumeState(str(tmp_path / "state"))
    state.start(0, {})
    state.acknowledge(Signal.TRACES, [5])
    check = SeenCheck(state)
    assert check.verdicts(Signal.TRACES, [1, 5, 1, 2]) == [None, DELIVERED, DUPLICATES, None]
    assert check.verdicts(Signal.LOGS, [1, 5]) == [None, None]  # another signal's keys are its own
    assert check.verdicts(Signal.TRACES, [2, 3]) == [DUPLICATES, None]  # across batches of the run
    # as recorded (OTLP input): repeats go out, nothing is remembered; the journal still counts
    assert check.verdicts(Signal.METRICS, [9, 9, 5], as_recorded=True) == [None, None, None]
    assert check.verdicts(Signal.TRACES, [4, 4, 5], as_recorded=True) == [None, None, DELIVERED]
    assert check.verdicts(Signal.TRACES, [4]) == [None]  # the as-recorded 4 was not remembered
    assert SeenCheck().verdicts(Signal.TRACES, [5, 5]) == [None, DUPLICATES]  # no journal
    state.close()


def test_records_are_checked_by_their_keys() -> None:
    a, b = log(5), log(5)
    assert SeenCheck().records(Signal.LOGS, [a, b, log(6)]) == [None, DUPLICATES, None]
    assert a.key == b.key != b""


# -- the flags, end to end ------------------------------------------------------------------
@pytest.mark.parametrize("workers", ["1", "2"])  # with 2, workers share the first pass too
def test_shift_to_now_lands_the_newest_record_now_and_keeps_relative_timing(
    collector: OtlpReceiver, tmp_path: Path, workers: str
) -> None:
    with LokiReceiver() as loki:  # Loki's real clock: unshifted, these entries are days old
        before = time.time_ns()
        code, summary = replay_json(
            str(EXAMPLE), "--otlp-endpoint", collector.url, "--loki-url", loki.url, "--shift-to-now",
            "--workers", workers,
        )  # fmt: skip
        after = time.time_ns()
        assert code == 0, summary
        entries = loki.entries()
    offset = summary["time_offset_ns"]
    spans = [s for _, _, s in collector.spans()]
    points = [p for m in metrics_of(collector.requests["/v1/metrics"]) for p in points_of(m)]
    assert len(points) == summary["signals"]["metrics"]["sent"] == 111
    newest = max([s.end_time_unix_nano for s in spans] + [e[1] for e in entries] + [p.time_unix_nano for p in points])
    assert before <= newest <= after
    assert len(entries) == summary["signals"]["logs"]["sent"] == 44
    # one offset for everything: the original times are recovered by subtracting it
    code, _ = replay_json(str(EXAMPLE), "--output", str(tmp_path / "o"))
    assert code == 0
    original = {(s.span_id, s.start_time_unix_nano + offset) for s in _spans_from(tmp_path / "o")}
    assert original == {(s.span_id, s.start_time_unix_nano) for s in spans}


def _spans_from(out: Path) -> list:
    return spans_in(read_lines(out / "traces.jsonl", ExportTraceServiceRequest))


def test_time_offset_moves_by_the_given_amount(tempo: OtlpReceiver, tmp_path: Path) -> None:
    trace_file(tmp_path / "t.json", [span_doc()])
    code, summary = replay_json(str(tmp_path), "--otlp-endpoint", tempo.url, "--traces-only", "--time-offset", "-1d")
    assert code == 0 and summary["time_offset_ns"] == -86400 * S
    ((_, _, s),) = tempo.spans()
    assert s.start_time_unix_nano == 1_795_539_600_000_000_000 - 86400 * S


def test_trace_id_filter_keeps_that_trace_and_its_logs(tempo: OtlpReceiver, tmp_path: Path) -> None:
    trace_file(tmp_path / "t.json", [span_doc(TRACE_A, "00000000000000a1"), span_doc(TRACE_B, "00000000000000b1")])
    log_file(
        tmp_path / "t-logs.json",
        [
            log_doc(attributes={"trace.id": TRACE_A}),
            log_doc(attributes={"trace.id": TRACE_B}),
            log_doc(attributes={}),
        ],
    )
    code, summary = replay_json(str(tmp_path), "--output", str(tmp_path / "o"), "--trace-id", TRACE_A.upper())
    assert code == 0
    assert [s.trace_id.hex() for s in _spans_from(tmp_path / "o")] == [TRACE_A]
    assert summary["signals"]["logs"]["sent"] == 1
    assert summary["signals"]["logs"]["dropped"] == {"not in --trace-id": 2}
    assert summary["signals"]["traces"]["dropped"] == {"not in --trace-id": 1}


def test_service_and_window_filters_from_the_command_line(tmp_path: Path) -> None:
    trace_file(tmp_path / "a.json", [span_doc(span_id="00000000000000a1")], service="alpha")
    trace_file(tmp_path / "b.json", [span_doc(span_id="00000000000000b1")], service="beta")
    code, summary = replay_json(str(tmp_path), "--dry-run", "--service", "beta")
    assert code == 0 and summary["signals"]["traces"]["sent"] == 1
    code, summary = replay_json(str(tmp_path), "--dry-run", "--since", "2026-11-24T17:00:01Z")
    assert summary["signals"]["traces"]["dropped"] == {"outside --since/--until": 2}
    code, summary = replay_json(str(tmp_path), "--dry-run", "--until", "2026-11-24T17:00:01Z")
    assert summary["signals"]["traces"]["sent"] == 2
    code, summary = replay_json(str(tmp_path), "--dry-run", "--until", "2026-11-24T16:59:59Z")
    traces = summary["signals"]["traces"]
    assert (traces["sent"], traces["dropped"]) == (0, {"outside --since/--until": 2})


def test_shift_to_now_reads_stdin_twice(tempo: OtlpReceiver, tmp_path: Path) -> None:
    data = trace_file(tmp_path / "t.json", [span_doc()]).read_bytes()
    before = time.time_ns()
    code, summary = replay_json("-", "--otlp-endpoint", tempo.url, "--traces-only", "--shift-to-now", input=data)
    assert code == 0 and summary["signals"]["traces"]["sent"] == 1
    ((_, _, s),) = tempo.spans()
    assert before <= s.end_time_unix_nano <= time.time_ns()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--shift-to-now", "--time-offset", "1h"], "exclude each other"),
        (["--since", "2026-11-24T18:00:00Z", "--until", "2026-11-24T17:00:00Z"], "later than --since"),
        (["--since", "soon"], "not a time"),
        (["--trace-id", "abc"], "expected 32"),
    ],
)
def test_bad_time_flags_are_usage_errors(args: list[str], message: str) -> None:
    from tests.helpers import replay

    result = replay(str(EXAMPLE), "--dry-run", *args)
    assert result.exit_code == 2 and message in result.stderr
