"""Inputs alone in their time (stages/alone.py): which ones the first pass finds, and that
their records are checked against each other only, with the run's rule."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import pytest

from otel_replay import execute, pipeline
from otel_replay.assemble import first_pass
from otel_replay.execute.inputs import group_limit
from otel_replay.model import LogRecord, Origin, Record, Signal, SpanRecord
from otel_replay.pipeline import times_in
from otel_replay.plan import Selection
from otel_replay.sources import jsondoc
from otel_replay.sources import times as times_module
from otel_replay.sources.discover import discover
from otel_replay.sources.streams import Stride
from otel_replay.stages.alone import AloneCheck, LogSpan, alone_inputs
from otel_replay.stats import DUPLICATES
from otel_replay.timechoice import RecordTimes, Windows
from tests.fakes.loki import LokiReceiver
from tests.fakes.otlp import OtlpReceiver
from tests.helpers import EXAMPLE_NOW_NS, entry_counts, log_doc, log_file, problem_lines, replay_json, write_json

ALL = frozenset(Signal)
HOUR = 3600


def _span(first: int, last: int, repeats: frozenset[int] | None = frozenset()) -> LogSpan:
    return LogSpan(first, last, repeats)


# -- what one document tells ----------------------------------------------------------------
def test_a_document_of_distinct_times_has_no_record_to_check() -> None:
    span = LogSpan()
    span.add_document([30, 10, 20])
    assert (span.first, span.last, span.repeats) == (10, 30, frozenset())


def test_records_sharing_a_time_are_the_ones_to_check() -> None:
    span = LogSpan()
    span.add_document([10, 20, 10, 30, 20, 40])
    assert span.repeats == frozenset({0, 1, 2, 4})


@pytest.mark.parametrize("stamps", [[10, 0, 20], [0]], ids=["one without a time", "none with one"])
def test_a_record_without_a_time_leaves_the_input_to_the_run(stamps: list[int]) -> None:
    span = LogSpan()
    span.add_document(stamps)
    assert span.repeats is None


def test_a_second_document_of_one_input_leaves_it_to_the_run() -> None:
    """Records' indices are one document's: two documents' would be mistaken for each other."""
    span = LogSpan()
    span.add_document([10, 20])
    span.add_document([30, 40])
    assert span.repeats is None and (span.first, span.last) == (10, 40)


def test_unknown_stays_unknown() -> None:
    span = LogSpan()
    span.unknown()
    span.add_document([10, 10])
    assert span.repeats is None


# -- which inputs are alone -------------------------------------------------------------------
def test_inputs_apart_in_time_are_alone() -> None:
    spans = {0: _span(10, 20), 1: _span(30, 40, frozenset({2, 5})), 2: LogSpan()}
    assert alone_inputs(spans) == {0: frozenset(), 1: frozenset({2, 5})}


@pytest.mark.parametrize(
    ("a", "b"),
    [((10, 20), (20, 30)), ((10, 20), (15, 30)), ((10, 50), (20, 30)), ((10, 20), (10, 20)), ((30, 40), (0, 30))],
    ids=["touching", "overlapping", "nested", "the same", "before, touching"],
)
def test_inputs_that_share_an_instant_are_not(a: tuple[int, int], b: tuple[int, int]) -> None:
    spans = {0: _span(*a), 1: _span(*b), 2: _span(100, 200)}
    assert alone_inputs(spans) == {2: frozenset()}


def test_an_overlap_far_back_counts() -> None:
    """The first input reaches past the next two: neither of them is alone."""
    spans = {0: _span(0, 100), 1: _span(10, 20), 2: _span(30, 40), 3: _span(101, 110)}
    assert alone_inputs(spans) == {3: frozenset()}


def test_an_input_not_known_record_by_record_keeps_its_neighbours_checked() -> None:
    spans = {0: _span(10, 20, None), 1: _span(15, 30), 2: _span(40, 50, None)}
    assert alone_inputs(spans) == {}


