"""``--workers N``: read, convert, encode and export in N worker processes.

Inputs are handed out one at a time in discovery order through a shared counter (a
large JSON Lines file is handed out in parts, see ``ArchiveLimits.part_bytes``); every
worker walks the same (cheap) discovery and reads the inputs it claimed through its own
filters and sinks — its own official OTLP exporters, its own Loki session — so parsing,
SDK conversion, protobuf encoding and HTTP all run in parallel. What must be decided once
for the whole run stays with the parent, which the workers ask over a pipe:

- dedup and ``--resume``: "which of these records are new?", for a batch at a time;
- the ``--resume`` journal: acknowledged keys are written (and fsync-ed) by the parent
  before the worker goes on;
- Loki order: a worker pushes the log entries of input *i* only once every input before
  *i* is done, so each stream still receives its entries oldest first, as in a
  one-process run (parsing and converting the next inputs goes on meanwhile).

At the end each worker's report is merged into the run's.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable
from multiprocessing import forkserver
from multiprocessing.connection import Connection, wait
from typing import Any

from otel_replay.assemble import build_sinks, filters, final_transforms
from otel_replay.model import Record, Signal
from otel_replay.pipeline import Pipeline, newest_timestamp
from otel_replay.report import Report
from otel_replay.resume import ResumeState
from otel_replay.transforms.dedup import SeenCheck, record_keys

EXIT_ORPHANED = 3
_CLEAN_START = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
_ctx: Any = multiprocessing.get_context(_CLEAN_START)  # how this run's workers start: see prepare()


def prepare(modules: list[str]) -> None:
    """Choose how this run's workers start, before anything else happens in the run.

    The command line runs a single thread: its workers are forked from it, so they start
    at once with everything imported and share its memory pages. A process with other
    threads running (a program that embeds the replay, the tests) must not fork — a child
    could inherit a lock one of them held — so its workers come from a fork server, started
    now with ``modules`` imported, so that its start-up overlaps the parent's discovery."""
    global _ctx
    if sys.platform.startswith("linux") and threading.active_count() == 1:
        _ctx = multiprocessing.get_context("fork")
        return
    _ctx = multiprocessing.get_context(_CLEAN_START)
    if _CLEAN_START == "forkserver":
        _ctx.set_forkserver_preload(["otel_replay.parallel", *modules])
        forkserver.ensure_running()


def _start(
    workers: int, target: Any, args: tuple[Any, ...], duplex: bool = True
) -> tuple[list[Any], list[Any], list[Any]]:
    """Start ``workers`` processes running ``target(*args, conn, lifeline, inherited)``;
    returns the parent's ends of their pipes, the processes, and the parent's ends of their
    lifelines (to be held open as long as they should live)."""
    for stream in (sys.stdout, sys.stderr):  # a forked child would write out a copy of what is buffered
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    ends: list[Any] = []
    keep: list[Any] = []
    processes = []
    for _ in range(workers):
        parent_end, child_end = _ctx.Pipe(duplex=duplex)
        keep_alive, lifeline = _ctx.Pipe()
        # A forked child holds copies of the parent's ends too (its own lifeline's among them,
        # which would keep that from ever closing): it closes them first.
        inherited = [*ends, *keep, parent_end, keep_alive] if _ctx.get_start_method() == "fork" else []
        process = _ctx.Process(target=target, args=(*args, child_end, lifeline, inherited), daemon=True)
        process.start()
        child_end.close()
        lifeline.close()
        ends.append(parent_end)
        keep.append(keep_alive)
        processes.append(process)
    return ends, processes, keep


