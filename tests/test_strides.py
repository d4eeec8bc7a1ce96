"""A large CodeMachine trace document shared among workers: discovery hands it out as
strides (share i of n: its records i, i + n, i + 2n …), which together hold every record
exactly once; what is said of the file (its start, its flaws) is said once, by the first."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from otel_replay import execute
from otel_replay.assemble import first_pass
from otel_replay.model import SIGNAL_OF, FileProblem, FileStart, InvalidRecord, Signal
from otel_replay.pipeline import times_in
from otel_replay.plan import Selection
from otel_replay.progress.meter import ByteCounter
from otel_replay.sources import read_input
from otel_replay.sources.discover import InputFile, Walk, discover
from otel_replay.sources.streams import Stride
from tests.fakes.otlp import OtlpReceiver
from tests.helpers import log_doc, log_file, problem_lines, replay_json, span_doc, trace_file
from tests.otlp_samples import flatten_spans, to_otlp_json, trace_request, write_lines

PART = 4096


def _spans(n: int) -> list[dict[str, Any]]:
    return [
        span_doc(span_id=f"{i + 1:016x}", startTime=1_795_539_600_000 + i, endTime=1_795_539_600_001.5 + i)
        for i in range(n)
    ]


def _found(path: Path, part_bytes: int | None = PART) -> list[InputFile]:
    found = list(discover([str(path)], None, walk=Walk(part_bytes=part_bytes)))
    assert all(isinstance(f, InputFile) for f in found)
    return found  # type: ignore[return-value]


def _items(found: list[InputFile]) -> list[Any]:
    return [item for f in found for item in read_input(f)]


def test_a_large_trace_document_is_handed_out_as_strides_and_nothing_else_is(tmp_path: Path) -> None:
    spans = trace_file(tmp_path / "17-00-00.json", _spans(60))
    size = spans.stat().st_size
    found = _found(spans)
    n = min(8, size // PART)
    assert n >= 3 and [f.part for f in found] == [Stride(i, n) for i in range(n)]
    assert sum(f.size or 0 for f in found) == size  # the progress bar's total
    logs = log_file(tmp_path / "17-00-00-logs.json", [log_doc(sec=1_795_539_600 + i) for i in range(60)])
    otlp = tmp_path / "otlp.json"
    otlp.write_text(json.dumps(to_otlp_json(trace_request(20, 5))))
    assert otlp.stat().st_size > 2 * PART and logs.stat().st_size > 2 * PART
    for other in (logs, otlp):  # Loki's order, OTLP/JSON's numbering: read by one process
        assert [f.part for f in _found(other)] == [None]
    assert [f.part for f in _found(spans, None)] == [None]  # one process: no strides
    lines = write_lines(tmp_path / "dump.jsonl", [trace_request(1, 1)] * 40)
    assert all(f.part is not None and not isinstance(f.part, Stride) for f in _found(lines, 1000))


def test_strides_hold_every_record_once_and_say_the_files_flaws_once(tmp_path: Path) -> None:
    docs: list[Any] = _spans(50)
    docs[7] = dict(docs[7], traceId="xyz")  # refused: a bad id
    path = trace_file(tmp_path / "17-00-00.json", docs, service=["not", "a", "string"])  # type: ignore[arg-type]
    whole, strided = _items(_found(path, None)), _items(_found(path))
    assert len(_found(path)) >= 3

    def summary(items: list[Any]) -> tuple[Any, ...]:
        records = sorted(item.origin.index for item in items if type(item) in SIGNAL_OF)
        refused = sorted(item.origin.index for item in items if isinstance(item, InvalidRecord))
        said = [
            (type(item).__name__, getattr(item, "reason", ""))
            for item in items
            if isinstance(item, (FileStart, FileProblem))
        ]
        return records, refused, said

    assert summary(strided) == summary(whole)
    records, refused, said = summary(strided)
    assert records == [i for i in range(50) if i != 7] and refused == [7] and len(said) == 2


def test_a_cut_document_is_said_once_with_every_record_read_before_the_cut(tmp_path: Path) -> None:
    path = trace_file(tmp_path / "17-00-00.json", _spans(50))
    path.write_bytes(path.read_bytes()[:-700])
    whole, strided = _items(_found(path, None)), _items(_found(path))
    cut = [item.reason for item in strided if isinstance(item, FileProblem)]
    assert cut == [item.reason for item in whole if isinstance(item, FileProblem)]
    assert len(cut) == 1 and "records recovered" in cut[0]
    assert sum(type(i) in SIGNAL_OF for i in strided) == sum(type(i) in SIGNAL_OF for i in whole) > 40


def test_the_progress_bar_counts_the_file_once_across_its_strides(tmp_path: Path) -> None:
    path = trace_file(tmp_path / "17-00-00.json", _spans(60))
    added: list[int] = []
    counter = ByteCounter(added.append)
    for found in _found(path):
        list(read_input(counter.counted(found)))
        assert sum(added) <= path.stat().st_size
        counter.finished()
    assert sum(added) == path.stat().st_size


def test_the_first_pass_reads_the_times_once(tmp_path: Path) -> None:
    path = trace_file(tmp_path / "17-00-00.json", _spans(60))
    keep, sel = first_pass(Selection(now_ns=0)), Selection(now_ns=0)
    whole, strided = sel.blank_times(), sel.blank_times()
    for found in _found(path, None):
        times_in(found, frozenset(Signal), keep, whole)
    for found in _found(path):
        times_in(found, frozenset(Signal), keep, strided)
    assert (
        (strided.first, strided.last)
        == (whole.first, whole.last)
        == (1_795_539_600_000 * 10**6, 1_795_539_600_060_500_000)
    )


@pytest.mark.timeout(400)
def test_workers_share_a_large_document_and_deliver_it_as_one_process_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs: list[Any] = _spans(300)
    docs[150] = "not a span"
    path = trace_file(tmp_path / "17-00-00.json", docs)
    monkeypatch.setattr(execute, "PART_BYTES", path.stat().st_size // 4)

    def run(workers: str) -> tuple[Any, ...]:
        with OtlpReceiver.tempo() as otlp:
            code, summary = replay_json(str(path), "--otlp-endpoint", otlp.url, "--traces-only", "--workers", workers)
            arrived = sorted(flatten_spans(otlp.requests["/v1/traces"]))
        traces = summary["signals"]["traces"]
        return code, arrived, problem_lines(summary), summary["files_read"], traces["files"], traces["sent"]

    one, two = run("1"), run("2")
    assert one == two
    assert one[0] == 1 and len(one[1]) == len(set(one[1])) == one[5] == 299 and one[3:5] == (1, 1)
