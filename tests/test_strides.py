"""A large trace document (CodeMachine or OTLP/JSON) shared among workers: discovery hands
it out as strides (share i of n: its spans i, i + n, i + 2n …), which together hold every
span exactly once; what is said of the file (its start, its flaws) is said once, by the first."""

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
from tests.otlp_samples import flatten_spans, logs_request, to_otlp_json, trace_request, write_lines

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
    otlp = _otlp_document(tmp_path / "otlp.json")
    assert {f.part.of for f in _found(otlp)} == {min(8, otlp.stat().st_size // PART)}  # type: ignore[union-attr]
    logs = log_file(tmp_path / "17-00-00-logs.json", [log_doc(sec=1_795_539_600 + i) for i in range(60)])
    otlp_logs = tmp_path / "otlp-logs.json"
    otlp_logs.write_text(json.dumps(to_otlp_json(logs_request()) | {"pad": "x" * 3 * PART}))
    assert otlp_logs.stat().st_size > 2 * PART and logs.stat().st_size > 2 * PART
    for other in (logs, otlp_logs):  # Loki's order: read by one process
        assert [f.part for f in _found(other)] == [None]
    assert [f.part for f in _found(spans, None)] == [None]  # one process: no strides
    lines = write_lines(tmp_path / "dump.jsonl", [trace_request(1, 1)] * 40)
    assert all(f.part is not None and not isinstance(f.part, Stride) for f in _found(lines, 1000))


def _otlp_document(path: Path, mangle: bool = False) -> Path:
    """An OTLP/JSON request of 4 resource groups; ``mangle``: a group, a scope block and a
    span refused, and a resource read with a note (said once, by the first share)."""
    doc = to_otlp_json(trace_request(4, 6))
    if mangle:
        groups = doc["resourceSpans"]
        groups[1]["scopeSpans"][0]["scope"] = "not an object"
        groups[2]["resource"]["attributes"].append({"key": "odd", "value": {"arrayValue": [{"stringValue": "x"}]}})
        groups[3]["scopeSpans"][0]["spans"][2]["traceId"] = "xyz"
        groups.insert(2, 5)
    path.write_text(json.dumps(doc))
    return path


def _summary(items: list[Any]) -> tuple[Any, ...]:
    records = sorted(item.origin.index for item in items if type(item) in SIGNAL_OF)
    refused = sorted((item.origin.index, item.reason) for item in items if isinstance(item, InvalidRecord))
    said = [
        (type(item).__name__, getattr(item, "reason", ""))
        for item in items
        if isinstance(item, (FileStart, FileProblem))
    ]
    return records, refused, said


def test_an_otlp_document_s_strides_hold_every_span_once_and_say_its_flaws_once(tmp_path: Path) -> None:
    path = _otlp_document(tmp_path / "otlp.json", mangle=True)
    whole, strided = _items(_found(path, None)), _items(_found(path))
    assert len(_found(path)) >= 3
    assert _summary(strided) == _summary(whole)
    records, refused, said = _summary(whole)
    assert len(records) > 30 and len(refused) == 3 and len(said) >= 2


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


def _first_pass_range(path: Path, part_bytes: int | None) -> tuple[int | None, int | None]:
    """The first and last instant the first pass finds in ``path``, discovered with ``part_bytes``."""
    keep, times = first_pass(Selection(now_ns=0)), Selection(now_ns=0).blank_times()
    for found in _found(path, part_bytes):
        times_in(found, frozenset(Signal), keep, times)
    return times.first, times.last


def test_the_first_pass_reads_the_times_once(tmp_path: Path) -> None:
    path = trace_file(tmp_path / "17-00-00.json", _spans(60))
    assert len(_found(path)) >= 3
    assert (
        _first_pass_range(path, PART)
        == _first_pass_range(path, None)
        == (1_795_539_600_000 * 10**6, 1_795_539_600_060_500_000)
    )


def test_an_otlp_document_s_first_pass_reads_all_its_times_once(tmp_path: Path) -> None:
    """Its records are converted for their times (no times-only reader), all of them by the first share."""
    path = _otlp_document(tmp_path / "otlp.json")
    spans = [s for s in _items(_found(path, None)) if type(s) in SIGNAL_OF]
    assert len(_found(path)) >= 3
    assert (
        _first_pass_range(path, PART)
        == _first_pass_range(path, None)
        == (min(s.start_ns for s in spans), max(s.end_ns for s in spans))
    )


def test_an_otlp_document_cut_is_said_once_with_every_span_read_before_the_cut(tmp_path: Path) -> None:
    path = _otlp_document(tmp_path / "otlp.json")
    path.write_bytes(path.read_bytes()[:-3000])
    whole, strided = _items(_found(path, None)), _items(_found(path))
    assert len(_found(path)) >= 3
    cut = [item.reason for item in strided if isinstance(item, FileProblem)]
    assert cut == [item.reason for item in whole if isinstance(item, FileProblem)]
    assert len(cut) == 1 and "records recovered" in cut[0]
    assert _summary(strided)[0] == _summary(whole)[0] and len(_summary(whole)[0]) > 12


@pytest.mark.timeout(400)
@pytest.mark.parametrize("kind", ["codemachine", "otlp-json"])
def test_workers_share_a_large_document_and_deliver_it_as_one_process_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    if kind == "codemachine":
        docs: list[Any] = _spans(300)
        docs[150] = "not a span"
        path = trace_file(tmp_path / "17-00-00.json", docs)
        expected = 299
    else:
        request = to_otlp_json(trace_request(6, 50))
        request["resourceSpans"][3]["scopeSpans"][0]["spans"][7] = "not a span"
        path = tmp_path / "otlp.json"
        path.write_text(json.dumps(request))
        expected = sum(len(b["spans"]) for g in request["resourceSpans"] for b in g["scopeSpans"]) - 1
    monkeypatch.setattr(execute, "PART_BYTES", path.stat().st_size // 4)

    def run(workers: str) -> tuple[Any, ...]:
        with OtlpReceiver.tempo() as otlp:
            code, summary = replay_json(str(path), "--otlp-endpoint", otlp.url, "--traces-only", "--workers", workers)
            arrived = sorted(flatten_spans(otlp.requests["/v1/traces"]))
        traces = summary["signals"]["traces"]
        return code, arrived, problem_lines(summary), summary["files_read"], traces["files"], traces["sent"]

    one, two = run("1"), run("2")
    assert one == two
    assert one[0] == 1 and len(one[1]) == len(set(one[1])) == one[5] == expected and one[3:5] == (1, 1)