class Coordinator:
    """The parent's side: dedup and --resume for all workers, the journal, Loki order."""

    def __init__(self, state: ResumeState | None, on_progress: Callable[[Report], None] | None = None) -> None:
        self._check = SeenCheck(state)
        self._on_progress = on_progress
        self._progress: dict[int, dict[str, Any]] = {}  # per worker: its report after its last input
        self._progress_lock = threading.Lock()
        self._reported: set[int] = set()  # workers whose final report is merged
        self._state = state
        self._cond = threading.Condition()
        self._done: set[int] = set()
        self._turn = 0  # every input before this one is done
        self._released = False

    def check(self, sig: Signal, keys: list[Any], replay_as_is: list[bool]) -> list[str | None]:
        with self._cond:
            return self._check.verdicts(sig, keys, replay_as_is)

    def done(self, index: int) -> None:
        with self._cond:
            self._done.add(index)
            while self._turn in self._done:
                self._done.discard(self._turn)
                self._turn += 1
            self._cond.notify_all()

    def wait_turn(self, index: int) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self._released or self._turn >= index)

    def progress(self, worker: int, snapshot: dict[str, Any]) -> None:
        """Keep (and show, on a terminal) every worker's report as of its last finished input."""
        with self._progress_lock:
            self._progress[worker] = snapshot
            if self._on_progress is None:
                return
            view = Report()
            for snap in self._progress.values():
                view.merge(snap)
            self._on_progress(view)

    def merge_unreported(self, report: Report) -> None:
        """The run quit at once (a second Ctrl-C): count what the workers that sent no final
        report had done as of their last finished input."""
        with self._progress_lock:
            missing = [w for w in self._progress if w not in self._reported]
            for worker in missing:
                report.merge(self._progress[worker])
        report.problem("stopped at once: what the workers did with the inputs they were reading then is not counted")

    def release(self) -> None:
        """Nobody waits for their turn any more (the run stops, or a worker died)."""
        with self._cond:
            self._released = True
            self._cond.notify_all()

    def serve(self, conn: Connection, report: Report, process: Any, worker: int = 0) -> None:
        """Answer one worker until it sends its report (or dies)."""
        try:
            while True:
                try:
                    message = conn.recv()
                except (EOFError, OSError):
                    self.release()
                    process.join()
                    report.problem(f"a worker process stopped unexpectedly (exit code {process.exitcode})")
                    return
                kind = message[0]
                if kind == "check":
                    conn.send(self.check(*message[1:]))
                elif kind == "ack":
                    if self._state is not None:
                        self._state.acknowledge(message[1], message[2])
                    conn.send(True)
                elif kind == "turn":
                    self.wait_turn(message[1])
                    conn.send(True)
                elif kind == "done":
                    self.done(message[1])
                    self.progress(worker, message[2])
                elif kind == "report":
                    with self._progress_lock:
                        report.merge(message[1])
                        self._reported.add(worker)
                    return
        finally:
            conn.close()


class _Client:
    """The worker's side of the pipe (sink threads may ask too: one question at a time)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()

    def ask(self, *message: Any) -> Any:
        with self._lock:
            self._conn.send(message)
            return self._conn.recv()

    def tell(self, *message: Any) -> None:
        with self._lock:
            self._conn.send(message)

    def check(self, sig: Signal, records: list[Record]) -> list[str | None]:
        return self.ask("check", sig, *record_keys(records))  # type: ignore[no-any-return]

    def ack(self, sig: Signal, keys: Any) -> None:
        self.ask("ack", sig, list(keys))


class _Claims:
    """Which discovered inputs this worker reads: each worker walks the same discovery and
    takes the next index nobody has taken (a shared counter) whenever it reaches it."""

    def __init__(self, counter: Any) -> None:
        self._counter = counter
        self.current = -1  # the input being read
        self._mine = self._take()

    def _take(self) -> int:
        with self._counter.get_lock():
            self._counter.value += 1
            return int(self._counter.value - 1)

    def __call__(self, index: int) -> bool:
        if index != self._mine:
            return False
        self.current = index
        self._mine = self._take()
        return True


def _die_with_parent(lifeline: Connection) -> None:
    """Exit at once when the parent is gone (killed): nothing may be sent that the
    parent can no longer journal or count."""
    with contextlib.suppress(EOFError, OSError):
        lifeline.recv()
    os._exit(EXIT_ORPHANED)


def _start_worker(lifeline: Connection, inherited: list[Connection]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    for conn in inherited:
        conn.close()
    threading.Thread(target=_die_with_parent, args=(lifeline,), daemon=True).start()


def _newest_worker(
    plan: Any, counter: Any, conn: Connection, lifeline: Connection, inherited: list[Connection]
) -> None:
    """--shift-to-now's first pass over the inputs this worker claims."""
    _start_worker(lifeline, inherited)
    try:
        conn.send(_newest(plan, _Claims(counter)))
    except (EOFError, OSError):
        os._exit(EXIT_ORPHANED)


