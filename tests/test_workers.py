"""--workers: the same delivery as one process, with dedup across workers and Loki's
order (each stream oldest first) kept across inputs read in parallel."""

from __future__ import annotations

import os
import pty
import select
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.fakes.loki import LokiReceiver
from tests.fakes.otlp import OtlpReceiver
from tests.helpers import (
    EXAMPLE,
    EXAMPLE_NOW_NS,
    Children,
    log_doc,
    log_file,
    replay_command,
    replay_json,
    span_doc,
    trace_file,
)
from tests.otlp_samples import flatten_points, flatten_spans

HOUR = 3600


def _sessions(folder: Path, n: int = 6, per_file: int = 300) -> Path:
    """``n`` log sessions two hours apart (newest last), each ``per_file`` records: any
    session pushed after a later one would be refused by Loki as too far behind."""
    start = EXAMPLE_NOW_NS // 10**9 - 2 * HOUR * n
    for f in range(n):
        logs = [log_doc(sec=start + f * 2 * HOUR + i, body=f"session {f} line {i}") for i in range(per_file)]
        log_file(folder / f"2026-11-24/{f:02d}-00-00-logs.json", logs)
        trace_file(folder / f"2026-11-24/{f:02d}-00-00.json", [span_doc(spanId=f"{f + 1:016x}")])
    return folder


def test_loki_gets_each_stream_oldest_first_across_workers(tmp_path: Path) -> None:
    folder = _sessions(tmp_path / "in")
    with OtlpReceiver.tempo() as otlp, LokiReceiver(now_ns=lambda: EXAMPLE_NOW_NS) as loki:
        code, summary = replay_json(
            str(folder), "--workers", "2", "--otlp-endpoint", otlp.url, "--loki-url", loki.url,
            "--loki-batch-bytes", "8KiB",
        )  # fmt: skip
        entries = loki.entries()
    assert code == 0, summary["problems"]
    # none refused as "too far behind": no session was pushed after a later one
    assert summary["signals"]["logs"]["sent"] == len(entries) == 6 * 300


def test_workers_deliver_what_one_process_delivers(tmp_path: Path) -> None:
    runs = []
    for workers in ("1", "2"):
        with OtlpReceiver() as collector, LokiReceiver(now_ns=lambda: EXAMPLE_NOW_NS) as loki:
            code, summary = replay_json(
                str(EXAMPLE), "--workers", workers, "--otlp-endpoint", collector.url, "--loki-url", loki.url
            )
            assert code == 0, summary["problems"]
            lines = Counter((ts, line) for _, ts, line, _ in loki.entries())
            runs.append(
                (
                    flatten_spans(collector.requests["/v1/traces"]),
                    flatten_points(collector.requests["/v1/metrics"]),
                    lines,
                    {s: (v["sent"], v["duplicates"]) for s, v in summary["signals"].items()},
                )
            )
    assert runs[0] == runs[1]
    assert runs[1][3] == {"traces": (21, 5), "logs": (44, 18), "metrics": (111, 38)}  # copies skipped once


def test_bad_input_in_a_worker_is_reported_like_in_one_process(tmp_path: Path) -> None:
    folder = _sessions(tmp_path / "in", n=3, per_file=5)
    (folder / "broken.json").write_text("{ not json")
    code, summary = replay_json(str(folder), "--workers", "2", "--dry-run")
    assert code == 1
    assert summary["files_read"] == 7 and summary["signals"]["traces"]["sent"] == 3
    assert summary["signals"]["logs"]["sent"] == 15
    assert any(p.startswith(str(folder / "broken.json")) for p in summary["problems"])


@pytest.mark.parametrize("workers", ["1", "2"])
def test_progress_line_on_a_terminal_counts_every_worker(tmp_path: Path, children: Children, workers: str) -> None:
    """On a terminal, stderr shows a progress line rewritten after each input; with
    workers it sums what every worker has done so far."""
    folder = _sessions(tmp_path / "in", n=4, per_file=25)
    main_end, term = pty.openpty()
    proc = children.start(replay_command(str(folder), "--dry-run", "--workers", workers), stderr=term)
    os.close(term)
    shown = b""
    deadline = time.monotonic() + 60
    try:
        while True:
            ready, _, _ = select.select([main_end], [], [], max(deadline - time.monotonic(), 0))
            assert ready, f"the replay neither wrote nor closed the terminal within 60 s: {shown!r}"
            try:
                chunk = os.read(main_end, 4096)
            except OSError:  # EIO: the replay closed the terminal
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(main_end)
    assert proc.wait(60) == 0
    lines = [part for part in shown.decode().split("\r") if part.startswith("[otel-replay]")]
    assert lines, shown
    assert " ".join(lines[-1].split()) == "[otel-replay] files 8 spans 4 read / 4 sent logs 100 read / 100 sent"
