"""Ctrl-C at any moment: during start-up (the check of the destinations, discovery) the
run ends at once with exit status 130 and one line, never a traceback — also when two
SIGINTs come at once, as ``timeout -s INT`` sends them (to the process and to its
group); during the replay two at once still give a summary whose counts add up."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.fakes.otlp import OtlpReceiver
from tests.helpers import EXAMPLE, Children, read_line, replay_command, span_doc, trace_file

WITHIN = 30.0  # seconds; a stalled check alone would take 5, a stalled request much longer


def _two_sigints(pid: int) -> None:
    os.kill(pid, signal.SIGINT)
    os.kill(pid, signal.SIGINT)


def _interrupt_during_startup(proc: subprocess.Popen[bytes], second: str) -> None:
    """Two SIGINTs: at once, or the second once the run has said it is quitting (it
    must not turn the exit into click's "Aborted!" and status 1)."""
    assert proc.stderr is not None
    if second == "at once":
        _two_sigints(proc.pid)
        out, err = proc.communicate(timeout=60)
    else:
        proc.send_signal(signal.SIGINT)
        said = read_line(proc.stderr, 60)
        proc.send_signal(signal.SIGINT)
        out, rest = proc.communicate(timeout=60)
        err = said + rest
    text = err.decode()
    assert proc.returncode == 130, text
    assert "Traceback" not in text and "KeyboardInterrupt" not in text and "Aborted" not in text, text
    assert text.strip().splitlines() == ["otel-replay: interrupted before anything was sent"]
    assert out == b""


@pytest.mark.parametrize("second", ["at once", "after the message"])
def test_two_sigints_while_the_destinations_are_checked(children: Children, second: str) -> None:
    """The OTLP endpoint takes the connection and never answers: the run is waiting for
    the check when both signals come."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # never accepted: the kernel completes the handshake, nobody answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        proc = children.start(replay_command(str(EXAMPLE), "--signals", "traces", "--otlp-endpoint", url))
        readable, _, _ = select.select([silent], [], [], 60)  # the check's connection is waiting
        assert readable, "the check never connected"
        started = time.monotonic()
        _interrupt_during_startup(proc, second)
    assert time.monotonic() - started < WITHIN


@pytest.mark.parametrize("second", ["at once", "after the message"])
def test_two_sigints_while_discovery_reads_a_stalled_input(tmp_path: Path, children: Children, second: str) -> None:
    """A FIFO as an input: discovery (the parent's, with workers) opens it and waits for
    its first bytes, which never come."""
    fifo = tmp_path / "stalled.json"
    os.mkfifo(fifo)
    proc = children.start(replay_command(str(fifo), str(EXAMPLE), "--dry-run", "--workers", "2"))
    writer: list[int] = []
    opened = threading.Thread(target=lambda: writer.append(os.open(fifo, os.O_WRONLY)), daemon=True)
    opened.start()
    opened.join(60)  # returns once the replay has opened the FIFO to read it
    assert writer, "the replay never opened the input"
    try:
        _interrupt_during_startup(proc, second)
    finally:
        os.close(writer[0])


def test_two_sigints_at_once_during_the_replay_give_a_summary_that_adds_up(tmp_path: Path, children: Children) -> None:
    """The second request stalls; both signals come while it is in flight. Whether they
    arrive as one (the first Ctrl-C: the request runs out its --timeout) or as two (quit
    at once), every record read is counted once: sent, failed or not sent."""
    for f in range(4):
        trace_file(
            tmp_path / "in" / f"17-00-0{f}.json", [span_doc(span_id=f"{f + 1:02x}{i + 1:014x}") for i in range(25)]
        )
    arrived = threading.Event()

    def stall_from_the_second(n: int) -> str | None:
        if n < 2:
            return None
        arrived.set()
        return "stall"

    with OtlpReceiver.tempo() as otlp:
        otlp.stall_seconds = 120
        otlp.fault = stall_from_the_second
        command = replay_command(
            str(tmp_path / "in"), "--json", "--traces-only", "--otlp-endpoint", otlp.url, "--batch-size", "25",
            "--workers", "1", "--concurrency", "1", "--timeout", "5",
        )  # fmt: skip
        proc = children.start(command)
        assert arrived.wait(60)
        started = time.monotonic()
        _two_sigints(proc.pid)
        out, err = proc.communicate(timeout=60)
    assert time.monotonic() - started < WITHIN
    assert proc.returncode == 130 and b"Traceback" not in err, err
    summary = json.loads(out)
    assert summary["interrupted"] is True
    traces = summary["signals"]["traces"]
    assert traces["sent"] == len(otlp.spans()) == 25  # the first request
    assert traces["read"] >= 50  # at least the stalled request's records were read
    assert traces["read"] == traces["sent"] + traces["failed"] + traces["not_sent_interrupted"], traces


def test_a_run_started_with_sigint_ignored_keeps_ignoring_it(tmp_path: Path, children: Children) -> None:
    """As a non-interactive shell starts a job in the background (or ``nohup``-like tools
    do): SIGINT ignored from the start. A SIGINT while the run's one request is held
    changes nothing: no "stopping", every span sent, exit status 0 (before: the run
    installed its handlers, stopped and exited 130)."""
    trace_file(tmp_path / "in" / "spans.json", [span_doc(span_id=f"{i + 1:016x}") for i in range(10)])
    held, release = threading.Event(), threading.Event()

    def hold_the_first(n: int) -> None:
        if n == 1:
            held.set()
            release.wait(60)

    with OtlpReceiver.tempo() as otlp:
        otlp.fault = hold_the_first
        command = replay_command(str(tmp_path / "in"), "--signals", "traces", "--otlp-endpoint", otlp.url, "--json")
        proc = children.start(command, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
        try:
            assert held.wait(60)
            proc.send_signal(signal.SIGINT)
        finally:
            release.set()
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0 and b"stopping" not in err, err
        assert json.loads(out)["signals"]["traces"]["sent"] == 10 == len(otlp.spans())
