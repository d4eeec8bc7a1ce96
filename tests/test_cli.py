"""The command as a user runs it: output files, dry run, usage errors, exit status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.fakes.otlp import OtlpReceiver
from tests.helpers import (
    EXAMPLE,
    Children,
    replay,
    replay_command,
    replay_json,
    span_doc,
    trace_file,
    zip_archive,
)
from tests.otlp_samples import read_lines


def test_output_files_are_otlp_json_and_equal_what_is_sent(tempo: OtlpReceiver, tmp_path: Path) -> None:
    code, summary = replay_json(str(EXAMPLE), "--output", str(tmp_path / "out"))
    assert code == 0 and summary["mode"] == "output"
    lines = (tmp_path / "out" / "traces.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    span = first["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert len(span["traceId"]) == 32 and int(span["traceId"], 16)  # hex, not base64
    assert isinstance(span["startTimeUnixNano"], str)  # int64 as a string
    written = read_lines(tmp_path / "out" / "traces.jsonl", ExportTraceServiceRequest)
    replay_json(str(EXAMPLE), "--otlp-endpoint", tempo.url, "--traces-only", "--workers", "1")  # same batches
    assert written == tempo.requests["/v1/traces"]
    logs = read_lines(tmp_path / "out" / "logs.jsonl", ExportLogsServiceRequest)
    records = [r for req in logs for rl in req.resource_logs for sl in rl.scope_logs for r in sl.log_records]
    assert len(records) == summary["signals"]["logs"]["sent"] == 44
    correlated = [r for r in records if r.trace_id]  # the 10 boot messages are logged before any span
    assert len(correlated) == 34 and all(len(r.trace_id) == 16 and len(r.span_id) == 8 for r in correlated)


def test_dry_run_sends_nothing_and_counts(collector: OtlpReceiver) -> None:
    code, summary = replay_json(str(EXAMPLE), "--dry-run", "--otlp-endpoint", collector.url)
    assert code == 0
    assert collector.attempts == 0
    assert summary["signals"]["traces"]["sent"] == 21 and summary["signals"]["logs"]["sent"] == 44
    # latest-metrics.json's 40 points are duplicates (its 2 histogram zeros too)
    assert (summary["signals"]["metrics"]["sent"], summary["signals"]["metrics"]["duplicates"]) == (111, 40)


def test_metrics_never_reach_the_traces_endpoint(collector: OtlpReceiver) -> None:
    code, summary = replay_json(str(EXAMPLE), "--otlp-endpoint", collector.url, "--traces-only")
    assert code == 0
    assert summary["signals"]["metrics"]["files_not_selected"] == 3  # two sessions and latest-metrics.json
    assert collector.requests["/v1/metrics"] == []
    assert len(collector.spans()) == 21 == summary["signals"]["traces"]["sent"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope/missing"], "no such file or folder: nope/missing"),
        ([str(EXAMPLE), "--header", "novalue"], "--header: expected KEY=VALUE"),
        ([str(EXAMPLE), "--max-request-bytes", "lots"], "is not a size"),
        ([str(EXAMPLE), "--traces-only", "--logs-only"], "exclude each other"),
        ([str(EXAMPLE), "--compression", "brotli"], "brotli"),
        ([], "Missing argument"),
    ],
)
def test_usage_errors_exit_2_with_one_message(args: list[str], message: str) -> None:
    result = replay(*args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_bad_input_is_named_and_the_rest_replays(tempo: OtlpReceiver, tmp_path: Path) -> None:
    trace_file(tmp_path / "good.json", [span_doc(), span_doc(spanId="00000000000000ff", traceId="12")])
    (tmp_path / "broken.json").write_text('{"spans": [')
    result = replay(str(tmp_path), "--otlp-endpoint", tempo.url, "--traces-only")
    assert result.exit_code == 1
    assert f"{tmp_path / 'broken.json'}: truncated JSON" in result.stdout
    assert f"{tmp_path / 'good.json'}[1]: invalid span: traceId '12' has 2 characters, expected 32" in result.stdout
    assert len(tempo.spans()) == 1


def test_stdin_and_zip(tempo: OtlpReceiver, tmp_path: Path) -> None:
    doc = trace_file(tmp_path / "t.json", [span_doc()])
    code, _ = replay_json("-", "--otlp-endpoint", tempo.url, "--traces-only", input=doc.read_bytes())
    assert code == 0 and len(tempo.spans()) == 1
    members = {p.relative_to(EXAMPLE.parent).as_posix(): p.read_bytes() for p in sorted(EXAMPLE.rglob("*.json"))}
    archive = zip_archive(tmp_path / "report.zip", members)
    code, summary = replay_json(str(archive), "--dry-run")
    assert code == 0 and summary["signals"]["traces"]["sent"] == 21


def test_installed_command_prints_no_traceback_for_bad_input(tmp_path: Path, children: Children) -> None:
    (tmp_path / "junk.json").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    proc = children.run(replay_command(str(tmp_path), "--dry-run"), timeout=60)
    assert proc.returncode == 1
    assert "junk.json: not JSON text: the file starts with binary data" in proc.stdout.decode()
    assert "Traceback" not in (proc.stdout + proc.stderr).decode()
