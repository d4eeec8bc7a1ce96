"""Large inputs against the real backends: a ~100 MB trace file and a ~100 MB log file
arrive whole, and Loki's ingestion rate limit is met with retries, not losses."""

from __future__ import annotations

import time
from pathlib import Path

from opentelemetry.proto.trace.v1.trace_pb2 import TracesData

from tests.real.backends import Stack, http, loki_count, poll, require_binaries, wait_for_count
from tests.real.inputs import replay, write_big_log_file, write_big_trace_file
from tests.real.relay import Relay

require_binaries()

MB = 2**20


def tempo_span_ids(stack: Stack, trace_id: str) -> list[bytes]:
    """The span ids of a trace, read with ``GET /api/traces/<id>`` as protobuf (a trace of
    ~1 MB: half the time of the JSON answer, for the same spans)."""
    status, body = http("GET", f"{stack.tempo_url}/api/traces/{trace_id}", headers={"Accept": "application/protobuf"})
    if status == 404:
        return []
    assert status == 200, (status, body[:300])
    data = TracesData.FromString(body)
    return [span.span_id for rs in data.resource_spans for ss in rs.scope_spans for span in ss.spans]


def assert_traces_whole(stack: Stack, per_trace: dict[str, int]) -> None:
    """Each trace comes back from Tempo with all its spans, each once (polled: Tempo serves
    a large trace only once it has taken every request)."""
    for trace_id, n in per_trace.items():
        ids = poll(
            f"{n} spans of {trace_id}",
            lambda t=trace_id, n=n: ids if len(ids := tempo_span_ids(stack, t)) >= n else None,
            60,
        )
        assert len(ids) == len(set(ids)) == n, (trace_id, len(ids), len(set(ids)), n)


def test_a_100_mb_trace_file_arrives_whole(stack: Stack, tmp_path: Path) -> None:
    """One CodeMachine trace session of 100 MiB (~48,000 spans of ~2 KB in 97 traces,
    stamped ten minutes ago): every span is counted back from Tempo, each once.
    (On 2 shared cores: writing it ~3 s, replaying ~20 s, reading back ~20 s.)"""
    path = tmp_path / "big" / "2026-11-24" / "17-00-00.json"
    per_trace = write_big_trace_file(path, 100 * MB, time.time() * 1000 - 600_000)
    total = sum(per_trace.values())
    assert path.stat().st_size >= 100 * MB and total > 40_000
    run = replay(str(path), "--traces-only", "--otlp-endpoint", stack.otlp_url)
    assert run.code == 0, run.summary
    assert run.signal("traces")["sent"] == total
    assert_traces_whole(stack, per_trace)


def test_a_100_mb_log_file_arrives_whole(stack: Stack, run_id: str, tmp_path: Path) -> None:
    """One CodeMachine log session of 100 MiB (~84,000 records of ~1 KB, four streams,
    stamped ten minutes ago): Loki counts every one of them back. (On 2 shared cores:
    writing it ~2 s, replaying ~25 s, near Loki's 4 MB/s ingestion limit.)"""
    path = tmp_path / "big" / "2026-11-24" / "17-00-00-logs.json"
    n = write_big_log_file(path, 100 * MB, time.time_ns() - 600 * 10**9)
    assert path.stat().st_size >= 100 * MB and n > 80_000
    run = replay(str(path), "--logs-only", "--loki-url", stack.loki_url, "--loki-label", f"run={run_id}")
    assert run.code == 0, run.summary
    logs = run.signal("logs")
    assert (logs["sent"], logs["failed"], logs["rejected"]) == (n, 0, 0)
    assert wait_for_count(stack, f'{{run="{run_id}"}}', n) == n


def test_lokis_ingestion_rate_limit_is_met_with_retries_not_losses(stack: Stack, run_id: str, tmp_path: Path) -> None:
    """40 MiB of logs in records of 16 KB, pushed faster than Loki's 4 MB/s ingestion
    limit allows past its 6 MB burst: Loki answers 429 (seen by a relay in front of it),
    otel-replay retries, and every record lands; the summary shows none failed."""
    path = tmp_path / "burst" / "2026-11-24" / "17-00-00-logs.json"
    n = write_big_log_file(path, 40 * MB, time.time_ns() - 600 * 10**9, line_bytes=16_000)
    selector = f'{{run="{run_id}"}}'
    with Relay(stack.loki_url, hold=lambda n, path: False) as relay:
        run = replay(str(path), "--logs-only", "--loki-url", relay.url, "--loki-label", f"run={run_id}")
    assert 429 in relay.statuses, f"Loki never throttled: {relay.statuses}"
    assert run.code == 0, run.summary
    logs = run.signal("logs")
    assert (logs["sent"], logs["failed"], logs["rejected"]) == (n, 0, 0), logs
    assert wait_for_count(stack, selector, n) == n
    assert loki_count(stack, selector) == n