# -- the check ---------------------------------------------------------------------------------
class RunCheck:
    """The run's check, recording what it was asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[Signal, int]] = []

    def __call__(self, signal: Signal, records: list[Record], as_recorded: bool = False) -> list[str | None]:
        self.asked.append((signal, len(records)))
        return ["run"] * len(records)


def _log(index: int, time_ns: int, body: str = "x") -> LogRecord:
    return LogRecord(time_ns, 9, "INFO", body, {}, 0, 0, (("service.name", "s"),), Origin("f.json", index))


def test_an_input_not_alone_is_asked_of_the_run() -> None:
    run = RunCheck()
    check = AloneCheck(run)
    check.start(None)
    assert check(Signal.LOGS, [_log(0, 1)], False) == ["run"]
    assert run.asked == [(Signal.LOGS, 1)]


def test_an_alone_input_without_shared_times_is_sent_without_asking() -> None:
    """The batches answered here are told (a worker's counts ride on the run's check otherwise)."""
    run, answered = RunCheck(), []
    check = AloneCheck(run, lambda: answered.append(1))
    check.start(frozenset())
    records: list[Record] = [_log(i, i + 1) for i in range(5)]
    assert check(Signal.LOGS, records, False) == [None] * 5
    assert check(Signal.LOGS, records[:2], False) == [None] * 2
    assert run.asked == [] and len(answered) == 2


def test_records_sharing_a_time_are_checked_against_each_other_across_batches() -> None:
    """Copies are dropped as the run's check drops them, one batch or the next; records
    at the same instant that differ are both sent."""
    run = RunCheck()
    check = AloneCheck(run)
    check.start(frozenset({1, 2, 3, 4}))
    first: list[Record] = [_log(0, 5), _log(1, 7), _log(2, 7)]
    second: list[Record] = [_log(3, 7, "other"), _log(4, 7), _log(5, 9)]
    assert check(Signal.LOGS, first, False) == [None, None, DUPLICATES]
    assert check(Signal.LOGS, second, False) == [None, DUPLICATES, None]
    assert run.asked == []


def test_each_input_is_checked_on_its_own() -> None:
    """The next input's records are not compared with the last one's (they cannot be copies)."""
    check = AloneCheck(RunCheck())
    check.start(frozenset({0}))
    assert check(Signal.LOGS, [_log(0, 7)], False) == [None]
    check.start(frozenset({0}))
    assert check(Signal.LOGS, [_log(0, 7)], False) == [None]


def test_other_signals_are_asked_of_the_run() -> None:
    run = RunCheck()
    check = AloneCheck(run)
    check.start(frozenset())
    span = SpanRecord(1, 2, 0, "s", 0, 1, 2, 0, None, {}, [], (), Origin("f.json", 0))
    assert check(Signal.TRACES, [span], False) == ["run"]
    assert run.asked == [(Signal.TRACES, 1)]


# -- the first pass --------------------------------------------------------------------------------
def _first_pass(paths: list[Path], selection: Selection | None = None) -> RecordTimes:
    times = RecordTimes(now_ns=0, windows=Windows())
    for index, found in enumerate(discover([str(p) for p in paths])):
        times_in(found, ALL, first_pass(selection or Selection(now_ns=0)), times, index)
    return times


def _logs(sec: int, n: int, **extra: Any) -> list[dict[str, Any]]:
    return [log_doc(sec=sec + i, body=f"line {i}", **extra) for i in range(n)]


def test_the_first_pass_finds_the_sessions_apart_in_time(tmp_path: Path) -> None:
    """Three sessions an hour apart, the second with two records at one instant, and a
    ``latest`` copy of the third: the copy and its original lie in one stretch of time."""
    a = log_file(tmp_path / "01-00-00-logs.json", _logs(1_795_500_000, 3))
    twice = [*_logs(1_795_503_600, 2), log_doc(sec=1_795_503_600, body="again")]
    b = log_file(tmp_path / "02-00-00-logs.json", twice)
    c = log_file(tmp_path / "03-00-00-logs.json", _logs(1_795_507_200, 2))
    copy = log_file(tmp_path / "latest-logs.json", _logs(1_795_507_200, 2))
    times = _first_pass([a, b, c, copy])
    names = [found.name for found in discover([str(p) for p in (a, b, c, copy)])]
    alone = {names[i]: repeats for i, repeats in times.alone().items()}
    assert alone == {str(a): frozenset(), str(b): frozenset({0, 2})}


def test_with_a_filter_no_input_is_alone(tmp_path: Path) -> None:
    """The records are then converted one by one: their indices in a document are not known."""
    a = log_file(tmp_path / "01-00-00-logs.json", _logs(1_795_500_000, 3))
    times = _first_pass([a], Selection(now_ns=0, services=("codemachine",)))
    assert times.inputs[0].first is not None and times.alone() == {}


def test_log_records_of_no_known_input_leave_every_input_to_the_run(tmp_path: Path) -> None:
    a = log_file(tmp_path / "01-00-00-logs.json", _logs(1_795_500_000, 3))
    b = log_file(tmp_path / "02-00-00-logs.json", _logs(1_795_503_600, 3))
    times = _first_pass([a])
    assert times.alone() == {0: frozenset()}
    (found,) = discover([str(b)])
    times_in(found, ALL, first_pass(Selection(now_ns=0)), times)  # no index
    assert times.unattributed and times.alone() == {}


def test_the_workers_first_passes_merge(tmp_path: Path) -> None:
    a = log_file(tmp_path / "01-00-00-logs.json", _logs(1_795_500_000, 3))
    b = log_file(tmp_path / "02-00-00-logs.json", _logs(1_795_500_001, 3))
    merged = RecordTimes(now_ns=0, windows=Windows())
    for index, path in enumerate((a, b)):
        one = RecordTimes(now_ns=0, windows=Windows())
        (found,) = discover([str(path)])
        merged.merge(times_in(found, ALL, first_pass(Selection(now_ns=0)), one, index))
    assert set(merged.inputs) == {0, 1} and merged.alone() == {}  # they overlap


# -- over the wire ---------------------------------------------------------------------------
@pytest.mark.parametrize("workers", ["1", "2"])
def test_copies_are_dropped_whichever_inputs_are_alone(tmp_path: Path, workers: str) -> None:
    """Sessions an hour apart (alone), one with a record written twice and two records at
    one instant that differ; two files sharing a record (not alone: they overlap in time);
    a ``latest`` copy. Loki stores each distinct record once, and the copies are counted
    as duplicates, with one worker or two."""
    start = EXAMPLE_NOW_NS // 10**9 - 10 * HOUR
    folder = tmp_path / "in"
    log_file(folder / "01-00-00-logs.json", _logs(start, 50))
    twice = [
        *_logs(start + HOUR, 50),
        log_doc(sec=start + HOUR + 7, body="line 7"),
        log_doc(sec=start + HOUR + 9, body="not line 9"),
    ]
    log_file(folder / "02-00-00-logs.json", twice)
    shared = log_doc(sec=start + 2 * HOUR + 30, body="in both")
    log_file(folder / "03-00-00-logs.json", [*_logs(start + 2 * HOUR, 20), shared])
    log_file(folder / "03-00-10-logs.json", [shared, *_logs(start + 2 * HOUR + 40, 20)])
    log_file(folder / "04-00-00-logs.json", _logs(start + 3 * HOUR, 30))
    log_file(folder / "latest-logs.json", _logs(start + 3 * HOUR, 30))
    with LokiReceiver(now_ns=lambda: EXAMPLE_NOW_NS) as loki:
        code, summary = replay_json(str(folder), "--logs-only", "--workers", workers, "--loki-url", loki.url)
        counts = entry_counts(loki)
    logs = summary["signals"]["logs"]
    assert code == 0, problem_lines(summary)
    assert (logs["read"], logs["sent"], logs["duplicates"]) == (50 + 52 + 21 + 21 + 30 + 30, 50 + 51 + 41 + 30, 32)
    assert sum(counts.values()) == len(counts) == logs["sent"]  # each stored once


def _with_copies(start: int, n: int) -> list[dict[str, Any]]:
    """``n`` records a second apart, each followed by a copy of itself."""
    return [record for i in range(n) for record in [log_doc(sec=start + i, body=f"line {i}")] * 2]


def test_a_document_in_shares_is_not_alone(tmp_path: Path) -> None:
    """Several workers replay its shares: the first pass reads it whole, but a copy may be
    in another share than its original."""
    path = log_file(tmp_path / "01-00-00-logs.json", _with_copies(1_795_500_000, 3))
    (found,) = discover([str(path)])
    times = RecordTimes(now_ns=0, windows=Windows())
    times_in(dataclasses.replace(found, part=Stride(0, 2)), ALL, first_pass(Selection(now_ns=0)), times, 0)
    assert times.inputs[0].repeats is None and times.alone() == {}


@pytest.mark.parametrize("workers", ["1", "2"])
def test_copies_in_a_document_shared_among_workers_are_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: str
) -> None:
    """A document whose first array is ``resourceSpans`` (empty) is shared among the workers
    as a trace document is, and replays as logs (``logs`` outranks it)."""
    start = EXAMPLE_NOW_NS // 10**9 - 5 * HOUR
    path = tmp_path / "in" / "01-00-00-logs.json"
    write_json(path, {"resourceSpans": [], "service": "codemachine", "logs": _with_copies(start, 200)})
    monkeypatch.setattr(execute, "PART_BYTES", path.stat().st_size // 2 - 1)
    code, summary = replay_json(str(path.parent), "--logs-only", "--dry-run", "--workers", workers)
    logs = summary["signals"]["logs"]
    assert code == 0, problem_lines(summary)
    assert (logs["read"], logs["sent"], logs["duplicates"]) == (400, 200, 200)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_copies_in_a_streamed_document_are_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: str
) -> None:
    """Read a stretch at a time, its records' indices are not told: the run checks them."""
    monkeypatch.setattr(jsondoc, "WHOLE_DOCUMENT_BYTES", 4096)
    monkeypatch.setattr(times_module, "WHOLE_DOCUMENT_BYTES", 4096)
    start = EXAMPLE_NOW_NS // 10**9 - 5 * HOUR
    log_file(tmp_path / "in" / "01-00-00-logs.json", _with_copies(start, 1500))  # two stretches or more
    log_file(tmp_path / "in" / "02-00-00-logs.json", _logs(start + HOUR, 20))
    code, summary = replay_json(str(tmp_path / "in"), "--logs-only", "--dry-run", "--workers", workers)
    logs = summary["signals"]["logs"]
    assert code == 0, problem_lines(summary)
    assert (logs["read"], logs["sent"], logs["duplicates"]) == (3020, 1520, 1500)


