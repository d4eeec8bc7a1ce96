"""Stages — time shift and filters: the pure parts by table, and the flags end to end."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_replay.config import parse_duration, parse_instant
from otel_replay.model import LogRecord, Origin, SpanEvent, SpanRecord
from otel_replay.report import format_duration
from otel_replay.stages.filters import ServiceFilter, TimeWindow, TraceIdFilter
from otel_replay.stages.timeshift import TimeShift, newest_ns
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
