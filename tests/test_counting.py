"""Every count describes what happened to records that went, or did not go, to the backend:
a value changed to fit counts (and is a problem line) only for a record that is sent, the
dated session file is the one replayed and its ``latest*.json`` copy the one skipped
whatever order the files come in and however many workers read them, and points that
recorded nothing are counted as not replayed. The same figures in one process, with
workers, with --dry-run and with --output."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from otel_replay.assemble import first_pass
from otel_replay.execute.inputs import copies_last
from otel_replay.model import Signal
from otel_replay.pipeline import times_in
from otel_replay.plan import Selection
from otel_replay.sources import codemachine
from otel_replay.sources.codemachine_metrics import sum_only_notice
from otel_replay.sources.discover import InputFile, discover
from otel_replay.stages.unrecorded import NO_RECORDED_VALUE
from otel_replay.stats import DELIVERED
from tests.fakes.loki import LokiReceiver
from tests.fakes.otlp import OtlpReceiver
from tests.helpers import (
    EXAMPLE,
    EXAMPLE_NOW_NS,
    child_env,
    data_point,
    line_counts,
    log_doc,
    log_file,
    metric_doc,
    metrics_export,
    metrics_file,
    problem_lines,
    replay_command,
    replay_json,
    span_doc,
    spans_bytes,
    tar_archive,
    trace_file,
    zip_archive,
)

HUGE = 2**80  # an integer beyond 64 bits: sent as a string, "changed to fit"
CHANGED = "span changed to fit: attributes 'a': integer beyond 64 bits sent as its decimal string"


def _changed_span(span_id: str = "00000000000000c1", **extra: Any) -> dict[str, Any]:
    return span_doc(spanId=span_id, **{"attributes": {"a": HUGE}, **extra})


def _session_with_copy(folder: Path) -> tuple[Path, Path]:
    """A dated session with one changed span and one plain one, and its ``latest.json`` copy."""
    spans = [_changed_span(), span_doc(spanId="00000000000000c2")]
    dated = trace_file(folder / "2026-11-24" / "17-00-00.json", spans)
    copy = folder / "latest.json"
    shutil.copyfile(dated, copy)
    return dated, copy


def _changed_lines(summary: dict[str, Any]) -> list[str]:
    return [p for p in problem_lines(summary) if "changed to fit" in p]


def _mode_args(mode: str, tmp_path: Path, tempo: OtlpReceiver) -> list[str]:
    if mode == "send":
        return ["--otlp-endpoint", tempo.url]
    if mode == "dry-run":
        return ["--dry-run"]
    return ["--output", str(tmp_path / "out")]


@pytest.mark.parametrize(
    ("mode", "workers"), [("send", "1"), ("send", "2"), ("dry-run", "1"), ("dry-run", "2"), ("output", "1")]
)
def test_a_copy_of_a_changed_span_counts_once(tmp_path: Path, tempo: OtlpReceiver, mode: str, workers: str) -> None:
    dated, _ = _session_with_copy(tmp_path / "in")
    args = _mode_args(mode, tmp_path, tempo)
    code, summary = replay_json(str(tmp_path / "in"), "--traces-only", "--workers", workers, *args)
    traces = summary["signals"]["traces"]
    assert code == 1
    assert (traces["read"], traces["sent"], traces["duplicates"], traces["adjusted"]) == (4, 2, 2, 1)
    assert _changed_lines(summary) == [f"{dated}[0]: {CHANGED}"] and summary["problem_count"] == 1
    if mode == "send":
        assert len(tempo.spans()) == 2


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("copy_first", [True, False])
def test_the_dated_file_is_replayed_whatever_order_the_files_are_given_in(
    tmp_path: Path, tempo: OtlpReceiver, workers: str, copy_first: bool
) -> None:
    dated, copy = _session_with_copy(tmp_path / "in")
    paths = [str(copy), str(dated)] if copy_first else [str(dated), str(copy)]
    code, summary = replay_json(*paths, "--traces-only", "--workers", workers, "--otlp-endpoint", tempo.url)
    traces = summary["signals"]["traces"]
    assert code == 1 and (traces["sent"], traces["duplicates"], traces["adjusted"]) == (2, 2, 1)
    assert _changed_lines(summary) == [f"{dated}[0]: {CHANGED}"]
    assert len(tempo.spans()) == 2


def test_with_workers_a_copy_waits_until_its_original_is_read(tmp_path: Path) -> None:
    """The copy is handed out once the dated file is done: read at once by the other
    worker, a short copy would otherwise be checked long before the dated file's last
    span (5000 spans in), and its span would be the one sent and named."""
    spans = [span_doc(spanId=f"{i + 1:016x}") for i in range(4999)] + [_changed_span("ffff0000000000c1")]
    dated = trace_file(tmp_path / "in" / "2026-11-24" / "17-00-00.json", spans)
    trace_file(tmp_path / "in" / "latest.json", [_changed_span("ffff0000000000c1")])
    code, summary = replay_json(str(tmp_path / "in"), "--traces-only", "--workers", "2", "--dry-run")
    traces = summary["signals"]["traces"]
    assert code == 1 and (traces["sent"], traces["duplicates"], traces["adjusted"]) == (5000, 1, 1)
    assert _changed_lines(summary) == [f"{dated}[4999]: {CHANGED}"]


def test_copies_come_last_and_open_after_discovery_is_over(tmp_path: Path) -> None:
    """A ``latest*`` member of a zip given first waits until the end; its zip is closed by
    then, so it is opened again where it is. What can be read only as it goes by (a
    compressed tar's members, stdin) is not held back."""
    bundle = zip_archive(tmp_path / "bundle.zip", {"a.json": spans_bytes(span_doc()), "latest.json": b"{}"})
    dated = trace_file(tmp_path / "17-00-00.json", [span_doc()])
    tgz = tar_archive(tmp_path / "more.tar.gz", {"latest-logs.json": b"[]", "b.json": b"[]"})
    found = list(copies_last(discover([str(bundle), str(tgz), str(dated)])))
    names = [f.name for f in found if isinstance(f, InputFile)]
    assert names == [
        f"{bundle}!a.json", f"{tgz}!latest-logs.json", f"{tgz}!b.json", str(dated), f"{bundle}!latest.json"
    ]  # fmt: skip
    with found[-1].open() as stream:  # type: ignore[union-attr]
        assert stream.read() == b"{}"


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize(
    ("flags", "label"),
    [
        (["--since", "2026-11-24T17:30:00Z"], "outside --since/--until"),
        (["--trace-id", "1" * 32], "not in --trace-id"),
        (["--service", "someone-else"], "not in --service"),
    ],
)
def test_a_filtered_out_changed_span_counts_nothing(
    tmp_path: Path, tempo: OtlpReceiver, workers: str, flags: list[str], label: str
) -> None:
    """Filtered out, the changed span (and its null attribute) changed nothing that was sent."""
    kept = span_doc(
        trace_id="1" * 32, spanId="00000000000000c2", startTime=1795543200000, endTime=1795543200100.5
    )  # 18:00, in trace 111…, and the service kept by --service (set below)
    trace_file(tmp_path / "in" / "17-00-00.json", [_changed_span(attributes={"a": HUGE, "b": None})])
    trace_file(tmp_path / "in" / "18-00-00.json", [kept], service="someone-else")
    code, summary = replay_json(
        str(tmp_path / "in"), "--traces-only", "--workers", workers, "--otlp-endpoint", tempo.url, *flags
    )
    traces = summary["signals"]["traces"]
    assert code == 0, summary["problems"]
    assert (traces["read"], traces["sent"], traces["adjusted"], traces["dropped"]) == (2, 1, 0, {label: 1})
    assert summary["problems"] == [] and summary["hints"] == []  # no null value was sent either
    assert [span.span_id.hex() for _, _, span in tempo.spans()] == ["00000000000000c2"]


def test_a_changed_span_already_delivered_counts_nothing_on_resume(tmp_path: Path, tempo: OtlpReceiver) -> None:
    _session_with_copy(tmp_path / "in")
    args = (str(tmp_path / "in"), "--traces-only", "--otlp-endpoint", tempo.url, "--resume", str(tmp_path / "state"))
    code, summary = replay_json(*args)
    assert code == 1 and summary["signals"]["traces"]["adjusted"] == 1
    code, summary = replay_json(*args)
    traces = summary["signals"]["traces"]
    assert code == 0 and summary["problems"] == []
    assert (traces["sent"], traces["adjusted"], traces["dropped"]) == (0, 0, {DELIVERED: 2})


def test_workers_and_one_process_count_the_example_alike(tmp_path: Path) -> None:
    """The genuine example with a changed span in a session and its copy: the same
    figures however the run reads it."""
    folder = tmp_path / "in"
    shutil.copytree(EXAMPLE, folder)
    _session_with_copy(folder / "extra")  # a second latest.json: a copy of its own folder's session
    summaries = []
    for workers in ("1", "2", "3"):
        code, summary = replay_json(str(folder), "--dry-run", "--workers", workers)
        assert code == 1
        summaries.append((summary["signals"], problem_lines(summary), sorted(summary["hints"])))  # workers: any order
    assert summaries[0] == summaries[1] == summaries[2]
    signals, problems, _ = summaries[0]
    assert problems == [f"{folder / 'extra' / '2026-11-24' / '17-00-00.json'}[0]: {CHANGED}"]
    assert signals["metrics"]["dropped"] == {NO_RECORDED_VALUE: 12} and signals["traces"]["adjusted"] == 1


# -- points that recorded nothing ----------------------------------------------------------------
def _at(minute: int) -> str:
    return f"2026-11-24T17:{minute:02d}:00.000Z"


def _histograms(path: Path) -> Path:
    """Two exports: a histogram of zeros (nothing recorded) and one with recorded sums."""
    exports = [
        metrics_export(
            {
                "codemachine.engine": [
                    metric_doc("engine.llm.duration", "0", [data_point(0, _at(0), _at(minute))], "ms"),
                    metric_doc("engine.boot.duration", "0", [data_point(150.5 * minute, _at(0), _at(minute))], "ms"),
                ]
            }
        )
        for minute in (1, 2)
    ]
    return metrics_file(path, exports)


def test_points_that_recorded_nothing_are_counted_and_shown_not_replayed(tmp_path: Path) -> None:
    _histograms(tmp_path / "in" / "17-00-00-metrics.json")
    result = subprocess.run(
        replay_command(str(tmp_path / "in"), "--dry-run", "-v"), env=child_env(), capture_output=True, check=False
    )
    out, err = result.stdout.decode(), result.stderr.decode()
    assert result.returncode == 0, err
    line = next(line for line in out.splitlines() if line.lstrip().startswith("metrics"))
    assert "4 read, 2 would send" in line and f"2 {NO_RECORDED_VALUE}" in line
    assert f"otel-replay: metrics {tmp_path / 'in' / '17-00-00-metrics.json'}: 2 {NO_RECORDED_VALUE}\n" in err
    assert f"hint: {sum_only_notice('engine.boot.duration')}" in out


def test_the_sum_hint_is_shown_only_when_a_sum_is_sent(tmp_path: Path) -> None:
    _histograms(tmp_path / "in" / "17-00-00-metrics.json")
    code, summary = replay_json(str(tmp_path / "in"), "--dry-run", "--until", "2026-11-24T17:00:30Z")
    metrics = summary["signals"]["metrics"]
    assert metrics["sent"] == 0 and metrics["dropped"] == {"outside --since/--until": 4}
    assert code == 1 and summary["nothing_replayed"].startswith("nothing replayed: the filters dropped all 4 record(s)")
    assert sum_only_notice("engine.boot.duration") not in summary["hints"]  # nothing was replayed as a sum


def test_shift_to_now_ignores_points_that_recorded_nothing(tmp_path: Path) -> None:
    """The first pass looks for the newest instant among what the replay can send: a
    histogram zero later than every other point does not move the offset."""
    gauge = metric_doc("process.uptime", "2", [data_point(1.5, _at(0), _at(1))], "s")
    zeros = metric_doc("engine.llm.duration", "0", [data_point(0, _at(0), _at(2))], "ms")
    path = metrics_file(tmp_path / "17-00-00-metrics.json", [metrics_export({"codemachine.process": [gauge, zeros]})])
    (found,) = discover([str(path)])
    blank = Selection(now_ns=0).blank_times()
    newest = times_in(found, frozenset({Signal.METRICS}), first_pass(Selection(now_ns=0)), blank).last
    assert newest == 1_795_539_660 * 10**9  # 17:01, the gauge's time (not the zero's 17:02)


def test_the_first_pass_reads_no_record_of_a_signal_not_replayed(tmp_path: Path, monkeypatch: Any) -> None:
    """--logs-only: the first pass stops at a trace file's start (as the replay does) and
    converts none of its spans; the log file beside it still gives the newest instant."""
    converted: list[Any] = []
    convert = codemachine.span_from_codemachine
    monkeypatch.setattr(codemachine, "span_from_codemachine", lambda *a: converted.append(a) or convert(*a))
    spans = trace_file(tmp_path / "17-00-00.json", [span_doc()])
    logs = log_file(tmp_path / "17-00-00-logs.json", [log_doc(sec=1_795_539_700)])
    keep = first_pass(Selection(now_ns=0))
    times = Selection(now_ns=0).blank_times()
    for found in discover([str(spans), str(logs)]):
        times_in(found, frozenset({Signal.LOGS}), keep, times)
    assert converted == [] and times.last == 1_795_539_700 * 10**9
    (found,) = discover([str(spans)])
    times_in(found, frozenset({Signal.TRACES}), keep, times)
    # the same file, its signal replayed: its times read (alone, not converted: sources/times.py)
    assert converted == [] and times.last_not_log == 1_795_539_600_100_250_000


def test_the_example_says_per_file_what_it_did_not_send_with_workers() -> None:
    """--verbose names the same files on every run: the copies' duplicates, the dated
    sessions' points with no recorded value."""
    result = subprocess.run(
        replay_command(str(EXAMPLE), "--dry-run", "--workers", "2", "-v", "--json"),
        env=child_env(),
        capture_output=True,
        check=False,
    )
    err = result.stderr.decode()
    assert result.returncode == 0, err
    said = sorted(line for line in err.splitlines() if "skipped" in line or NO_RECORDED_VALUE in line)
    assert said == sorted(
        [
            f"otel-replay: metrics {EXAMPLE}/2026-11-24/17-00-00-metrics.json: 10 {NO_RECORDED_VALUE}",
            f"otel-replay: metrics {EXAMPLE}/2026-11-24/17-01-00-metrics.json: 2 {NO_RECORDED_VALUE}",
            f"otel-replay: logs {EXAMPLE}/latest-logs.json: 18 duplicates skipped",
            f"otel-replay: traces {EXAMPLE}/latest.json: 5 duplicates skipped",
            f"otel-replay: metrics {EXAMPLE}/latest-metrics.json: 40 duplicates skipped",
        ]
    )
    assert json.loads(result.stdout)["signals"]["metrics"]["dropped"] == {NO_RECORDED_VALUE: 12}


def test_a_recording_of_histogram_zeros_alone_replays_nothing_and_says_why(tmp_path: Path) -> None:
    zeros = metric_doc("engine.llm.duration", "0", [data_point(0, _at(0), _at(1)), data_point(0, _at(1), _at(2))], "ms")
    metrics_file(tmp_path / "17-00-00-metrics.json", [metrics_export({"codemachine.process": [zeros]})])
    code, summary = replay_json(str(tmp_path), "--dry-run")
    assert code == 1 and summary["signals"]["metrics"]["dropped"] == {NO_RECORDED_VALUE: 2}
    assert summary["nothing_replayed"] == (
        f"nothing replayed: the 2 record(s) read recorded no values (2 {NO_RECORDED_VALUE})"
    )


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_log_record_changed_by_its_reader_and_cut_by_loki_counts_once(tmp_path: Path, workers: str) -> None:
    """An attribute made to fit (an integer beyond 64 bits) and a line over
    --loki-max-line-bytes: one record changed to fit, counted once under both kinds of
    change; each change is a problem line."""
    long_line = "x" * 3000
    changed = log_doc(body=long_line, attributes={"a": HUGE})  # the reader sends it as a string: changed to fit
    log_file(tmp_path / "in" / "17-00-00-logs.json", [changed, log_doc(body="plain")])
    with LokiReceiver(now_ns=lambda: EXAMPLE_NOW_NS) as loki:
        code, summary = replay_json(
            str(tmp_path / "in"), "--logs-only", "--loki-url", loki.url, "--loki-max-line-bytes", "2KiB",
            "--workers", workers,
        )  # fmt: skip
        assert len(line_counts(loki)) == 2
    logs = summary["signals"]["logs"]
    assert code == 1 and (logs["read"], logs["sent"], logs["adjusted"]) == (2, 2, 1)
    assert logs["adjusted_reasons"] == {"integer beyond 64 bits sent as a string; line cut to --loki-max-line-bytes": 1}
    lines = _changed_lines(summary)
    assert len(lines) == 2 and "integer beyond 64 bits" in lines[0] and "line of 3000 bytes cut" in lines[1]
