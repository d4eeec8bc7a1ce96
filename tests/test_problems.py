"""Every problem can be seen: ``--problems FILE`` lists each one as a JSON line, ``--json``
carries them as objects (capped, with the total), the text summary lists them when there
are few and groups them by the kind of reason when there are many — the same with one
process and with worker processes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from otel_replay.model import Origin, Signal
from otel_replay.problems import CHANGED, INVALID, MAX_KEPT, Problem, ProblemLog, ProblemsFile
from otel_replay.report import TEXT_LISTS_UP_TO, Report, problem_lines
from otel_replay.stats import RunStats
from tests.helpers import replay, replay_json, span_doc, trace_file
from tests.test_preflight import closed_port_url

BAD_PER_FILE = 5000


def _bad_spans(folder: Path) -> Path:
    """10,000 invalid spans in two files (so that two workers share them): most with a
    span id of the wrong length, a few with a trace id that is not hex, a few with a
    start time that is a string."""
    for n in range(2):
        spans = [span_doc(span_id=f"{i:x}") for i in range(BAD_PER_FILE - 10)]
        spans += [span_doc(trace_id="zz" * 16, span_id=f"{i + 1:016x}") for i in range(5)]
        spans += [span_doc(span_id=f"{i + 1:016x}", startTime="soon") for i in range(5)]
        trace_file(folder / f"t{n}.json", spans)
    return folder


@pytest.fixture(scope="module")
def bad_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _bad_spans(tmp_path_factory.mktemp("bad"))


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_problems_file_lists_all_10000_and_the_summary_stays_short(
    bad_folder: Path, tmp_path: Path, workers: str
) -> None:
    listed = tmp_path / "problems.jsonl"
    result = replay(str(bad_folder), "--dry-run", "--workers", workers, "--problems", str(listed))
    assert result.exit_code == 1
    problems = _lines(listed)
    assert len(problems) == 2 * BAD_PER_FILE
    where = {(p["file"], p["index"]) for p in problems}
    assert where == {(str(bad_folder / f"t{n}.json"), i) for n in range(2) for i in range(BAD_PER_FILE)}
    first = next(p for p in problems if p["file"].endswith("t0.json") and p["index"] == 0)
    assert first == {
        "kind": "invalid",
        "reason_kind": "an id has the wrong length",
        "reason": "spanId '0' has 1 characters, expected 16",
        "text": f"{bad_folder / 't0.json'}[0]: invalid span: spanId '0' has 1 characters, expected 16",
        "signal": "traces",
        "file": str(bad_folder / "t0.json"),
        "index": 0,
        "value": "0",
    }
    kinds = {p["reason_kind"] for p in problems}
    assert kinds == {"an id has the wrong length", "an id is not hexadecimal", "a field is not a number"}

    text = result.stdout.splitlines()
    assert len(text) < 25, result.stdout
    assert f"problems (10000), by reason (every one is in {listed}):" in text
    assert "  9980 × invalid span: an id has the wrong length" in text
    assert "  10 × invalid span: an id is not hexadecimal" in text
    assert "  10 × invalid span: a field is not a number" in text
    assert "      … and 9977 more" in text
    # each reason's examples are its own problems, as they are listed
    at = text.index("  10 × invalid span: a field is not a number")
    assert all("startTime is a string, expected a number" in line for line in text[at + 1 : at + 4])


@pytest.mark.parametrize("workers", ["1", "2"])
def test_json_carries_problems_as_objects_capped_with_the_total(bad_folder: Path, workers: str) -> None:
    code, summary = replay_json(str(bad_folder), "--dry-run", "--workers", workers)
    assert code == 1 and summary["problem_count"] == 2 * BAD_PER_FILE
    assert len(summary["problems"]) == MAX_KEPT
    assert all(p["kind"] == "invalid" and p["signal"] == "traces" for p in summary["problems"])
    reasons = {(r["kind"], r["signal"], r["reason_kind"]): r["count"] for r in summary["problem_reasons"]}
    assert reasons == {
        ("invalid", "traces", "an id has the wrong length"): 9980,
        ("invalid", "traces", "an id is not hexadecimal"): 10,
        ("invalid", "traces", "a field is not a number"): 10,
    }
    assert summary["signals"]["traces"]["invalid_reasons"] == {
        "an id has the wrong length": 9980,
        "an id is not hexadecimal": 10,
        "a field is not a number": 10,
    }


def test_without_problems_file_the_grouped_summary_says_how_to_see_every_one(bad_folder: Path) -> None:
    result = replay(str(bad_folder), "--dry-run", "--workers", "1")
    assert "problems (10000), by reason (--problems FILE lists every one):" in result.stdout.splitlines()


def test_a_problems_file_that_cannot_be_written_is_a_usage_error(bad_folder: Path, tmp_path: Path) -> None:
    result = replay(str(bad_folder), "--dry-run", "--problems", str(tmp_path / "no" / "such" / "p.jsonl"))
    assert result.exit_code == 2
    assert "--problems: cannot write" in result.output and "Traceback" not in result.output


def test_a_run_that_cannot_start_leaves_the_previous_problems_file_as_it_was(bad_folder: Path, tmp_path: Path) -> None:
    listed = tmp_path / "problems.jsonl"
    listed.write_text('{"kind": "invalid"}\n', encoding="utf-8")
    down = closed_port_url()
    result = replay(str(bad_folder), "--otlp-endpoint", down, "--signals", "traces", "--problems", str(listed))
    assert result.exit_code == 2 and "connection refused" in result.output
    assert listed.read_text(encoding="utf-8") == '{"kind": "invalid"}\n'
    never = tmp_path / "never.jsonl"
    replay(str(bad_folder), "--otlp-endpoint", down, "--signals", "traces", "--problems", str(never))
    assert not never.exists()
    # a run that starts replaces it, also when it has no problem to write
    clean = trace_file(tmp_path / "clean" / "t.json", [span_doc()])
    assert replay(str(clean), "--dry-run", "--problems", str(listed)).exit_code == 0
    assert listed.read_text(encoding="utf-8") == ""


def _record(i: int, key: str = "an id has the wrong length", kind: str = INVALID) -> Problem:
    return Problem.of_record(kind, Signal.TRACES, Origin("a.json", i), f"spanId {i!r} is wrong", key, str(i))


def test_few_problems_are_each_listed_as_they_came() -> None:
    log = ProblemLog()
    for i in range(TEXT_LISTS_UP_TO):
        log.add(_record(i, key=f"kind {i % 3}"))
    lines = problem_lines(log, str, None)
    assert lines[0] == f"problems ({TEXT_LISTS_UP_TO}):"
    assert lines[1:] == [f"  a.json[{i}]: invalid span: spanId {i!r} is wrong" for i in range(TEXT_LISTS_UP_TO)]


def test_many_problems_are_grouped_by_reason_most_first_with_examples() -> None:
    log = ProblemLog()
    for i in range(TEXT_LISTS_UP_TO):
        log.add(_record(i))
    log.add(_record(99, key="long string cut", kind=CHANGED))
    assert problem_lines(log, str, "p.jsonl") == [
        f"problems ({TEXT_LISTS_UP_TO + 1}), by reason (every one is in p.jsonl):",
        f"  {TEXT_LISTS_UP_TO} × invalid span: an id has the wrong length",
        "      a.json[0]: invalid span: spanId 0 is wrong",
        "      a.json[1]: invalid span: spanId 1 is wrong",
        "      a.json[2]: invalid span: spanId 2 is wrong",
        f"      … and {TEXT_LISTS_UP_TO - 3} more",
        "  1 × span changed to fit: long string cut",
        "      a.json[99]: span changed to fit: spanId 99 is wrong",
    ]


def test_distinct_reasons_are_bounded() -> None:
    """A reason kind nobody gave (the whole reason stands for it) cannot grow the groups
    without bound: past a limit they are counted as other reasons."""
    log = ProblemLog()
    for i in range(5000):
        log.add(_record(i, key=f"reason {i}"))
    assert log.count == 5000 and len(log.kept) == MAX_KEPT
    assert len(log.groups) <= 201
    assert sum(g.count for g in log.groups.values()) == 5000
    lines = problem_lines(log, str, None)
    assert len(lines) < 100 and lines[-1].startswith("  … and ")


def test_a_worker_forwards_its_problems_and_keeps_none() -> None:
    sent: list[Problem] = []
    worker = RunStats()
    worker.forward = sent.append
    for i in range(3):
        worker.invalid(Signal.TRACES, Origin("a.json", i), f"bad {i}", "bad")
    assert len(sent) == 3 and worker.problem_count == 0 and worker.snapshot()["problems"] == []
    assert worker.signals[Signal.TRACES].invalid == 3  # the counts still travel with its snapshot
    parent = RunStats()
    written: list[Problem] = []
    parent.on_problem = written.append
    for problem in sent:
        parent.add_problem(problem)
    parent.merge(worker.snapshot())
    assert parent.problem_count == 3 and written == sent and parent.signals[Signal.TRACES].invalid == 3


def test_problems_are_redacted_in_the_file_the_json_and_the_text(tmp_path: Path) -> None:
    def redact(text: str) -> str:
        return text.replace("s3cret", "***")

    problem = Problem.of_record(INVALID, Signal.LOGS, Origin("s3cret.json", 0), "value 's3cret' bad", "bad", "s3cret")
    path = tmp_path / "p.jsonl"
    out = ProblemsFile.open(str(path), redact)
    out.write(problem)
    out.close()
    stats = RunStats()
    stats.add_problem(problem)
    report = Report(stats, redact=redact)
    assert "s3cret" not in path.read_text() and "***" in path.read_text()
    assert "s3cret" not in json.dumps(report.to_dict()) and "s3cret" not in report.render_text()


def test_values_from_input_are_shown_as_text(tmp_path: Path) -> None:
    """An escape code in a bad value reaches the file as a JSON escape, never raw."""
    spans = [span_doc(span_id="\x1b[31mred")]
    folder = tmp_path / "in"
    trace_file(folder / "t.json", spans)
    listed = tmp_path / "p.jsonl"
    replay(str(folder), "--dry-run", "--problems", str(listed))
    assert "\x1b" not in listed.read_text() and "\\u001b" in listed.read_text()


def test_the_problems_file_inside_the_input_folder_is_not_read_as_input(tmp_path: Path) -> None:
    trace_file(tmp_path / "t.json", [span_doc(span_id="1")])
    listed = tmp_path / "problems.jsonl"
    code, summary = replay_json(str(tmp_path), "--dry-run", "--problems", str(listed))
    assert (code, summary["files_read"], summary["problem_count"]) == (1, 1, 1)
    assert [p["file"] for p in _lines(listed)] == [str(tmp_path / "t.json")]


def test_many_files_with_one_flaw_are_one_reason(tmp_path: Path) -> None:
    for i in range(TEXT_LISTS_UP_TO + 10):
        # a session's key, so each claims to be telemetry (without one it is ignored as not telemetry)
        (tmp_path / f"other{i:02}.json").write_text(json.dumps({"spanCount": i, "rows": []}))
    result = replay(str(tmp_path), "--dry-run")
    lines = result.stdout.splitlines()
    assert f"  {TEXT_LISTS_UP_TO + 10} × file: unknown document" in lines
    example = f"      {tmp_path / 'other00.json'}: unknown document: top-level keys spanCount, rows; expected"
    assert any(line.startswith(example) for line in lines), lines
    assert len(lines) < 15


def test_the_examples_of_a_reason_are_the_first_in_input_order_whatever_order_they_came_in() -> None:
    problems = [
        Problem(INVALID, "bad id", "bad id", where=f"f{n}.json[{i}]", file=f"f{n}.json", index=i, signal=Signal.TRACES)
        for n in range(3)
        for i in range(4)
    ]
    arrived, reversed_ = ProblemLog(), ProblemLog()
    for problem in problems:
        arrived.add(problem)
    for problem in reversed(problems):  # as a later worker's reports may come first
        reversed_.add(problem)
    (group,) = arrived.by_count()
    (other,) = reversed_.by_count()
    assert (
        [p.where for p in group.examples]
        == [p.where for p in other.examples]
        == [
            "f0.json[0]",
            "f0.json[1]",
            "f0.json[2]",
        ]
    )
    assert group.count == other.count == 12
