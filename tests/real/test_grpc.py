"""OTLP over gRPC into the real Tempo's OTLP/gRPC receiver (docker/tempo.yaml's
``grpc`` protocol, on its own free port): a CodeMachine report arrives span for span,
chosen by the environment alone as the issue's command does; a span file of more than
20 MiB arrives whole (grpc-go's 4 MiB message limit, which Tempo keeps); and the wrong
protocol for a port is named within seconds."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from tests.helpers import EXAMPLE
from tests.real.backends import Stack, require_binaries
from tests.real.expect import assert_codemachine_span, fetch_spans
from tests.real.inputs import (
    ROOT,
    Run,
    clean_env,
    replay,
    replay_command,
    replay_human,
    write_big_trace_file,
    write_report,
)
from tests.real.test_large import MB, assert_traces_whole

require_binaries()


def replay_with_env(env: dict[str, str], *args: str) -> Run:
    proc = subprocess.run(replay_command(*args), cwd=ROOT, env={**clean_env(), **env}, capture_output=True, timeout=300)
    return Run(proc.returncode, json.loads(proc.stdout), proc.stderr.decode(errors="replace"))


def test_a_report_over_grpc_arrives_span_for_span(stack: Stack, run_id: str, tmp_path: Path) -> None:
    """The issue's command: OTEL_EXPORTER_OTLP_PROTOCOL=grpc and OTEL_EXPORTER_OTLP_ENDPOINT
    at Tempo's 4317, nothing else: exit 0, and every span of a CodeMachine report (ids of
    this test's own, stamped minutes ago) is in Tempo as recorded."""
    report = write_report(tmp_path / "report", time.time() * 1000 - 600_000, seed=int(run_id, 16))
    env = {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_ENDPOINT": stack.otlp_grpc_url}
    run = replay_with_env(env, str(report.folder), "--signals", "traces", "--keep-times")
    assert run.code == 0, run.summary
    assert run.summary["destinations"]["traces"] == f"{stack.otlp_grpc_url} (OTLP/gRPC)"
    assert run.signal("traces")["sent"] == len(report.spans)
    stored = fetch_spans(stack, dict(report.spans_per_trace()))
    assert len(stored) == len(report.spans)
    for doc in report.spans:
        assert_codemachine_span(doc, stored[doc["spanId"]], 0)


def test_a_span_file_over_20_mib_arrives_whole_over_grpc(stack: Stack, tmp_path: Path) -> None:
    path = tmp_path / "big" / "2026-11-24" / "17-00-00.json"
    per_trace = write_big_trace_file(path, 24 * MB, time.time() * 1000 - 600_000)
    total = sum(per_trace.values())
    assert path.stat().st_size >= 24 * MB
    run = replay(str(path), "--traces-only", "--otlp-protocol", "grpc", "--otlp-endpoint", stack.otlp_grpc_url)
    assert run.code == 0, run.summary
    assert run.signal("traces")["sent"] == total
    assert_traces_whole(stack, per_trace)


def test_the_wrong_protocol_for_tempos_ports_is_named_within_seconds(stack: Stack) -> None:
    """The start-up check asks each port once: exit 2 and one line saying what to change."""
    for args, says in (
        (("--otlp-endpoint", stack.otlp_grpc_url), "use --otlp-protocol grpc"),  # OTLP/HTTP to 4317
        (("--otlp-protocol", "grpc", "--otlp-endpoint", stack.otlp_url), "use --otlp-protocol http/protobuf"),
    ):
        started = time.monotonic()
        code, output = replay_human(str(EXAMPLE), "--signals", "traces", *args)
        assert time.monotonic() - started < 30, args
        assert code == 2, output
        assert len([line for line in output.splitlines() if says in line]) == 1, output
