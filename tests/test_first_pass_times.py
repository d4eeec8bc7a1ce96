"""The default time choice's first pass reads CodeMachine span and log documents for their
times alone (sources/times.py): what it finds must be what converting every record finds."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from otel_replay.assemble import first_pass
from otel_replay.model import Record, Signal
from otel_replay.pipeline import times_in
from otel_replay.plan import Selection
from otel_replay.sources import codemachine, jsondoc
from otel_replay.sources import times as times_module
from otel_replay.sources.discover import discover
from otel_replay.sources.times import _LOGS, _SPANS, document_times, log_times, span_times
from otel_replay.stages.unrecorded import NoRecordedValue
from otel_replay.timechoice import HOUR_NS, RecordTimes, Windows
from tests.helpers import log_doc, log_file, span_doc, spans_bytes, trace_file, write_json

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "codemachine"
ALL = frozenset(Signal)


class KeepAll:
    """A filter that keeps every record: the first pass then converts each one."""

    drop_label = "never"

    def apply(self, record: Record) -> Record:
        return record


@pytest.fixture(params=["whole", "streamed"])
def reading(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test twice: documents read whole, and every document streamed (as one over
    WHOLE_DOCUMENT_BYTES is)."""
    if request.param == "streamed":
        monkeypatch.setattr(jsondoc, "WHOLE_DOCUMENT_BYTES", 64)
        monkeypatch.setattr(times_module, "WHOLE_DOCUMENT_BYTES", 64)
    return str(request.param)


def _pass(paths: list[Path], now_ns: int, light: bool, signals: frozenset[Signal] = ALL) -> RecordTimes:
    times = RecordTimes(now_ns=now_ns, windows=Windows())
    filters: list[Any] = [NoRecordedValue()] if light else [KeepAll(), NoRecordedValue()]
    for found in discover([str(p) for p in paths]):
        times_in(found, signals, filters, times)
    return times


def _found(t: RecordTimes) -> tuple[Any, ...]:
    return t.first, t.last, t.last_not_log, t.unserved, t.refused


def _converted(paths: list[Path], monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    for name in ("span_from_codemachine", "log_from_codemachine"):
        real = getattr(codemachine, name)
        monkeypatch.setattr(codemachine, name, lambda *a, _r=real, _n=name: calls.append(_n) or _r(*a))
    return calls


@pytest.mark.parametrize("age_h", [0, 4, 24 * 8])
@pytest.mark.parametrize("signals", [ALL, frozenset({Signal.LOGS}), frozenset({Signal.TRACES})])
def test_the_example_gives_the_same_times_read_alone_or_converted(
    age_h: int, signals: frozenset[Signal], reading: str
) -> None:
    """The example folder (spans, logs, metrics, latest*.json copies): the same range,
    and the same counts of what Loki would not show or would refuse (a copy counted once)."""
    full = _pass([EXAMPLE], 0, light=False, signals=signals)
    assert full.last is not None
    now = full.last + age_h * HOUR_NS + 1
    full, light = _pass([EXAMPLE], now, False, signals), _pass([EXAMPLE], now, True, signals)
    assert _found(light) == _found(full)
    if age_h == 4 and Signal.LOGS in signals:
        assert light.unserved > 0 and light.refused == 0
    if age_h > 24 * 7 and Signal.LOGS in signals:
        assert light.refused > 0


def test_the_documents_are_not_converted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reading: str) -> None:
    folder = shutil.copytree(EXAMPLE, tmp_path / "in")
    calls = _converted([folder], monkeypatch)
    light = _pass([folder], 0, light=True)
    assert calls == [] and light.last is not None  # the metrics documents are still converted (not counted here)
    _pass([folder], 0, light=False)
    assert "span_from_codemachine" in calls and "log_from_codemachine" in calls


def test_a_span_refused_for_its_times_is_left_out_as_the_replay_leaves_it_out(tmp_path: Path, reading: str) -> None:
    good = span_doc(startTime=1_795_539_600_000, endTime=1_795_539_601_000)
    late = span_doc(startTime=1_795_539_700_000, endTime=1_795_539_699_000)  # ends before it starts
    no_event_time = dict(span_doc(startTime=1_795_539_800_000, endTime=1_795_539_801_000), events=[{"name": "e"}])
    negative = span_doc(startTime=-5, endTime=1_795_539_900_000)
    not_a_span = "span"
    odd_events = dict(span_doc(startTime=1_795_539_950_000, endTime=1_795_539_951_000), events=["e"])
    path = trace_file(tmp_path / "17-00-00.json", [good, late, no_event_time, negative, not_a_span, odd_events])
    light, full = _pass([path], 0, True), _pass([path], 0, False)
    assert _found(light) == _found(full)
    assert (light.first, light.last) == (1_795_539_600_000 * 10**6, 1_795_539_601_000 * 10**6)


