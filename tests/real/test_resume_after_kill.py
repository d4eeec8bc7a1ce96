"""--resume after the replay was killed (SIGKILL) in the middle of a run: the rerun with
the same state file completes the set, and nothing is visible twice, in Tempo or in Loki.

A batch the backend stored but whose answer the killed replay never journalled is still
pending in the state file: the rerun asks Tempo which of its spans it has and sends only
the others (Tempo 2.7 would keep both copies of a span resent while its trace is live);
it sends such log records again, and Loki drops an entry identical in stream, time and
line. Whether such a batch exists when the kill lands is chance, so the first test
(killed once the state file shows both backends answered) shows the whole set once, and
the next two make that case certain with a relay (tests/real/relay.py) that withholds
the backend's answer to one request: the backend has the batch, the replay never knows."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_replay.model import Signal
from otel_replay.resume import parse
from tests.helpers import ROOT, child_pids
from tests.real.backends import (
    Stack,
    http,
    loki_entries,
    poll,
    require_binaries,
    wait_for_count,
    wait_until_tempo_cut_its_live_traces,
)
from tests.real.expect import (
    assert_codemachine_span,
    by_time,
    expected_entry,
    fetch_span_copies,
    served_entry,
)
from tests.real.inputs import Report, Run, clean_env, replay, replay_command, write_report
from tests.real.relay import Relay

require_binaries()

DAY_MS = 86_400_000
HOUR_NS = 3600 * 10**9


def journaled(state: Path) -> tuple[int, int]:
    """(spans, log records) the state file lists as stored by the backend (its complete
    lines, as otel_replay/resume.py reads them: the last one may be torn)."""
    try:
        data = state.read_bytes()
    except FileNotFoundError:
        return 0, 0
    if b"\n" not in data:
        return 0, 0
    stored = parse(data, str(state))[0].stored
    return len(stored[Signal.TRACES]), len(stored[Signal.LOGS])


def wait_until_exited(pids: list[int], deadline_s: float = 60) -> None:
    """Block until each process has exited (a pidfd turns readable then)."""
    for pid in pids:
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            continue
        try:
            ready, _, _ = select.select([fd], [], [], deadline_s)
            assert ready, f"worker {pid} still running {deadline_s} s after its parent was killed"
        finally:
            os.close(fd)


def kill_when(proc: subprocess.Popen[bytes], condition: str, ready: Callable[[], bool]) -> None:
    """SIGKILL the replay as soon as ``ready()``; then wait until its workers are gone too
    (they notice their parent died and exit; none may still be sending when the rerun starts)."""
    try:
        poll(condition, lambda: ready() or None, 120, 0.005)
        workers = child_pids(proc.pid)
        assert proc.poll() is None, "the replay finished before it could be killed mid-run"
        proc.kill()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    wait_until_exited(workers)


def start(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        replay_command(*args), cwd=ROOT, env=clean_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def assert_rerun_completed(rerun: Run, name: str, total: int, done: int) -> None:
    """The rerun skipped at least what the state file listed and sent the rest."""
    assert rerun.code == 0, rerun.summary
    sig = rerun.signal(name)
    skipped = sig["dropped"]["already delivered (--resume)"]
    assert skipped >= done
    assert sig["sent"] + skipped == total and sig["sent"] > 0


def assert_each_record_once_in_loki(stack: Stack, report: Report, run_id: str, offset: int) -> None:
    selector = f'{{run="{run_id}"}}'
    assert wait_for_count(stack, selector, len(report.logs)) == len(report.logs)
    now = time.time_ns()
    served = [served_entry(e) for e in loki_entries(stack, selector, now - 2 * HOUR_NS, now + HOUR_NS)]
    assert by_time(served) == by_time([expected_entry(doc, offset, {"run": run_id}) for doc in report.logs])


def test_resume_after_sigkill_completes_the_set(stack: Stack, run_id: str, tmp_path: Path) -> None:
    """30 sessions recorded a day ago over 90 minutes (12,000 spans, 13,000 log records),
    replayed with --shift-to-now in small batches by 2 workers with 2 requests in flight
    each. The replay is killed as soon as the state file shows both backends have
    answered a request; the rerun with the same state file sends the rest with the first
    run's offset, asking Tempo (--tempo-query-url) about the spans of the requests that
    were in flight. Loki then serves each record once, at the first run's times; Tempo
    every span once (25 of make_example's traces under each trace id, read after Tempo has
    written them to its block)."""
    report = write_report(
        tmp_path / "report", time.time() * 1000 - DAY_MS, sessions=30, traces_per_session=100,
        trace_gap_ms=1700, gap_ms=3 * 60_000, traces_per_id=25, seed=int(run_id, 16),
    )  # fmt: skip
    state = tmp_path / "state"
    args = (
        str(report.folder), "--shift-to-now", "--signals", "traces,logs", "--resume", str(state),
        "--otlp-endpoint", stack.otlp_url, "--loki-url", stack.loki_url, "--loki-label", f"run={run_id}",
        "--batch-size", "50", "--loki-batch-bytes", "8KiB", "--workers", "2", "--concurrency", "2",
        "--tempo-query-url", stack.tempo_url,
    )  # fmt: skip
    kill_when(start(*args), "a span and a log record acknowledged in the state file", lambda: all(journaled(state)))
    spans_done, logs_done = journaled(state)
    assert 0 < spans_done < len(report.spans) and 0 < logs_done < len(report.logs), (spans_done, logs_done)

    rerun = replay(*args)
    assert_rerun_completed(rerun, "traces", len(report.spans), spans_done)
    assert_rerun_completed(rerun, "logs", len(report.logs), logs_done)
    offset = rerun.summary["time_offset_ns"]
    wait_until_tempo_cut_its_live_traces(stack)  # at once: it must see the rerun's traces live
    copies = fetch_span_copies(stack, report.spans_per_trace())
    assert set(copies) == {doc["spanId"] for doc in report.spans}
    for doc in report.spans:
        for copy in copies[doc["spanId"]]:
            assert_codemachine_span(doc, copy, offset)
    twice = sorted(span_id for span_id, c in copies.items() if len(c) > 1)
    assert not twice, f"{len(twice)} spans more than once in Tempo"
    assert rerun.summary["hints"] == []  # nothing sent again unchecked

    assert_each_record_once_in_loki(stack, report, run_id, offset)


def small_report(tmp_path: Path, run_id: str) -> Report:
    """One session of 25 of make_example's traces (100 spans, ~110 log records), an hour old."""
    return write_report(
        tmp_path / "report", time.time() * 1000 - 3_600_000, sessions=1, traces_per_session=25,
        trace_gap_ms=1700, seed=int(run_id, 16),
    )  # fmt: skip