def test_copies_in_inputs_handed_out_several_a_task_are_dropped(tmp_path: Path) -> None:
    """Forty short sessions apart in time, each with a record written twice (not the same
    one in the next session): a worker is handed several a task, and checks each input's
    records on their own (and a ``latest`` copy is checked by the run)."""
    start = EXAMPLE_NOW_NS // 10**9 - 50 * HOUR
    folder = tmp_path / "in"
    for f in range(40):
        log_file(
            folder / f"{f:02d}-00-00-logs.json",
            [*_logs(start + f * HOUR, 4), log_doc(sec=start + f * HOUR + f % 4, body=f"line {f % 4}")],
        )
    log_file(
        folder / "latest-logs.json", [*_logs(start + 39 * HOUR, 4), log_doc(sec=start + 39 * HOUR + 3, body="line 3")]
    )
    sizes = [p.stat().st_size for p in folder.iterdir()]
    assert group_limit(sum(sizes), 2) > 2 * max(sizes)  # two inputs or more a task
    code, summary = replay_json(str(folder), "--logs-only", "--dry-run", "--workers", "2")
    logs = summary["signals"]["logs"]
    assert code == 0, problem_lines(summary)
    assert (logs["read"], logs["sent"], logs["duplicates"]) == (41 * 5, 40 * 4, 40 + 5)


