"""A SIGINT may come between any two steps of the main thread, also while it holds a lock
(an Event's, a Condition's): the run's handlers take none, so they never wait for ever.

Each probe runs in a child process (a handler that waited for ever would hang this one).
Trial by trial, a trace function sends the signal at the N-th bytecode instruction of
the step the main thread is taking, so that every point of it is tried, the moments it
holds the lock included."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.helpers import ROOT, child_env

_TRIALS = """
import os, signal, sys

def at_instruction(n, step):
    count = [0]
    def tracer(frame, event, arg):
        frame.f_trace_opcodes = True
        if event == "opcode":
            count[0] += 1
            if count[0] == n:
                os.kill(os.getpid(), signal.SIGINT)
        return tracer
    sys.settrace(tracer)
    try:
        step()
    finally:
        sys.settrace(None)
"""


def _probe(body: str, quiet: bool = False) -> str:
    """What the probe prints; it must end well (and, ``quiet``, print nothing but the
    replays' notices on stderr: no traceback, no exception ignored)."""
    script = _TRIALS + textwrap.dedent(body)
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, timeout=120, env=child_env())
    err = proc.stderr.decode()
    assert proc.returncode == 0, err
    if quiet:
        assert all(line.startswith("otel-replay: ") for line in err.splitlines()), err
    return proc.stdout.decode().strip()


def test_a_sigint_as_the_start_up_ends_quits_or_is_too_late_never_hangs() -> None:
    """Start-up ends (``phase.starting = False``): a SIGINT before that quits, one after it is
    left to the replay's handler (here: ignored)."""
    out = _probe(
        """
        from otel_replay.interrupts import RunPhase
        from otel_replay.runner import signals_outside_the_replay

        def started(phase):
            phase.starting = False

        def trial(n):
            try:
                with signals_outside_the_replay(RunPhase()) as phase:
                    at_instruction(n, lambda: started(phase))
            except KeyboardInterrupt:
                return "quit"
            return "went on"

        print(sorted({trial(n) for n in range(1, 60)}))
        """
    )
    assert out == "['quit', 'went on']"


def test_the_first_sigint_of_the_replay_stops_the_run_whatever_the_main_thread_holds() -> None:
    """The main thread waits on the executor's stop (an Event, as a retry's back-off does)
    when the first signal comes: the executor is stopped and it is said, every time."""
    out = _probe(
        """
        import threading
        from otel_replay.runner import stop_on_signals

        class Executor:
            def __init__(self):
                self.stop = threading.Event()
            def interrupt(self):
                self.stop.set()

        def trial(n):
            executor, said = Executor(), []
            with stop_on_signals(executor, said.append) as received:
                at_instruction(n, lambda: executor.stop.wait(0.001))
            assert len(received) == 1 and executor.stop.is_set() and len(said) == 1, (n, received, said)
            return said[0]

        print(sorted({trial(n) for n in range(1, 100)}))
        """
    )
    assert out == "['stopping: finishing the request in flight (interrupt again to quit at once)']"


def test_a_ctrl_c_while_the_workers_start_reaches_none_of_them(tmp_path: Path) -> None:
    """A Ctrl-C reaches the whole process group. One that reaches a worker between its fork
    and the moment it ignores SIGINT (its first ~1,000 instructions) must not raise there:
    each trial sends it at one of those instructions, in the forked child only; the run
    goes on (the parent got none) and says nothing of it."""
    sent = tmp_path / "sent"
    out = _probe(
        f"""
        from otel_replay.cli import main

        PARENT = os.getpid()

        def in_the_child(n):
            count = [0]
            def tracer(frame, event, arg):
                if os.getpid() == PARENT:
                    return tracer
                frame.f_trace_opcodes = True
                if event == "opcode":
                    count[0] += 1
                    if count[0] == n:
                        with open({str(sent)!r}, "a") as fh:
                            fh.write(f"{{n}}\\n")
                        os.kill(os.getpid(), signal.SIGINT)
                return tracer
            return tracer

        codes = set()
        for n in range(1, 1200, 40):
            sys.settrace(in_the_child(n))
            try:
                main(["replay", "examples/codemachine", "--dry-run", "--workers", "2", "--json"],
                     prog_name="otel-replay", standalone_mode=False)
            except SystemExit as exc:
                codes.add(exc.code)
            finally:
                sys.settrace(None)
        print(sorted(codes))
        """,
        quiet=True,
    )
    *summaries, codes = out.splitlines()
    assert codes == "[0]"
    trials = len(range(1, 1200, 40))
    assert len(summaries) == trials and all(json.loads(line)["files_read"] == 9 for line in summaries)
    assert len(set(sent.read_text().split())) == trials  # in every trial, a worker got the signal


_LATE = """
import os, signal, sys

N, SENT = int(sys.argv[1]), sys.argv[2]
counted = [0, False]

def tracer(frame, event, arg):
    frame.f_trace_opcodes = True
    code = frame.f_code
    if not counted[1]:  # counting starts as the run returns (its handlers put back)
        counted[1] = event == "return" and code.co_name == "execute" and code.co_filename.endswith("runner.py")
    elif event == "opcode":
        counted[0] += 1
        if counted[0] == N:
            with open(SENT, "a") as fh:
                fh.write(f"{N}\\n")
            os.kill(os.getpid(), signal.SIGINT)
    return tracer

sys.settrace(tracer)
sys.argv = ["otel-replay", "replay", "examples/codemachine", "--dry-run", "--workers", "2", "--json"]
from otel_replay.cli import run
run()
"""


def test_a_ctrl_c_once_the_run_has_ended_changes_nothing_it_says(tmp_path: Path) -> None:
    """The command line's own process (cli.run), from the moment the run returns, its
    handlers put back, through its summary, its exit and the interpreter's exit hooks
    (some 3,500 instructions): a SIGINT at any of twelve points of that is ignored. The
    exit status and the summary are the run's, and nothing else is said (before: click's
    "Aborted!" and exit status 1 instead of the summary, or a traceback from an exit hook)."""
    sent = tmp_path / "sent"
    points = range(1, 3400, 283)

    def trial(n: int) -> subprocess.CompletedProcess[bytes]:
        command = [sys.executable, "-c", _LATE, str(n), str(sent)]
        return subprocess.run(command, cwd=ROOT, capture_output=True, timeout=120, env=child_env())

    with ThreadPoolExecutor(4) as pool:
        done = list(pool.map(trial, points))
    for n, proc in zip(points, done, strict=True):
        err = proc.stderr.decode()
        assert proc.returncode == 0, (n, err)
        assert json.loads(proc.stdout)["signals"]["traces"]["sent"] > 0, n
        assert all(line.startswith("otel-replay: ") for line in err.splitlines()), (n, err)
    assert len(sent.read_text().split()) >= len(points) - 1  # the signal came in (nearly) every trial