def test_a_loki_push_resent_after_sigkill_is_not_visible_twice(stack: Stack, run_id: str, tmp_path: Path) -> None:
    """Loki stores the second push, its answer never reaches the replay, which is killed:
    the rerun sends that push again, and Loki serves each of its entries once (it
    collapses entries identical in stream, time and line)."""
    report = small_report(tmp_path, run_id)
    state = tmp_path / "state"
    with Relay(stack.loki_url, hold=lambda n, path: n == 2) as relay:
        args = (
            str(report.folder), "--logs-only", "--resume", str(state), "--loki-url", relay.url,
            "--loki-label", f"run={run_id}", "--loki-batch-bytes", "4KiB", "--workers", "1", "--concurrency", "1",
        )  # fmt: skip
        kill_when(start(*args), "Loki to answer the second push", relay.held.is_set)
        assert relay.statuses[:2] == [204, 204]  # Loki stored the push whose answer was withheld
        relay.hold = lambda n, path: False
        _, logs_done = journaled(state)
        assert 0 < logs_done < len(report.logs)
        rerun = replay(*args)
    assert_rerun_completed(rerun, "logs", len(report.logs), logs_done)
    assert_each_record_once_in_loki(stack, report, run_id, 0)


KEEPALIVE = "otel-replay-test keepalive"


@contextlib.contextmanager
def keep_live(stack: Stack, trace_ids: list[str]) -> Iterator[None]:
    """While inside, push a span named KEEPALIVE (a new id each time) into each trace
    every second, straight to Tempo: none of them is idle long enough to be cut."""
    stop = threading.Event()

    def push() -> None:
        while True:
            req = ExportTraceServiceRequest()
            scope = req.resource_spans.add().scope_spans.add()
            now = time.time_ns()
            for trace_id in trace_ids:
                scope.spans.add(
                    trace_id=bytes.fromhex(trace_id), span_id=os.urandom(8), name=KEEPALIVE,
                    start_time_unix_nano=now, end_time_unix_nano=now + 1,
                )  # fmt: skip
            http(
                "POST",
                f"{stack.otlp_url}/v1/traces",
                req.SerializeToString(),
                {"Content-Type": "application/x-protobuf"},
            )
            if stop.wait(1.0):
                return

    keeper = threading.Thread(target=push, daemon=True)
    keeper.start()
    try:
        yield
    finally:
        stop.set()
        keeper.join(30)


def test_a_tempo_batch_stored_before_sigkill_is_not_sent_again(stack: Stack, run_id: str, tmp_path: Path) -> None:
    """Tempo stores the second request of 20 spans, its answer never reaches the replay,
    which is killed: the rerun, as a user's immediate rerun would, while Tempo still holds
    the traces live, asks Tempo about those 20 spans and does not send them again (Tempo
    2.7.2 keeps both copies of a span resent to its ingester while its trace is live).
    (On a loaded machine the rerun may take longer than trace_idle_period to start, so a
    keeper pushes one extra span into each trace every second until it is done: the
    traces stay live whatever the machine's speed. Those spans are left out below.) Read
    after Tempo has written the traces to its block, every span comes back exact, once."""
    report = small_report(tmp_path, run_id)
    state = tmp_path / "state"
    with Relay(stack.otlp_url, hold=lambda n, path: n == 2) as relay:
        args = (
            str(report.folder), "--traces-only", "--resume", str(state), "--otlp-endpoint", relay.url,
            "--batch-size", "20", "--workers", "1", "--concurrency", "1", "--keep-times",
            "--tempo-query-url", stack.tempo_url,
        )  # fmt: skip
        with keep_live(stack, list(report.spans_per_trace())):
            kill_when(start(*args), "Tempo to answer the second request", relay.held.is_set)
            assert relay.statuses[:2] == [200, 200]  # Tempo stored the batch whose answer was withheld
            relay.hold = lambda n, path: False
            spans_done, _ = journaled(state)
            assert spans_done == 20
            rerun = replay(*args)
    assert_rerun_completed(rerun, "traces", len(report.spans), spans_done)
    assert rerun.signal("traces")["sent"] == len(report.spans) - 40  # Tempo had the held batch: not sent again

    wait_until_tempo_cut_its_live_traces(stack)
    copies = fetch_span_copies(stack, report.spans_per_trace())
    copies = {k: v for k, v in copies.items() if v[0][2].name != KEEPALIVE}
    assert set(copies) == {doc["spanId"] for doc in report.spans}
    for doc in report.spans:
        for copy in copies[doc["spanId"]]:
            assert_codemachine_span(doc, copy, 0)
    twice = sorted(span_id for span_id, c in copies.items() if len(c) > 1)
    assert not twice, f"{len(twice)} spans come back twice from Tempo"