def test_an_event_before_the_start_or_after_the_end_widens_the_range(tmp_path: Path) -> None:
    span = dict(
        span_doc(startTime=1_795_539_600_000, endTime=1_795_539_601_000),
        events=[{"name": "early", "time": 1_795_539_500_000.5}, {"name": "late", "time": 1_795_539_700_000}],
    )
    assert span_times(document_times_of(trace_file(tmp_path / "a.json", [span]))) == [
        1_795_539_500_000_500_000,
        1_795_539_700_000 * 10**6,
    ]


def document_times_of(path: Path) -> Any:
    """The decoded spans of a trace file, as span_times takes them."""
    return _SPANS.decode(json.dumps(json.loads(path.read_text())["spans"]))


def test_log_times_leave_out_what_the_replay_refuses() -> None:
    logs = _LOGS.decode(json.dumps([{"timestamp": [10, 5]}, {"timestamp": [10, 10**9]}, {}, {"timestamp": [0, 0]}]))
    assert log_times(logs) == [10 * 10**9 + 5, 0, 0, 0]


def test_a_log_copy_is_counted_once_and_a_different_record_at_the_same_time_twice(tmp_path: Path, reading: str) -> None:
    one, other = log_doc(sec=1_795_539_600), log_doc(sec=1_795_539_600, body="another")
    alike = log_doc(sec=1_795_539_600, body="anothex")  # the same time and length: told by its bytes
    log_file(tmp_path / "17-00-00-logs.json", [one, other, alike])
    log_file(tmp_path / "latest-logs.json", [one, alike])
    now = 1_795_539_600 * 10**9 + 4 * HOUR_NS
    light, full = _pass([tmp_path], now, True), _pass([tmp_path], now, False)
    assert (light.unserved, full.unserved) == (3, 3)


def test_an_odd_record_read_whole_has_the_document_converted(tmp_path: Path) -> None:
    path = tmp_path / "odd.json"
    path.write_bytes(b'{"spans": [{"startTime": 1, "endTime": 2, "events": {"not": "a list"}}]}')
    (found,) = discover([str(path)])
    assert document_times(found, ALL, lambda _: None) is False
    assert _found(_pass([path], 0, True)) == _found(_pass([path], 0, False)) == (None,) * 3 + (0, 0)


def test_a_streamed_document_cut_short_gives_the_times_before_the_cut(tmp_path: Path, reading: str) -> None:
    spans = [
        span_doc(span_id=f"{i + 1:016x}", startTime=1_795_539_600_000 + i, endTime=1_795_539_600_001 + i)
        for i in range(5)
    ]
    path = tmp_path / "17-00-00.json"
    path.write_bytes(spans_bytes(*spans)[:-300])
    light, full = _pass([path], 0, True), _pass([path], 0, False)
    assert _found(light) == _found(full) and light.last is not None


