"""--resume and stopping: a state file from any kind of stop lets a rerun deliver every
record — each exactly once after Ctrl-C, SIGTERM or an unanswered request, and each span
exactly once after SIGKILL (the rerun asks Tempo about the requests that were in flight:
tests/test_resume_pending.py has the details). Ctrl-C prints the summary so far and exits 130."""

from __future__ import annotations

import json
import os
import select
import signal
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from otel_replay.model import Signal
from otel_replay.resume import ResumeState, StateFileError
from tests.fakes.loki import LokiReceiver
from tests.fakes.otlp import OtlpReceiver
from tests.fakes.server import Answer, FakeServer
from tests.fakes.tempo_query import TempoWithQueries
from tests.helpers import (
    EXAMPLE_NOW_NS,
    Children,
    assert_each_once,
    child_pids,
    line_counts,
    log_doc,
    log_file,
    problem_lines,
    read_line,
    replay_command,
    replay_json,
    span_counts,
    span_doc,
    trace_file,
)
from tests.test_faults import N_LOGS, N_SPANS, RETRY_LATER, write_input


# -- the journal ---------------------------------------------------------------------------
def test_journal_round_trip(tmp_path: Path) -> None:
    path = str(tmp_path / "state")
    st = ResumeState(path)
    st.start(-5, {"traces": "http://x/v1/traces"})
    st.acknowledge(Signal.TRACES, [(1 << 64) | 2, (3 << 64) | 4])
    st.acknowledge(Signal.LOGS, [b"\x01" * 16])
    st.close()
    again = ResumeState(path)
    assert again.spans == {(1 << 64) | 2, (3 << 64) | 4}
    assert again.logs == {b"\x01" * 16}
    assert again.time_offset_ns == -5


def test_a_torn_last_line_is_ignored_and_cut_off(tmp_path: Path) -> None:
    path = tmp_path / "state"
    st = ResumeState(str(path))
    st.start(0, {})
    st.acknowledge(Signal.TRACES, [(1 << 64) | 2])
    st.close()
    with path.open("ab") as fh:
        fh.write(b"s 0000000000")  # killed mid-write
    again = ResumeState(str(path))
    assert again.spans == {(1 << 64) | 2}
    assert path.read_bytes().endswith(b"\n")


@pytest.mark.parametrize(
    ("content", "message"),
    [(b'{"something": "else"}\n', "not an otel-replay state file"), (b"hello\n", "not an otel-replay state file")],
)
def test_a_foreign_file_is_refused(tmp_path: Path, content: bytes, message: str) -> None:
    (tmp_path / "state").write_bytes(content)
    with pytest.raises(StateFileError, match=message):
        ResumeState(str(tmp_path / "state"))


def test_a_damaged_line_is_refused(tmp_path: Path) -> None:
    (tmp_path / "state").write_bytes(b'{"otel_replay_resume": 1}\ns nothex\n')
    with pytest.raises(StateFileError, match="line 2 is damaged"):
        ResumeState(str(tmp_path / "state"))


# -- reruns in process -------------------------------------------------------------------------
#: Spans per OTLP request in these runs.
BATCH = 50


