"""A large JSON Lines file shared among workers: discovery hands it out as parts that
together hold every line exactly once, and a line is named ``file:LINE`` whichever part
read it."""

from __future__ import annotations

import json
import random
import threading
from pathlib import Path
from typing import Any

import pytest

from otel_replay import execute
from otel_replay.model import FileProblem, SpanRecord
from otel_replay.sources import read_input
from otel_replay.sources.discover import PART_SNIFF_BYTES, InputFile, Walk, discover
from otel_replay.sources.otlp_json import lines_before
from otel_replay.sources.streams import Part, Stride
from tests.fakes.loki import LokiReceiver
from tests.fakes.otlp import OtlpReceiver
from tests.helpers import EXAMPLE_NOW_NS, assert_streams_oldest_first, problem_lines, replay_json
from tests.otlp_samples import flatten_spans, logs_request, renumbered, to_otlp_json, trace_request, write_lines

#: Seconds a held request waits for a second one (reached only when the file is not shared;
#: on a loaded machine the other worker may take many seconds to start and read its part) …
WAIT = 90
#: … well within one attempt's --timeout: the held request is not given up and sent again.
ATTEMPT = "150"
BROKEN = "not valid JSON: JSON is malformed: object keys must be strings (byte 2); the line is skipped"


def _parts(path: Path, part_bytes: int) -> list[InputFile]:
    found = list(discover([str(path)], None, walk=Walk(part_bytes=part_bytes)))
    assert all(isinstance(f, InputFile) for f in found)
    return found  # type: ignore[return-value]


