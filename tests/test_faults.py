"""Backends that throttle, reset, stall and restart: every record arrives exactly once,
or is reported failed — never lost silently, never sent twice.

The fakes answer a fixed pattern of requests with a fault before the backend sees them
(a faulted request stores nothing), so any duplicate at the receiver is our bug.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.loki import LokiReceiver
from tests.fakes.otlp import OtlpReceiver
from tests.fakes.server import Answer
from tests.helpers import (
    EXAMPLE_NOW_NS,
    assert_each_once,
    line_counts,
    log_doc,
    log_file,
    problem_lines,
    replay_json,
    span_counts,
    span_doc,
    trace_file,
)

SEC = 1795539600
N_SPANS, N_LOGS = 600, 600
RETRY_NOW = {"Retry-After": "0"}
#: "Come back in a minute": longer than any --max-retry-time these tests give a batch, so
#: the batch is given up after this one answer, however fast or slow the machine is.
RETRY_LATER = {"Retry-After": "60"}
#: --timeout for one attempt: the stall fault outlasts it (it holds until the client gives
#: up), a normal answer never does, even with OTEL_REPLAY_FAKE_LATENCY.
ATTEMPT_TIMEOUT = "3"


def write_input(folder: Path) -> Path:
    """600 spans in 3 files and 600 log records in 3 files, all distinct."""
    for f in range(3):
        spans = [span_doc(spanId=f"{f + 1:04x}{i + 1:012x}", attributes={"i": i}) for i in range(N_SPANS // 3)]
        trace_file(folder / f"2026-11-24/17-0{f}-00.json", spans)
        logs = [
            log_doc(sec=SEC + f * 60 + i // 10, nanos=(i % 10) * 100_000_000, body=f"file {f} line {i}")
            for i in range(N_LOGS // 3)
        ]
        log_file(folder / f"2026-11-24/17-0{f}-00-logs.json", logs)
    return folder


def every(period: int, fault: Any, offset: int = 0) -> Callable[[int], Any]:
    return lambda n: fault if n % period == offset else None


def pattern(*rules: Callable[[int], Any]) -> Callable[[int], Any]:
    def fault(n: int) -> Any:
        for rule in rules:
            if (f := rule(n)) is not None:
                return f
        return None

    return fault


#: The patterns are laid out on the request sequence of one request at a time (the
#: exporter gives up after 6 attempts: no pattern above faults 6 requests in a row), so
#: these tests send with --concurrency 1; test_faults_with_requests_in_flight covers more.
FLAKY = {
    "429 and 503 on a third of requests": pattern(
        every(3, Answer(503, b"unavailable", headers=RETRY_NOW)), every(5, Answer(429, b"slow down", headers=RETRY_NOW))
    ),
    "connections reset": every(4, "reset"),
    "a stall past the timeout": every(7, "stall", 2),
    "the backend goes away and comes back": lambda n: "down" if n == 3 else None,
}


@pytest.mark.parametrize("fault", FLAKY.values(), ids=FLAKY.keys())
def test_spans_arrive_exactly_once_through_faults(tmp_path: Path, fault: Callable[[int], Any]) -> None:
    write_input(tmp_path / "in")
    with OtlpReceiver.tempo() as otlp:
        otlp.fault = fault
        code, summary = replay_json(
            str(tmp_path / "in"), "--otlp-endpoint", otlp.url, "--traces-only", "--batch-size", "50",
            "--timeout", ATTEMPT_TIMEOUT, "--concurrency", "1",
        )  # fmt: skip
        counts = span_counts(otlp)
        assert otlp.faults_served, "the fault was never injected"
    assert code == 0, summary
    assert_each_once(counts, N_SPANS)
    assert summary["signals"]["traces"]["sent"] == N_SPANS


@pytest.mark.parametrize("fault", FLAKY.values(), ids=FLAKY.keys())
def test_log_records_arrive_exactly_once_through_faults(tmp_path: Path, fault: Callable[[int], Any]) -> None:
    write_input(tmp_path / "in")
    with LokiReceiver(now_ns=lambda: EXAMPLE_NOW_NS) as loki:
        loki.fault = fault
        code, summary = replay_json(
            str(tmp_path / "in"),
            "--loki-url",
            loki.url,
            "--logs-only",
            "--loki-batch-bytes",
            "8KiB",
            "--timeout",
            ATTEMPT_TIMEOUT,
            "--concurrency",
            "1",
        )
        counts = line_counts(loki)
        assert loki.faults_served, "the fault was never injected"
    assert code == 0, summary
    assert_each_once(counts, N_LOGS)
    assert summary["signals"]["logs"]["sent"] == N_LOGS


def test_faults_with_requests_in_flight(tmp_path: Path) -> None:
    """Four requests in flight per signal; the first five requests each backend sees get a
    503 (whichever batches they carry): every record still arrives exactly once."""
    first = Answer(503, b"unavailable", headers=RETRY_NOW)
    write_input(tmp_path / "in")
    with OtlpReceiver.tempo() as otlp, LokiReceiver(now_ns=lambda: EXAMPLE_NOW_NS) as loki:
        otlp.fault = loki.fault = lambda n: first if n <= 5 else None
        code, summary = replay_json(
            str(tmp_path / "in"), "--otlp-endpoint", otlp.url, "--loki-url", loki.url, "--batch-size", "50",
            "--loki-batch-bytes", "8KiB", "--concurrency", "4", "--workers", "1",
        )  # fmt: skip
        spans, lines = span_counts(otlp), line_counts(loki)
        assert len(otlp.faults_served) == len(loki.faults_served) == 5
    assert code == 0, summary
    assert_each_once(spans, N_SPANS)
    assert_each_once(lines, N_LOGS)


def test_a_backend_that_stays_down_reports_what_failed(tmp_path: Path) -> None:
    """From the 4th request on, every answer is 503 "come back in a minute", more than a
    batch's --max-retry-time: what got through is counted sent, the rest failed, batch by
    batch; sent + failed = all, and the exit status is 1."""
    write_input(tmp_path / "in")
    with OtlpReceiver.tempo() as otlp, LokiReceiver(now_ns=lambda: EXAMPLE_NOW_NS) as loki:
        otlp.fault = loki.fault = lambda n: Answer(503, b"overloaded", headers=RETRY_LATER) if n > 3 else None
        code, summary = replay_json(
            str(tmp_path / "in"),
            *("--otlp-endpoint", otlp.url, "--loki-url", loki.url, "--batch-size", "100"),
            *("--loki-batch-bytes", "8KiB", "--max-retry-time", "20"),
        )
        spans, lines = span_counts(otlp), line_counts(loki)
    assert code == 1
    t, lg = summary["signals"]["traces"], summary["signals"]["logs"]
    assert t["sent"] == len(spans) == 300 and t["failed"] == N_SPANS - 300
    assert lg["sent"] == len(lines) > 0 and lg["sent"] + lg["failed"] == N_LOGS
    assert set(spans.values()) == {1} and set(lines.values()) == {1}
    assert any("503" in r for r in t["failed_reasons"]) and any("503" in r for r in lg["failed_reasons"])
    batch_lines = [p for p in problem_lines(summary) if "not delivered" in p]
    assert batch_lines and re.search(r"17-0[0-2]-00.json\[\d+\]", " ".join(batch_lines))  # names the batches