def _run(folder: Path, otlp: OtlpReceiver, loki: LokiReceiver, state: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    return replay_json(
        str(folder),
        *("--otlp-endpoint", otlp.url, "--loki-url", loki.url, "--resume", str(state)),
        *("--batch-size", str(BATCH), "--loki-batch-bytes", "8KiB", "--max-retry-time", "20", *extra),
    )


def spans_of(otlp: OtlpReceiver) -> list:
    return [s for _, _, s in otlp.spans()]


def _exactly_once(otlp: OtlpReceiver, loki: LokiReceiver) -> None:
    assert_each_once(span_counts(otlp), N_SPANS)
    assert_each_once(line_counts(loki), N_LOGS)


def test_rerun_with_the_state_file_completes_the_set(tmp_path: Path) -> None:
    write_input(tmp_path / "in")
    state = tmp_path / "state"
    with OtlpReceiver.tempo() as otlp, LokiReceiver(now_ns=lambda: EXAMPLE_NOW_NS) as loki:
        otlp.fault = loki.fault = lambda n: Answer(503, b"down", headers=RETRY_LATER) if n > 4 else None
        code, first = _run(tmp_path / "in", otlp, loki, state)
        assert code == 1 and 0 < first["signals"]["traces"]["sent"] < N_SPANS
        otlp.fault = loki.fault = None
        code, second = _run(tmp_path / "in", otlp, loki, state)
        assert code == 0, second
        _exactly_once(otlp, loki)
        code, third = _run(tmp_path / "in", otlp, loki, state)  # nothing left: nothing sent
    for sig in ("traces", "logs"):
        assert second["signals"][sig]["dropped"]["already delivered (--resume)"] == first["signals"][sig]["sent"]
        assert first["signals"][sig]["sent"] + second["signals"][sig]["sent"] == (
            N_SPANS if sig == "traces" else N_LOGS
        )
    assert code == 0 and third["signals"]["traces"]["sent"] == third["signals"]["logs"]["sent"] == 0


def test_the_first_runs_time_offset_is_kept(tmp_path: Path) -> None:
    write_input(tmp_path / "in")
    state = tmp_path / "state"
    with OtlpReceiver.tempo() as otlp, LokiReceiver() as loki:
        otlp.fault = lambda n: Answer(503, b"down", headers=RETRY_LATER) if n > 2 else None
        _, first = _run(tmp_path / "in", otlp, loki, state, "--shift-to-now", "--traces-only")
        otlp.fault = None
        _, second = _run(tmp_path / "in", otlp, loki, state, "--shift-to-now", "--traces-only")
        starts = {s.span_id: s.start_time_unix_nano for _, _, s in otlp.spans()}
    assert first["time_offset_ns"] == second["time_offset_ns"] != 0
    # span i of every file started at the same recorded instant; shifted by one offset they still do
    by_recorded = Counter(starts.values())
    assert len(by_recorded) == 1 and len(starts) == N_SPANS


# -- stopping the process -------------------------------------------------------------------
def _command(folder: Path, otlp: OtlpReceiver, loki: LokiReceiver, state: Path, *extra: str) -> list[str]:
    return replay_command(
        str(folder), "--json", "--otlp-endpoint", otlp.url, "--loki-url", loki.url, "--resume", str(state),
        "--batch-size", str(BATCH), "--loki-batch-bytes", "8KiB", *extra,
    )  # fmt: skip


def _traces_command(folder: Path, otlp: OtlpReceiver, *extra: str) -> list[str]:
    """A traces-only replay into ``otlp`` (no state file)."""
    return replay_command(str(folder), "--json", "--traces-only", "--otlp-endpoint", otlp.url, *extra)


def _stall_from(backend: FakeServer, first: int, arrivals: int = 1) -> threading.Event:
    """From its ``first``-th request on, ``backend`` answers nothing for two minutes (or
    until the client goes); the Event is set once ``arrivals`` requests are stalled."""
    stalled: list[int] = []
    enough = threading.Event()

    def fault(n: int) -> str | None:
        if n < first:
            return None
        stalled.append(n)
        if len(stalled) >= arrivals:
            enough.set()
        return "stall"

    backend.stall_seconds = 120
    backend.fault = fault
    return enough


def _rerun_completes(children: Children, command: list[str], otlp: OtlpReceiver, loki: LokiReceiver) -> None:
    rerun = children.run(command)
    assert rerun.returncode == 0, rerun.stderr
    _exactly_once(otlp, loki)


@pytest.mark.parametrize(
    ("signum", "status", "concurrency"), [(signal.SIGINT, 130, 1), (signal.SIGTERM, 143, 1), (signal.SIGINT, 130, 2)]
)
def test_interrupt_finishes_the_request_in_flight_prints_the_summary_and_resumes(
    tmp_path: Path, children: Children, signum: int, status: int, concurrency: int
) -> None:
    """The requests in flight when the signal comes finish and count; none starts after it.
    The backend holds the fifth request and, with --concurrency 2, the sixth: the signal
    comes once every lane holds one, so exactly 4 + concurrency requests are ever made."""
    write_input(tmp_path / "in")
    state = tmp_path / "state"
    every_lane_held, proceed = threading.Event(), threading.Event()
    held: list[int] = []

    def hold_from_the_fifth(n: int) -> None:
        if 5 <= n < 5 + concurrency:
            held.append(n)
            if len(held) == concurrency:
                every_lane_held.set()
            proceed.wait(30)  # answered normally once the signal has been sent
        return None

    with OtlpReceiver.tempo() as otlp, LokiReceiver(now_ns=lambda: EXAMPLE_NOW_NS) as loki:
        otlp.fault = hold_from_the_fifth
        command = _command(tmp_path / "in", otlp, loki, state, "--workers", "1", "--concurrency", str(concurrency))
        proc = children.start(command)
        assert every_lane_held.wait(60)
        proc.send_signal(signum)
        proceed.set()
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == status, err
        assert b"Traceback" not in err and b"stopping" in err
        summary = json.loads(out)
        assert summary["interrupted"] is True
        traces = summary["signals"]["traces"]
        assert traces["sent"] == len(otlp.spans()) == (4 + concurrency) * BATCH  # the held ones were acknowledged too
        assert otlp.attempts == 4 + concurrency  # no request started after the signal
        assert len(ResumeState(str(state)).spans) == traces["sent"]
        otlp.fault = None
        _rerun_completes(children, _command(tmp_path / "in", otlp, loki, state), otlp, loki)


def test_workers_stop_with_the_parent_on_sigint_and_the_rerun_sends_the_rest_exactly_once(
    tmp_path: Path, children: Children
) -> None:
    """Two worker processes: on SIGINT each finishes its requests in flight, and every span
    the backend got is counted and journaled; the rerun delivers the rest, everything
    exactly once."""
    write_input(tmp_path / "in")
    state = tmp_path / "state"
    arrived, proceed = threading.Event(), threading.Event()

    def hold_the_fifth(n: int) -> None:
        if n == 5:
            arrived.set()
            proceed.wait(30)
        return None

    with OtlpReceiver.tempo() as otlp, LokiReceiver(now_ns=lambda: EXAMPLE_NOW_NS) as loki:
        otlp.fault = hold_the_fifth
        proc = children.start(_command(tmp_path / "in", otlp, loki, state, "--workers", "2"))
        assert arrived.wait(60)
        proc.send_signal(signal.SIGINT)
        proceed.set()
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 130 and b"Traceback" not in err, err
        summary = json.loads(out)
        assert summary["interrupted"] is True
        assert summary["signals"]["traces"]["sent"] == len(otlp.spans()) == len(ResumeState(str(state)).spans)
        otlp.fault = None
        _rerun_completes(children, _command(tmp_path / "in", otlp, loki, state, "--workers", "2"), otlp, loki)


#: The SIGKILL run's settings (and BATCH): the bound on what its rerun may send twice is made of them.
KILLED_WORKERS, KILLED_CONCURRENCY = 2, 2


def test_after_sigkill_the_rerun_sends_each_span_once_and_resends_at_most_the_log_pushes_in_flight(
    tmp_path: Path, children: Children
) -> None:
    """SIGKILL while a worker's request is held at the backend: the workers die with the
    parent, every journaled span was stored, and the rerun delivers every record: each
    span exactly once (it asks Tempo's query API about the requests that were in flight).
    Log pushes in flight are sent again — Loki drops an identical entry, this fake stores
    it — at most --concurrency per worker."""
    write_input(tmp_path / "in")
    state = tmp_path / "state"
    arrived, proceed = threading.Event(), threading.Event()

    def hold_the_fifth(n: int) -> str | None:
        if n == 5:
            arrived.set()
            proceed.wait(30)
            return "stall"  # dropped unanswered, never stored
        return None

    settings = ("--workers", str(KILLED_WORKERS), "--concurrency", str(KILLED_CONCURRENCY))
    with TempoWithQueries() as otlp, LokiReceiver(now_ns=lambda: EXAMPLE_NOW_NS) as loki:
        otlp.fault = hold_the_fifth
        proc = children.start(_command(tmp_path / "in", otlp, loki, state, *settings))
        assert arrived.wait(60)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        proceed.set()
        assert proc.returncode == -signal.SIGKILL
        journaled = ResumeState(str(state)).spans
        stored = {int.from_bytes(s.trace_id + s.span_id, "big") for s in spans_of(otlp)}
        assert journaled <= stored  # journaled means stored
        lines_per_push = max(sum(len(s["values"]) for s in push["streams"]) for push in loki.pushes)
        otlp.fault = None
        rerun = children.run(_command(tmp_path / "in", otlp, loki, state, *settings, "--tempo-query-url", otlp.url))
        assert rerun.returncode == 0, rerun.stderr
        spans, lines = span_counts(otlp), line_counts(loki)
    in_flight = KILLED_WORKERS * KILLED_CONCURRENCY  # requests per signal
    assert_each_once(spans, N_SPANS)
    assert len(lines) == N_LOGS and max(lines.values()) <= 2
    assert sum(lines.values()) - N_LOGS <= in_flight * lines_per_push


def test_sigkill_mid_request_leaves_a_state_file_the_rerun_completes(tmp_path: Path, children: Children) -> None:
    """One request in flight (the stalled one, never stored): the rerun sends exactly the rest."""
    write_input(tmp_path / "in")
    state = tmp_path / "state"
    arrived = threading.Event()

    def stall_the_sixth(n: int) -> str | None:
        if n == 6:
            arrived.set()
            return "stall"  # never stored, never answered
        return None

    with OtlpReceiver.tempo() as otlp, LokiReceiver(now_ns=lambda: EXAMPLE_NOW_NS) as loki:
        otlp.fault = stall_the_sixth
        proc = children.start(_command(tmp_path / "in", otlp, loki, state, "--workers", "1", "--concurrency", "1"))
        assert arrived.wait(60)
        proc.kill()
        proc.communicate(timeout=60)
        assert proc.returncode == -signal.SIGKILL
        journaled = ResumeState(str(state))
        assert len(journaled.spans) == len(otlp.spans()) == 5 * BATCH
        otlp.fault = None
        _rerun_completes(children, _command(tmp_path / "in", otlp, loki, state), otlp, loki)


@pytest.mark.parametrize("concurrency", ["1", "3"])
def test_a_second_interrupt_quits_without_waiting_for_requests_in_flight(
    tmp_path: Path, children: Children, concurrency: str
) -> None:
    """Every request after the first stalls for two minutes: the first Ctrl-C waits for
    the ones in flight, the second quits at once, counting them as not sent. The signal
    comes once every lane holds a stalled request, so the first (answered) one has been
    counted: a lane is free for another request only after its answer is."""
    write_input(tmp_path / "in")
    with OtlpReceiver.tempo() as otlp:
        arrived = _stall_from(otlp, 2, arrivals=int(concurrency))
        proc = children.start(
            _traces_command(tmp_path / "in", otlp, "--batch-size", str(BATCH), "--timeout", "60", "--workers", "1",
                            "--concurrency", concurrency)
        )  # fmt: skip
        assert proc.stderr is not None
        assert arrived.wait(60)
        proc.send_signal(signal.SIGINT)
        assert b"stopping" in read_line(proc.stderr, 60)  # the first was handled: now the second
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)  # long before any stalled request ends
        assert proc.returncode == 130 and b"Traceback" not in err, err
        traces = json.loads(out)["signals"]["traces"]
        assert traces["sent"] == len(otlp.spans()) == BATCH  # the first request; the stalled ones store nothing
        assert otlp.requests_seen == 1 + int(concurrency)  # none started after the first Ctrl-C
        assert traces["not_sent_interrupted"] == traces["read"] - BATCH  # every record accounted for


