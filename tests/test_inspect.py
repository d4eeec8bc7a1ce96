"""``otel-replay inspect`` as a person runs it: on the example CodeMachine folder, a zip of
it and an OTLP JSON Lines file made from it; plain text in a pipe, ``rich`` in a real
pseudo-terminal, ``--json``; hostile values shown as text; the problems replay reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from otel_replay.cli import main
from tests.helpers import (
    EXAMPLE,
    ROOT,
    log_doc,
    log_file,
    replay,
    replay_json,
    run_in_pty,
    span_doc,
    trace_file,
)

ERRORS_TRACE, OK_TRACE = "db5b5fab8f4d3e27dda1494c73cf256d", "c7321cc007b37e14998092253deffa38"
#: What a replay of the example sends (see test_cli's dry run): spans, log records, points.
EXAMPLE_COUNTS = (21, 44, 111)
HOSTILE = "[bold red]boom[/] \x1b]0;pwned\x07\x1b[2J\x9b31m"
HOSTILE_SHOWN = "[bold red]boom[/] \\x1b]0;pwned\\x07\\x1b[2J\\x9b31m"


def inspect(*args: str, input: bytes | None = None) -> Result:
    return CliRunner().invoke(main, ["inspect", *args], input=input, catch_exceptions=False)


def inspect_json(*args: str, input: bytes | None = None) -> tuple[int, dict[str, Any]]:
    result = inspect(*args, "--json", input=input)
    return result.exit_code, json.loads(result.stdout)


@pytest.fixture(scope="module")
def example_inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The example folder, a zip of it, and one OTLP JSON Lines file of its three signals
    (written by ``replay --output``)."""
    import zipfile

    base = tmp_path_factory.mktemp("inputs")
    with zipfile.ZipFile(base / "report.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(EXAMPLE.rglob("*.json")):
            zf.write(path, path.relative_to(EXAMPLE.parent))
    code, _ = replay_json(str(EXAMPLE), "--output", str(base / "out"))
    assert code == 0
    lines = b"".join((base / "out" / f"{s}.jsonl").read_bytes() for s in ("traces", "logs", "metrics"))
    (base / "report.jsonl").write_bytes(lines)
    return {"folder": EXAMPLE, "zip": base / "report.zip", "jsonl": base / "report.jsonl"}


@pytest.mark.parametrize("kind", ["folder", "zip", "jsonl"])
def test_each_input_kind_gives_the_same_traces_metrics_and_counts(kind: str, example_inputs: dict[str, Path]) -> None:
    code, doc = inspect_json(str(example_inputs[kind]))
    assert code == 0 and doc["exit_status"] == 0
    assert tuple(doc["counts"][s]["records"] for s in ("traces", "logs", "metrics")) == EXAMPLE_COUNTS
    traces = [(t["trace_id"], t["root"], t["spans"], t["errors"], t["logs"]) for t in doc["traces"]]
    assert traces == [(ERRORS_TRACE, "cli.boot", 16, 4, 21), (OK_TRACE, "workflow.run", 5, 0, 10)]
    assert len(doc["metrics"]) == 13
    tokens = next(m for m in doc["metrics"] if m["name"] == "engine.llm.tokens")
    assert (tokens["type"], tokens["unit"], tokens["points"], len(tokens["series"])) == ("counter", "{token}", 18, 4)
    assert doc["services"] == {"codemachine": {"spans": 21, "logs": 44, "points": 111}}
    assert (doc["start_ns"], doc["end_ns"]) == (1795539600412000000, 1795539660933000000)
    if kind == "jsonl":
        assert [s["files"] for s in doc["sessions"]] == [[str(example_inputs["jsonl"])]]
    else:  # two CLI runs; the latest* copies fall in the second, all their records skipped as duplicates
        assert [s["records"] for s in doc["sessions"]] == [
            {"logs": 26, "spans": 16, "points": 73},
            {"logs": 18, "spans": 5, "points": 38},
        ]
        copies = {Path(f["name"].split("!")[-1]).name: f["copies"] for f in doc["files"] if f["copies"]}
        assert copies == {"latest-logs.json": 18, "latest-metrics.json": 40, "latest.json": 5}
        assert all(Path(n.split("!")[-1]).name.startswith("latest") for n in doc["sessions"][1]["files"][1::2])


def test_the_plain_summary_lists_sessions_traces_errors_first_and_metrics() -> None:
    result = inspect(str(EXAMPLE))
    assert result.exit_code == 0
    out = result.stdout
    assert out.startswith("9 file(s), 2 session(s), 2026-11-24 17:00:00.412Z → 2026-11-24 17:01:00.933Z (1m 0s)\n")
    counts = "records: 21 spans, 44 logs, 111 points; 63 duplicates skipped (copies of records read before); "
    assert counts + "12 not replayed: no recorded value\n" in out
    first, second = out.index(ERRORS_TRACE), out.index(OK_TRACE)
    assert first < second
    assert f"  {ERRORS_TRACE}  cli.boot      2026-11-24 17:00:00.597Z   871.8ms     16       4    21" in out
    assert "engine.llm.tokens                  counter  {token}      18       4  912" in out
    assert "\nproblems: none\n" in out and "\x1b" not in out


def test_a_trace_as_a_tree_with_its_logs_and_exceptions() -> None:
    result = inspect(str(EXAMPLE), "--trace", ERRORS_TRACE[:6])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"trace {ERRORS_TRACE}: 2026-11-24 17:00:00.597Z, 871.8ms, 16 span(s), 4 error(s)")
    invoke = next(i for i, ln in enumerate(lines) if "engine.claude.invoke  96.2ms ERROR" in ln)
    assert lines[invoke].startswith("          engine.claude.invoke")  # depth 4
    inside = lines[invoke + 1 : invoke + 5]
    assert [ln[:14].strip()[:1] for ln in inside] == ["▪", "◆", "▪", "◆"]  # log, event, log, event in time
    assert "◆ exception: EngineError: claude exited with code 1: rate limited (429)" in inside[3]
    code, doc = inspect_json(str(EXAMPLE), "--trace", ERRORS_TRACE)
    tree = lines[1 : lines.index("")]
    assert (
        code == 0 and doc["trace"]["spans"] == 16 and len(doc["trace"]["lines"]) == len(tree) == 16 + 21 + 12
    )  # spans, logs, events