def test_a_long_streamed_document_is_read_a_stretch_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsondoc, "WHOLE_DOCUMENT_BYTES", 64)
    monkeypatch.setattr(times_module, "WHOLE_DOCUMENT_BYTES", 64)
    monkeypatch.setattr(times_module, "STRETCH", 3)
    logs = [log_doc(sec=1_795_539_600 + i, body=f"b{i}") for i in range(10)]
    (found,) = discover([str(log_file(tmp_path / "17-00-00-logs.json", logs))])
    handed: list[Any] = []
    assert document_times(found, ALL, handed.append) is True
    assert [len(read.times) for read in handed] == [3, 3, 3, 1]
    now = 1_795_539_600 * 10**9 + 4 * HOUR_NS
    path = tmp_path / "17-00-00-logs.json"
    assert _found(_pass([path], now, True)) == _found(_pass([path], now, False))


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("cut.json", spans_bytes(span_doc())[:-10]),  # cut short: the reader salvages it
        ("bom.json", b"\xef\xbb\xbf" + spans_bytes(span_doc())),
        ("otlp-logs.json", b'{"resourceLogs": []}'),  # OTLP/JSON log records: their reader
        ("metrics.json", b'{"type": "metrics", "metrics": []}'),
    ],
)
def test_what_the_times_alone_cannot_tell_is_converted(name: str, content: bytes, tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    (found,) = discover([str(path)])
    handed: list[Any] = []
    assert document_times(found, ALL, handed.append) is False and handed == []
    assert _found(_pass([path], 0, True)) == _found(_pass([path], 0, False))


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("otlp.json", b'{"resourceSpans": []}'),  # OTLP/JSON spans: sources/otlp_times.py
        ("lines.json", spans_bytes(span_doc()) + b"\n" + spans_bytes(span_doc()) + b"\n"),  # JSON Lines, no OTLP
    ],
)
def test_otlp_json_and_json_lines_are_told_alone_as_converted(name: str, content: bytes, tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    (found,) = discover([str(path)])
    handed: list[Any] = []
    assert document_times(found, ALL, handed.append) is True
    assert [(read.signal, read.times) for read in handed] == [(Signal.TRACES, [])]
    assert _found(_pass([path], 0, True)) == _found(_pass([path], 0, False))


def test_a_signal_not_replayed_adds_nothing(tmp_path: Path, reading: str) -> None:
    path = trace_file(tmp_path / "17-00-00.json", [span_doc()])
    (found,) = discover([str(path)])
    handed: list[Any] = []
    assert document_times(found, frozenset({Signal.LOGS}), handed.append) is True
    assert [read.signal for read in handed] == [None]
    assert _pass([path], 0, True, frozenset({Signal.LOGS})).last is None


def test_the_first_pass_with_a_filter_converts_and_applies_it(tmp_path: Path) -> None:
    path = write_json(tmp_path / "17-00-00.json", {"spans": [span_doc()]})
    keep = Selection(now_ns=0, services=("nobody",))
    times = keep.blank_times()
    (found,) = discover([str(path)])
    assert times_in(found, ALL, first_pass(keep), times).last is None  # the filter dropped the span


@pytest.mark.parametrize(
    ("content", "told"),
    [
        (b'{\n  "version": 1,\n  "service": "s",\n  "spans": [' + b"\xff" * 100_000, True),
        (b'{"version": 1, "spans": [], "logs": [{"timestamp": [1, 0]}]}', True),
        (b'{"version": 1, "logs": [{"timestamp": [1, 0]}], "spans": []}', True),
        (b"\xef\xbb\xbf" + b'{\n"spans": [' + b"\xff" * 100, False),
        (b'{"version": 1, "service": "s", "spans": [' + b"\xff" * 100_000, False),
    ],
    ids=["the rest not read", "spans outrank logs after them", "and before them", "a BOM first", "one line"],
)
def test_a_span_document_in_a_run_without_spans_is_told_by_its_start(
    content: bytes, told: bool, tmp_path: Path
) -> None:
    """Its first array is its spans: nothing after them can make it another signal's (the
    readers rank ``spans`` first), so the first pass reads no further. Its start must show
    its first line's end (a longer first line could be JSON Lines): a document on one line
    is read as ever (valid, it is told a span document all the same; not, it is not told)."""
    path = tmp_path / "17-00-00.json"
    path.write_bytes(content)
    (found,) = discover([str(path)])
    handed: list[Any] = []
    assert document_times(found, frozenset({Signal.LOGS}), handed.append) is told
    assert [read.signal for read in handed] == ([None] if told else [])
    assert _pass([path], 0, True, frozenset({Signal.LOGS})).last is None


@pytest.mark.parametrize(
    "doc",
    [
        {"version": 1, "logs": [log_doc(sec=1_795_539_600), log_doc(sec=1_795_539_700)], "spans": [span_doc()]},
        {"logs": [log_doc(sec=1_795_539_600), log_doc(sec=1_795_539_700, nanos=10**9)]},  # a time refused
        {"logs": [log_doc(sec=1_795_539_600), {"timestamp": [1_795_539_700.5, 0]}]},  # not as the exporter writes
        {"logs": [log_doc(sec=1_795_539_600)], "sessionFile": "12-00-00-logs.json", "extra": {"a": [1]}},
        {"logs": None, "spans": [span_doc()]},
        {"logs": [], "resourceSpans": []},
    ],
    ids=["spans outrank logs", "a refused time", "an odd time", "other keys", "logs null", "no log"],
)
def test_a_log_document_read_in_one_decode_or_the_long_way_gives_the_same_times(
    tmp_path: Path, doc: dict[str, Any]
) -> None:
    """The first pass reads a log document for its times in one typed decode when it is as
    the exporter writes it; anything else the long way. Both agree with converting it."""
    path = write_json(tmp_path / "12-00-00-logs.json", doc)
    now = 1_795_539_700 * 10**9 + 4 * HOUR_NS
    light, full = _pass([path], now, True), _pass([path], now, False)
    assert _found(light) == _found(full)


def test_only_a_document_whose_first_array_is_logs_is_tried_as_a_log_document(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one-decode read of a log document's times is not tried on a span document (it
    would parse the whole of it to fail at the end): the document's start tells."""
    tried: list[bytes] = []
    real = times_module._TIMED_LOG_DOCUMENT

    class Counting:
        def decode(self, data: bytes) -> Any:
            tried.append(data)
            return real.decode(data)

    monkeypatch.setattr(times_module, "_TIMED_LOG_DOCUMENT", Counting())
    spans = trace_file(tmp_path / "12-00-00.json", [span_doc()])
    logs = log_file(tmp_path / "12-00-00-logs.json", [log_doc(sec=1_795_539_600)])
    light = _pass([spans, logs], 1_795_539_700 * 10**9, True)
    assert tried == [logs.read_bytes()] and light.first is not None