def _newest(plan: Any, claim: _Claims | None = None) -> int | None:
    return newest_timestamp(plan.paths, None, plan.signals, filters(plan.selection), plan.limits, claim)


def newest_in_workers(plan: Any, workers: int) -> int | None:
    """The newest instant among the records the run will replay (``--shift-to-now``),
    found by ``workers`` processes sharing the inputs (KeyboardInterrupt: they are ended)."""
    counter = _ctx.Value("q", 0)
    ends, processes, _lifelines = _start(workers, _newest_worker, (plan, counter), duplex=False)
    found: list[int | None] = []
    try:
        waiting = list(ends)
        while waiting:
            for end in wait(waiting, timeout=0.5):  # wakes up for signal handlers
                try:
                    found.append(end.recv())
                except EOFError:  # the worker died: its share is read again here
                    return _newest(plan)
                waiting.remove(end)
    except KeyboardInterrupt:
        for process in processes:
            process.kill()  # they only read (and ignore SIGTERM, as all workers do)
        raise
    finally:
        for process in processes:
            process.join()
    return max((t for t in found if t is not None), default=None)


def _worker(
    plan: Any,
    offset_ns: int,
    counter: Any,
    stop: Any,
    verbose: bool,
    conn: Connection,
    lifeline: Connection,
    inherited: list[Connection],
) -> None:
    _start_worker(lifeline, inherited)
    try:
        _work(plan, offset_ns, counter, stop, conn, verbose)
    except (EOFError, OSError):  # the pipe to the parent broke: the parent is gone
        os._exit(EXIT_ORPHANED)


def _work(plan: Any, offset_ns: int, counter: Any, stop: Any, conn: Connection, verbose: bool) -> None:
    client = _Client(conn)
    report = Report(plan.mode, {s: plan.destinations[s] for s in plan.signals}, plan.redact)
    if verbose:
        report.verbose = lambda line: print(f"otel-replay: {line}", file=sys.stderr, flush=True)
    claim = _Claims(counter)
    sinks = build_sinks(
        plan, report, stop, client.ack if plan.resume_path else None, lambda: client.ask("turn", claim.current)
    )
    pipeline = Pipeline(
        sinks,
        filters(plan.selection),
        report,
        stop=stop,
        limits=plan.limits,
        claim=claim,
        check=client.check,
        after=final_transforms(plan, offset_ns),
        file_done=lambda index: client.tell("done", index, report.snapshot()),
    )
    try:
        pipeline.run(plan.paths)
    finally:
        client.tell("report", report.snapshot())
        conn.close()


def run_workers(
    plan: Any,
    workers: int,
    offset_ns: int,
    report: Report,
    state: ResumeState | None,
    stop: Any,
    verbose: bool,
    on_progress: Callable[[Report], None] | None = None,
) -> None:
    """Start the workers and the threads that answer them, and wait for all of them
    (KeyboardInterrupt, a second Ctrl-C, terminates the workers)."""
    coordinator = Coordinator(state, on_progress)
    counter = _ctx.Value("q", 0)  # must outlive the workers' start: they attach to it
    # every worker starts before any thread does (a forked child must not inherit one)
    ends, processes, _lifelines = _start(workers, _worker, (plan, offset_ns, counter, stop, verbose))
    threads = [
        threading.Thread(target=coordinator.serve, args=(end, report, process, worker), daemon=True)
        for worker, (end, process) in enumerate(zip(ends, processes, strict=True))
    ]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.5)  # wake up for signal handlers (they run in this thread)
                if stop.is_set():
                    coordinator.release()
        for process in processes:
            process.join()
    except KeyboardInterrupt:
        for process in processes:
            process.terminate()
        coordinator.merge_unreported(report)
        raise


def stop_event() -> Any:
    """An Event the workers see (the signal handler sets it like the one-process one)."""
    return _ctx.Event()