def test_a_second_interrupt_with_workers_counts_what_they_finished(tmp_path: Path, children: Children) -> None:
    """Quitting at once ends the workers before they report: the summary still counts the
    inputs they had finished, and says that the rest is not counted. The first input's log
    records are held at Loki (its worker waits for that answer, at the end of the input), so
    the other worker reads the nine span inputs and sends their one request at its end,
    which stalls: then every span input is finished, by a worker that will not report."""
    log_file(tmp_path / "in" / "00-00-00-logs.json", [log_doc(body="held")])
    for f in range(9):
        spans = [span_doc(span_id=f"{f + 1:02x}{i + 1:014x}") for i in range(10)]
        trace_file(tmp_path / "in" / f"17-00-{f:02d}.json", spans)
    with OtlpReceiver.tempo() as otlp, LokiReceiver(now_ns=lambda: EXAMPLE_NOW_NS) as loki:
        logs_held, spans_stalled = _stall_from(loki, 1), _stall_from(otlp, 1)
        command = replay_command(
            str(tmp_path / "in"), "--json", "--otlp-endpoint", otlp.url, "--loki-url", loki.url,
            "--batch-size", "1000", "--workers", "2",
        )  # fmt: skip
        proc = children.start(command)
        assert proc.stderr is not None
        assert logs_held.wait(60) and spans_stalled.wait(60)
        proc.send_signal(signal.SIGINT)
        assert b"stopping" in read_line(proc.stderr, 60)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)  # long before any stalled request ends
        assert proc.returncode == 130 and b"Traceback" not in err, err
        assert loki.requests_seen == otlp.requests_seen == 1
    summary = json.loads(out)
    assert any("stopped at once" in p for p in problem_lines(summary))
    traces = summary["signals"]["traces"]
    assert (traces["files"], traces["read"], traces["sent"]) == (9, 90, 0)


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="needs pidfd (Linux)")
def test_workers_exit_when_the_parent_is_killed(tmp_path: Path, children: Children) -> None:
    """SIGKILL gives the parent no chance to stop its workers: they notice on their own
    (their lifeline pipe closes) and exit, instead of running on as orphans."""
    write_input(tmp_path / "in")
    with OtlpReceiver.tempo() as otlp:
        arrived = _stall_from(otlp, 1)
        proc = children.start(_traces_command(tmp_path / "in", otlp, "--batch-size", str(BATCH), "--workers", "2"))
        assert arrived.wait(60)
        workers = child_pids(proc.pid)
        assert len(workers) >= 2, workers
        pidfds = [os.pidfd_open(w) for w in workers]
        proc.kill()
        proc.communicate(timeout=60)
        for fd in pidfds:
            ready, _, _ = select.select([fd], [], [], 30)  # readable once that process has exited
            os.close(fd)
            assert ready, "a worker outlived its parent"