def test_an_unknown_or_ambiguous_trace_is_a_usage_error() -> None:
    result = inspect(str(EXAMPLE), "--trace", "ffff")
    assert result.exit_code == 2 and "no trace 'ffff' in the input (2 traces)" in result.stderr
    result = inspect(str(EXAMPLE), "--trace", "")
    assert result.exit_code == 2


def test_the_filters_are_replays(example_inputs: dict[str, Path]) -> None:
    code, doc = inspect_json(str(EXAMPLE), "--trace-id", OK_TRACE)
    assert code == 0 and [t["trace_id"] for t in doc["traces"]] == [OK_TRACE]
    assert doc["counts"]["logs"]["records"] == 10 and doc["metrics"] == []
    code, doc = inspect_json(str(example_inputs["jsonl"]), "--service", "other", "--signals", "traces")
    assert doc["traces"] == [] and doc["counts"]["traces"]["dropped"] == {"not in --service": 21}
    assert code == 1 and doc["nothing_replayed"].startswith("nothing replayed: the filters dropped all 21 record(s)")
    assert inspect(str(EXAMPLE), "--since", "yesterday-ish").exit_code == 2
    code, doc = inspect_json(str(example_inputs["zip"]), "--exclude", "latest*")  # replay's --exclude
    assert code == 0 and doc["inputs"] == 6 and all(f["copies"] == 0 for f in doc["files"])
    text = inspect(str(EXAMPLE), "--signals", "metrics").stdout
    apart = text[text.index("nothing to replay from:") :].split("\n\n")[0].splitlines()[1:]
    assert sorted(Path(line.strip()).name for line in apart) == sorted(
        p.name for p in EXAMPLE.rglob("*.json") if not p.name.endswith("metrics.json")
    )


