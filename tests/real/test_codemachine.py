"""A CodeMachine report replayed into the real Tempo and Loki arrives span for span and
log for log, read back through their own query APIs."""

from __future__ import annotations

import time
from pathlib import Path

from tests.helpers import EXAMPLE
from tests.real.backends import Stack, loki_entries, require_binaries, wait_for_count
from tests.real.expect import assert_codemachine_span, by_time, expected_entry, fetch_spans, served_entry
from tests.real.inputs import replay, write_report
from tests.test_replay_fidelity import dated_docs

require_binaries()

HOUR_NS = 3600 * 10**9


def test_the_example_report_arrives_span_for_span_and_log_for_log(stack: Stack, run_id: str) -> None:
    """examples/codemachine moved to now (Loki serves entries older than 3 h only after a
    flush): every span of its dated sessions is in Tempo with its ids, parent, name, kind,
    times to the nanosecond, status, events, attributes and resource, and every log record
    is in Loki with its line, labels, structured metadata (trace_id/span_id included) and
    time; the latest*.json copies are not sent twice. Metrics are left out: Tempo takes none."""
    run = replay(
        str(EXAMPLE), "--shift-to-now", "--signals", "traces,logs",
        "--otlp-endpoint", stack.otlp_url, "--loki-url", stack.loki_url, "--loki-label", f"run={run_id}",
    )  # fmt: skip
    assert run.code == 0, run.summary
    offset = run.summary["time_offset_ns"]
    assert offset > 0

    source_spans = dated_docs("spans")
    assert run.signal("traces")["sent"] == len(source_spans)
    trace_ids = {s["traceId"] for s in source_spans}
    stored = fetch_spans(stack, {t: sum(s["traceId"] == t for s in source_spans) for t in trace_ids})
    assert len(stored) == len(source_spans)
    for doc in source_spans:
        assert_codemachine_span(doc, stored[doc["spanId"]], offset)

    source_logs = dated_docs("logs")
    assert run.signal("logs")["sent"] == len(source_logs)
    selector = f'{{run="{run_id}"}}'
    assert wait_for_count(stack, selector, len(source_logs)) == len(source_logs)
    now = time.time_ns()
    served = [served_entry(e) for e in loki_entries(stack, selector, now - HOUR_NS, now + HOUR_NS)]
    expected = [expected_entry(doc, offset, {"run": run_id}) for doc in source_logs]
    assert by_time(served) == by_time(expected)
    # a record logged inside a span points at a span Tempo has, or at one in no file (the
    # recording sampler dropped it: the level-1 session's cli.boot and its kin)
    named = [md for *_, md in served if "span_id" in md]
    assert named
    in_files = {doc["spanId"] for doc in source_spans}
    for md in named:
        if md["span_id"] in stored:
            assert stored[md["span_id"]][2].trace_id.hex() == md["trace_id"]
        else:
            assert md["span_id"] not in in_files
    assert sum(md["span_id"] in stored for md in named) > len(named) // 2


def test_metrics_sent_to_tempo_fail_with_a_hint(stack: Stack) -> None:
    """Tempo takes no metrics: the real Tempo answers 404 on /v1/metrics, every point is
    counted rejected with that answer and the summary's hint names the way out."""
    run = replay(str(EXAMPLE), "--signals", "metrics", "--otlp-endpoint", stack.otlp_url)
    assert run.code == 1
    metrics = run.signal("metrics")
    not_replayed = sum(metrics["dropped"].values())  # the histogram zeros: no recorded value
    assert metrics["rejected"] == metrics["read"] - metrics["duplicates"] - not_replayed > 0
    assert metrics["sent"] == metrics["failed"] == 0
    assert metrics["rejected_reasons"] == {"HTTP 404: 404 page not found": metrics["rejected"]}
    assert any("--otlp-metrics-endpoint" in h and "--signals traces,logs" in h for h in run.summary["hints"]), (
        run.summary["hints"]
    )


def test_twenty_sessions_stay_within_lokis_stream_limit(stack: Stack, run_id: str, tmp_path: Path) -> None:
    """A report of 20 sessions spread over two hours (stamped minutes ago, unshifted):
    all its records land, in a handful of streams (one per service and severity), far
    below Loki's 5000 active streams per tenant; every span is in Tempo."""
    start_ms = time.time() * 1000 - 2 * 3600 * 1000 + 5 * 60 * 1000  # the oldest session 1 h 55 min ago
    report = write_report(
        tmp_path / "report", start_ms, sessions=20, traces_per_session=3, gap_ms=6 * 60 * 1000, seed=int(run_id, 16)
    )
    run = replay(
        str(report.folder), "--otlp-endpoint", stack.otlp_url, "--loki-url", stack.loki_url,
        "--loki-label", f"run={run_id}", "--keep-times",
    )  # fmt: skip
    assert run.code == 0, run.summary
    assert run.summary["time_offset_ns"] == 0
    assert run.signal("traces")["sent"] == len(report.spans) == 20 * 3 * 4
    assert run.signal("logs")["sent"] == len(report.logs)

    selector = f'{{run="{run_id}"}}'
    assert wait_for_count(stack, selector, len(report.logs)) == len(report.logs)
    now = time.time_ns()
    served = [served_entry(e) for e in loki_entries(stack, selector, now - 3 * HOUR_NS, now + HOUR_NS)]
    assert by_time(served) == by_time([expected_entry(doc, 0, {"run": run_id}) for doc in report.logs])
    streams = {tuple(sorted(labels.items())) for labels, *_ in served}
    assert len(streams) == len({doc["severityText"] for doc in report.logs}) <= 5

    stored = fetch_spans(stack, report.spans_per_trace())
    for doc in report.spans:
        assert_codemachine_span(doc, stored[doc["spanId"]], 0)


def test_pushes_without_compression_land(stack: Stack, run_id: str, tmp_path: Path) -> None:
    """``--loki-compression none``: the real Loki takes plain JSON pushes, every entry as sent."""
    start_ms = time.time() * 1000 - 30 * 60 * 1000
    report = write_report(tmp_path / "report", start_ms, sessions=2, traces_per_session=2, gap_ms=60_000, seed=7)
    run = replay(
        str(report.folder), "--logs-only", "--loki-url", stack.loki_url, "--loki-label", f"run={run_id}",
        "--keep-times", "--loki-compression", "none",
    )  # fmt: skip
    assert run.code == 0, run.summary
    assert run.signal("logs")["sent"] == len(report.logs) > 0
    selector = f'{{run="{run_id}"}}'
    assert wait_for_count(stack, selector, len(report.logs)) == len(report.logs)
    now = time.time_ns()
    served = [served_entry(e) for e in loki_entries(stack, selector, now - HOUR_NS, now + HOUR_NS)]
    assert by_time(served) == by_time([expected_entry(doc, 0, {"run": run_id}) for doc in report.logs])