@pytest.mark.parametrize("seed", range(6))
def test_parts_hold_every_line_exactly_once(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    lines = [b'{"resourceSpans":[]}' + b" " * rng.choice([0, 1, 5, 80, 700]) + b"\n" for _ in range(300)]
    if seed % 2:
        lines[-1] = lines[-1].rstrip(b"\n")  # no newline at the end
    if seed == 4:
        lines[100] = b'{"resourceSpans":[]}' + b" " * 150_000 + b"\n"  # longer than parts and read chunks
    path = tmp_path / "dump.jsonl"
    path.write_bytes(b"".join(lines))
    part_bytes = rng.choice([997, 4096, 10_000])
    parts = _parts(path, part_bytes)
    assert len(parts) >= 3 and [p.part.index for p in parts] == list(range(len(parts)))  # type: ignore[union-attr]
    read = b""
    for p in parts:
        with p.open() as stream:
            read += stream.read()
    assert read == path.read_bytes()


def test_small_files_and_other_formats_are_not_split(tmp_path: Path) -> None:
    small = write_lines(tmp_path / "small.jsonl", [trace_request(1, 1)])
    pretty = tmp_path / "pretty.json"
    pretty.write_text("{\n" + '  "resourceLogs": [],\n' * 1 + '  "x": "' + "y" * 50_000 + '"\n}\n')
    assert [f.part for f in _parts(small, 10_000_000)] == [None]
    assert [f.part for f in _parts(pretty, 1000)] == [None]  # a log request keeps its order
    spans = tmp_path / "spans.json"
    spans.write_text(pretty.read_text().replace("resourceLogs", "resourceSpans"))
    strides = [f.part for f in _parts(spans, 10_000)]  # shared by its records, not cut in bytes
    assert strides == [Stride(i, 5) for i in range(5)]  # one per whole 10,000 bytes


@pytest.mark.parametrize("first_line", [PART_SNIFF_BYTES + 10, 3 * PART_SNIFF_BYTES])
def test_json_lines_whose_first_line_is_longer_than_the_sniff_are_cut_in_parts(tmp_path: Path, first_line: int) -> None:
    """A Collector's file exporter writes a request per line: a first line longer than
    what discovery reads of a file to tell it (1 MiB) still makes JSON Lines, cut in
    parts, each span read once; it was taken for one request of spans and every stride
    read every line."""
    requests = [renumbered(trace_request(1, 2), n) for n in range(2000)]
    long = to_otlp_json(requests[0])
    long["x"] = "y" * first_line
    lines = [json.dumps(long).encode()] + [json.dumps(to_otlp_json(r)).encode() for r in requests[1:]]
    path = tmp_path / "dump.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    parts = _parts(path, first_line // 2)
    assert len(parts) > 2 and all(isinstance(p.part, Part) for p in parts)
    spans = [r for p in parts for r in read_input(p) if isinstance(r, SpanRecord)]
    assert len(spans) == len(flatten_spans(requests))
    assert len({(s.trace_id, s.span_id) for s in spans}) == len(spans)


def test_a_bad_line_in_a_later_part_is_named_by_its_line_in_the_file(tmp_path: Path) -> None:
    good = b'{"resourceSpans":[]}\n'
    path = tmp_path / "dump.jsonl"
    path.write_bytes(good * 500 + b"{ not json\n" + good * 100)  # line 501
    parts = _parts(path, 1000)
    problems = [item for p in parts for item in read_input(p) if isinstance(item, FileProblem)]
    assert len(problems) == 1
    assert problems[0].source == f"{path}:501"


def _replay_dump(path: Path, workers: str, expected: list[tuple[bytes, ...]], fault: Any = None) -> tuple[Any, ...]:
    """A replay of ``path``, one request at a time per process; asserts that ``expected``
    arrived; returns the exit status, the problems and the counts of files."""
    with OtlpReceiver.tempo() as otlp:
        otlp.fault = fault
        code, summary = replay_json(
            str(path),
            "--otlp-endpoint",
            otlp.url,
            "--signals",
            "traces",
            "--workers",
            workers,
            "--concurrency",
            "1",
            "--timeout",
            ATTEMPT,
        )
        assert sorted(flatten_spans(otlp.requests["/v1/traces"])) == expected
    return code, problem_lines(summary), summary["files_read"], summary["signals"]["traces"]["files"]


@pytest.mark.timeout(400)
def test_workers_share_one_large_file_and_deliver_it_as_one_process_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With --workers 2 the file's parts are read by both workers at once: the first
    request is held until a second one arrives, which (one request at a time per process)
    only another worker reading another part can send. What arrives, and the summary, are
    those of one process."""
    reqs = [renumbered(trace_request(1, 2), i) for i in range(120)]
    path = write_lines(tmp_path / "dump.jsonl", reqs)
    with path.open("a") as fh:
        fh.write("{ broken\n")  # the last line, in the last part
    monkeypatch.setattr(execute, "PART_BYTES", path.stat().st_size // 5)
    expected = sorted(flatten_spans(reqs))
    one_process = _replay_dump(path, "1", expected)
    second = threading.Event()
    overlapped: list[bool] = []

    def first_waits_for_a_second(n: int) -> None:
        if n == 2:
            second.set()
        elif n == 1:
            overlapped.append(second.wait(WAIT))  # answered either way: asserted below

    workers = _replay_dump(path, "2", expected, first_waits_for_a_second)
    assert overlapped == [True], "no other part was read while the first part's request was held"
    assert one_process == workers == (1, [f"{path}:121: {BROKEN}"], 1, 1)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_dump_shared_among_workers_replays_as_recorded_duplicates_included(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: str
) -> None:
    """OTLP input replays as recorded: a request written twelve times is sent twelve
    times, whichever part of the file a copy is in (the parts after the first once kept
    every span's key in the parent, and dropped the later copies as duplicates)."""
    request = trace_request(1, 2)
    path = write_lines(tmp_path / "dump.jsonl", [request] * 12)
    monkeypatch.setattr(execute, "PART_BYTES", path.stat().st_size // 4)
    assert len(_parts(path, execute.PART_BYTES)) > 1
    code, summary = replay_json(str(path), "--dry-run", "--signals", "traces", "--workers", workers)
    traces = summary["signals"]["traces"]
    assert code == 0, problem_lines(summary)
    assert (traces["sent"], traces["duplicates"]) == (12 * len(flatten_spans([request])), 0)


def test_log_lines_reach_loki_oldest_first_across_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each line two hours after the one before: a part pushed before an earlier one
    would be refused by Loki as too far behind."""
    start = EXAMPLE_NOW_NS - 2 * 3600 * 10**9 * 40
    docs = []
    for i in range(40):
        doc = to_otlp_json(logs_request())
        for n, rec in enumerate(doc["resourceLogs"][0]["scopeLogs"][0]["logRecords"]):
            rec["timeUnixNano"] = str(start + i * 2 * 3600 * 10**9 + n)
            rec.pop("observedTimeUnixNano", None)
        docs.append(doc)
    path = tmp_path / "logs.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))
    monkeypatch.setattr(execute, "PART_BYTES", path.stat().st_size // 8)
    with LokiReceiver(now_ns=lambda: EXAMPLE_NOW_NS) as loki:
        code, summary = replay_json(
            str(path), "--loki-url", loki.url, "--signals", "logs", "--workers", "2", "--loki-batch-bytes", "4KiB"
        )
        entries = loki.entries()
    assert code == 0, problem_lines(summary)
    assert summary["signals"]["logs"]["sent"] == len(entries) == 40 * 4
    assert_streams_oldest_first(loki)


def test_lines_before_counts_the_lines_that_start_before_a_part(tmp_path: Path) -> None:
    data = b"a\nbb\n\nccc\ndddd"
    path = tmp_path / "f.jsonl"
    path.write_bytes(data)
    starts = [0] + [i + 1 for i, b in enumerate(data) if b == ord("\n")]
    for offset in range(len(data) + 1):
        first = next((s for s in starts if s >= offset), len(data))
        assert lines_before(str(path), offset) == sum(s < first for s in starts), offset