def test_the_problems_are_the_lines_replay_prints(tmp_path: Path) -> None:
    trace_file(tmp_path / "t.json", [span_doc(), span_doc(span_id="zz"), span_doc(span_id="1111111111111111")])
    log_file(tmp_path / "t-logs.json", [log_doc(), log_doc(timestamp="soon")])
    (tmp_path / "broken.json").write_text('{"spans": [', encoding="utf-8")
    code, doc = inspect_json(str(tmp_path))
    replay_code, replayed = replay_json(str(tmp_path), "--dry-run", "--workers", "1")
    assert code == replay_code == doc["exit_status"] == 1
    for key in ("problems", "problem_count", "problem_reasons", "hints", "warnings", "nothing_replayed"):
        assert doc[key] == replayed[key], key
    assert doc["problem_count"] == 3 and doc["counts"]["traces"]["invalid"] == 1
    assert doc["counts"]["traces"]["records"] == 2
    text = inspect(str(tmp_path)).stdout
    replay_text = replay(str(tmp_path), "--dry-run", "--workers", "1").stdout.splitlines()
    tail = replay_text[next(i for i, ln in enumerate(replay_text) if ln.startswith("problems (")) :]
    shown = text[text.index("what replay would report\n") :].splitlines()[1:]
    assert [ln.removeprefix("  ") for ln in shown] == tail and len(tail) >= 4


def test_stdin_is_read_like_a_file(example_inputs: dict[str, Path]) -> None:
    code, doc = inspect_json("-", input=example_inputs["jsonl"].read_bytes())
    assert code == 0 and doc["counts"]["traces"]["records"] == 21


def hostile_report(folder: Path) -> Path:
    trace_file(
        folder / "t.json",
        [
            span_doc(name=HOSTILE, attributes={"k": HOSTILE}, status={"code": 2, "message": HOSTILE}),
            span_doc(span_id="1111111111111111", parentSpanId="b7ad6b7169203331", name="child"),
        ],
        service=HOSTILE,
    )
    log_file(folder / "t-logs.json", [log_doc(body=HOSTILE, severityText=HOSTILE)])
    return folder


def test_hostile_values_are_text_in_plain_output_and_json(tmp_path: Path) -> None:
    folder = hostile_report(tmp_path)
    for args in ([], ["--trace", "0af7"]):
        out = inspect(str(folder), *args).stdout
        assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out
        assert HOSTILE_SHOWN in out
    _, doc = inspect_json(str(folder))
    assert doc["traces"][0]["root"] == HOSTILE  # JSON keeps the value as it is (escaped by JSON)


def test_on_a_terminal_rich_tables_and_tree_show_hostile_values_as_text(tmp_path: Path) -> None:
    folder = hostile_report(tmp_path)
    code, out = run_in_pty("inspect", str(folder))
    assert code == 0
    assert "\x1b[" in out  # rich's colours: it is a terminal
    assert "━" in out or "─" in out  # a rich table
    assert "\x1b]" not in out and "\x07" not in out and "\x1b[2J" not in out and "\x9b" not in out
    assert "[bold red]boom[/]" in out and "\\x1b]0;pwned\\x07\\x1b[2J" in out
    code, out = run_in_pty("inspect", str(folder), "--trace", "0af7651916cd43dd8448eb211c80319c")
    assert code == 0
    assert "└── " in out and "child" in out  # a rich tree
    assert "\x1b]" not in out and "\x07" not in out and "\x1b[2J" not in out
    assert out.count("[bold red]boom[/]") >= 2  # the span and the log record


def test_on_a_terminal_the_example_summary_is_readable() -> None:
    code, out = run_in_pty("inspect", str(EXAMPLE))
    assert code == 0
    plain = _strip_sgr(out)
    assert "traces (2, 1 with errors)" in plain and ERRORS_TRACE in plain and "engine.llm.tokens" in plain
    assert plain.index(ERRORS_TRACE) < plain.index(OK_TRACE)


def _strip_sgr(text: str) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def test_the_package_ships_rich_for_the_terminal() -> None:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"rich>=' in text


def test_the_backends_settings_in_the_environment_do_not_matter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "garbage")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "not a header")
    monkeypatch.setenv("LOKI_ADDR", "not a url")
    assert replay(str(EXAMPLE), "--dry-run").exit_code == 2  # replay refuses them...
    code, doc = inspect_json(str(EXAMPLE))  # ...inspect sends nothing
    assert code == 0 and doc["counts"]["traces"]["records"] == 21