# -- counting what Loki will not show: copies counted once, without an identity each ----------
def _count_report(folder: Path, now_s: int, refused: bool = True) -> None:
    """Sessions an hour and more apart, older than Loki shows at once, one with a record
    written twice and two records at one instant that differ; a session and its ``latest``
    copy; one older than Loki takes (and its copy) unless not ``refused``; a recent one."""
    twice = [*_logs(now_s - 10 * HOUR, 50), log_doc(sec=now_s - 10 * HOUR + 7, body="line 7")]
    twice.append(log_doc(sec=now_s - 10 * HOUR + 9, body="not line 9"))
    log_file(folder / "01-00-00-logs.json", twice)
    log_file(folder / "02-00-00-logs.json", _logs(now_s - 6 * HOUR, 30))
    log_file(folder / "03-00-00-logs.json", _logs(now_s - 5 * HOUR, 20))
    log_file(folder / "latest-logs.json", _logs(now_s - 5 * HOUR, 20))
    if refused:
        log_file(folder / "00-00-00-logs.json", _logs(now_s - 8 * 24 * HOUR, 5))
        log_file(folder / "00-00-09-logs.json", _logs(now_s - 8 * 24 * HOUR, 5))
    log_file(folder / "04-00-00-logs.json", _logs(now_s - HOUR // 2, 10))


@pytest.mark.parametrize("workers", ["1", "2"])
def test_what_loki_will_not_show_is_counted_once_per_record(
    tmp_path: Path, workers: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the times kept: 51 + 30 + 20 records Loki shows only once flushed, 5 it
    refuses — each copy counted once, whether its input is alone in its time or not."""
    for name in ("OTEL_REPLAY_LOKI_VISIBLE_WITHIN", "OTEL_REPLAY_LOKI_MAX_AGE"):
        monkeypatch.delenv(name, raising=False)
    now_s = time.time_ns() // 10**9
    _count_report(tmp_path / "in", now_s)
    with LokiReceiver(now_ns=time.time_ns) as loki:
        _, summary = replay_json(
            str(tmp_path / "in"), "--logs-only", "--keep-times", "--workers", workers, "--loki-url", loki.url
        )
    assert (summary["time"]["loki_not_shown_yet"], summary["time"]["loki_refused"]) == (101, 5)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_what_loki_will_not_show_is_counted_once_when_the_default_keeps_the_times(
    tmp_path: Path, workers: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The newest record is recent, so the default keeps the recorded times and says how
    many records Loki will not show at once. The first pass left their identities for
    later (timechoice.RecordTimes): the inputs that hold them are read once more, and each
    copy is still counted once (121 if the latest copy's 20 were counted again)."""
    for name in ("OTEL_REPLAY_LOKI_VISIBLE_WITHIN", "OTEL_REPLAY_LOKI_MAX_AGE"):
        monkeypatch.delenv(name, raising=False)
    now_s = time.time_ns() // 10**9
    _count_report(tmp_path / "in", now_s, refused=False)
    with LokiReceiver(now_ns=time.time_ns) as loki:
        _, summary = replay_json(str(tmp_path / "in"), "--logs-only", "--workers", workers, "--loki-url", loki.url)
    assert summary["time"]["how"] == "kept"
    assert (summary["time"]["loki_not_shown_yet"], summary["time"]["loki_refused"]) == (101, 0)


def test_with_the_log_records_going_to_otlp_nothing_is_counted_for_loki(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default keeps the recent recording's times. Pushed to Loki, the inputs whose old
    records were left unidentified are read once more to count them; sent to an OTLP backend,
    nothing is Loki's to count: each input is read once in the first pass, and the counts are
    null."""
    for name in ("OTEL_REPLAY_LOKI_VISIBLE_WITHIN", "OTEL_REPLAY_LOKI_MAX_AGE"):
        monkeypatch.delenv(name, raising=False)
    _count_report(tmp_path / "in", time.time_ns() // 10**9, refused=False)
    read: list[str] = []
    real = pipeline.document_times

    def counting(item: Any, *args: Any) -> bool:
        read.append(item.name)
        return real(item, *args)

    monkeypatch.setattr(pipeline, "document_times", counting)
    with LokiReceiver(now_ns=time.time_ns) as loki:
        _, to_loki = replay_json(str(tmp_path / "in"), "--logs-only", "--workers", "1", "--loki-url", loki.url)
    assert (to_loki["time"]["how"], to_loki["time"]["loki_not_shown_yet"]) == ("kept", 101)
    assert len(read) > 5  # 5 inputs, and the old ones again
    read.clear()
    with OtlpReceiver() as otlp:  # a Collector's
        code, to_otlp = replay_json(
            str(tmp_path / "in"), "--logs-only", "--logs-to", "otlp", "--workers", "1", "--otlp-endpoint", otlp.url
        )
    assert code == 0 and to_otlp["signals"]["logs"]["sent"] == 111, problem_lines(to_otlp)
    assert to_otlp["time"]["how"] == "kept"
    assert (to_otlp["time"]["loki_not_shown_yet"], to_otlp["time"]["loki_refused"]) == (None, None)
    assert sorted(read) == sorted(str(p) for p in (tmp_path / "in").iterdir())
    with OtlpReceiver() as otlp:  # nor with --keep-times
        _, kept = replay_json(
            str(tmp_path / "in"), "--logs-only", "--logs-to", "otlp", "--otlp-endpoint", otlp.url, "--keep-times"
        )
    assert (kept["time"]["how"], kept["time"]["loki_not_shown_yet"], kept["signals"]["logs"]["sent"]) == (
        "keep-times",
        None,
        111,
    )
