"""``--workers N``: read, convert, encode and export in N worker processes.

The parent discovers the inputs once and hands them out as work items through a queue,
one at a time to whichever worker asks next (see inputs.py: an input that can only be
read as it goes by is copied out once first); no worker walks discovery or reads what
another one reads. ``--shift-to-now``'s first pass is handed out the same way, then the
replay. What must be decided once for the whole run stays in the parent, which answers
each worker over its own pipe (one thread per worker, :class:`Hub`): dedup and
``--resume``, the journal, and Loki's order — input ``i``'s turn to push comes once
every input before it is done (:class:`Turns`, kept in shared memory too so that a
worker sees it without asking).

A worker that dies (a crash, the OOM killer, SIGKILL) is an outcome: its pipe closes,
the input it was reading is said not to be read to the end, what it had read and not
reported delivered counts as not sent with the reason, and the others go on.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from otel_replay.assemble import filters
from otel_replay.execute.base import Job
from otel_replay.execute.inputs import Entry, Spool, WorkItem
from otel_replay.execute.procs import Started, context, exit_reason, start
from otel_replay.execute.worker import FirstPass, Replay, SharedInt, Task, work
from otel_replay.model import FileProblem
from otel_replay.pipeline import newest_in
from otel_replay.plan import RunPlan
from otel_replay.report import Report
from otel_replay.sources.discover import SkippedFile

#: Work items queued ahead per worker (more only fills the spool folder sooner).
QUEUED_PER_WORKER = 2
#: How often a waiting parent wakes up for signal handlers and dead workers (seconds).
POLL = 0.5


class Turns:
    """Loki's order across workers: input ``i``'s turn comes once every input before it
    is done. ``shared`` mirrors the first input not done yet (workers read it)."""

    def __init__(self, shared: SharedInt) -> None:
        self._shared = shared
        self._cond = threading.Condition()
        self._done: set[int] = set()
        self._turn = 0

    def done(self, index: int) -> None:
        with self._cond:
            self._done.add(index)
            while self._turn in self._done:
                self._done.discard(self._turn)
                self._turn += 1
            self._shared.value = max(self._shared.value, self._turn)
            self._cond.notify_all()

    def wait(self, index: int) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self._shared.value >= index)

    def release(self) -> None:
        """Nobody waits for a turn any more (the run stops)."""
        with self._cond:
            self._shared.value = 1 << 62
            self._cond.notify_all()


@dataclass
class _Peer:
    """The parent's view of one worker."""

    number: int
    conn: Connection
    process: BaseProcess
    task: Task | None = None  # the work item it is reading
    latest: dict[str, Any] | None = None  # its counts as of its last message that had them
    finished: bool = False  # its last report is counted
    died: str | None = None  # why it is gone


class Hub:
    """The parent's side of every worker's pipe."""

    def __init__(self, started: Started, turns: Turns, spool: Spool, reads_twice: bool) -> None:
        self.peers = [_Peer(n, c, p) for n, (c, p) in enumerate(zip(started.conns, started.processes, strict=True))]
        self.tasks: queue.Queue[Task | None] = queue.Queue(maxsize=QUEUED_PER_WORKER * len(self.peers))
        self.turns = turns
        self._spool = spool
        self._reads_twice = reads_twice
        self._lock = threading.Lock()  # dedup, counts, the peers' state
        self._first = threading.Condition(self._lock)
        self.newest: list[int | None] = []
        self.lost: list[WorkItem] = []  # first-pass items whose worker died
        self.first_pending = 0
        #: What the parent counts itself (found by discovery, deaths before the replay).
        self.own = Report()
        self.job: Job | None = None

    @property
    def report(self) -> Report:
        return self.own if self.job is None else self.job.report

    def alive(self) -> bool:
        return any(p.died is None and not p.finished for p in self.peers)

    def serve(self, peer: _Peer) -> None:
        """Answer one worker until it sends its report, or dies."""
        try:
            while self._answer(peer, peer.conn.recv()):
                pass
        except (EOFError, OSError):
            self._died(peer)
        finally:
            peer.conn.close()

    def _answer(self, peer: _Peer, message: tuple[Any, ...]) -> bool:
        kind = message[0]
        if kind == "next":
            peer.conn.send(self._next(peer))
        elif kind == "check":
            assert self.job is not None
            with self._lock:
                if message[4] is not None:
                    peer.latest = message[4]
                verdicts = self.job.check.verdicts(message[1], message[2], message[3])
            peer.conn.send(verdicts)
        elif kind == "ack":
            assert self.job is not None and self.job.ack is not None
            self.job.ack(message[1], message[2])
            peer.conn.send(True)
        elif kind == "turn":
            self.turns.wait(message[1])
            peer.conn.send(True)
        elif kind == "newest":
            with self._first:
                self.newest.append(message[1])
                self._first_done(peer)
        elif kind == "done":
            self._done(peer, message[1], message[2])
        elif kind == "report":
            with self._lock:
                self.report.merge(message[1])
                peer.finished = True
                peer.task = None
            return False
        return True

    def _next(self, peer: _Peer) -> Task | None:
        task = self.tasks.get()
        if task is None:
            self.tasks.put(None)  # the end, for every worker
        peer.task = task
        return task

    def _first_done(self, peer: _Peer) -> None:
        peer.task = None
        self.first_pending -= 1
        self._first.notify_all()

    def first_pass(self, item: WorkItem) -> FirstPass:
        with self._first:
            self.first_pending += 1
        return FirstPass(item)

    def not_handed_out(self, item: WorkItem) -> None:
        with self._first:
            self.first_pending -= 1
            self.lost.append(item)

    def wait_first_pass(self) -> None:
        """Until every first-pass item has its answer (or is lost: its worker died)."""
        with self._first:
            while self.first_pending > 0:
                self._first.wait(POLL)  # wakes up for signal handlers
                if not self.alive():
                    for task in self.drain():
                        if isinstance(task, FirstPass):
                            self.first_pending -= 1
                            self.lost.append(task.item)

    def drain(self) -> list[Task]:
        """The tasks no worker took."""
        left = []
        with contextlib.suppress(queue.Empty):
            while True:
                task = self.tasks.get_nowait()
                if task is not None:
                    left.append(task)
        return left

    def _done(self, peer: _Peer, index: int, snapshot: dict[str, Any]) -> None:
        self.turns.done(index)
        with self._lock:
            peer.latest = snapshot
            task, peer.task = peer.task, None
            if isinstance(task, Replay) and not self._reads_twice:
                self._spool.discard(task.item)
        job = self.job
        if job is not None and job.on_progress is not None:
            job.on_progress(self.progress())

    def progress(self) -> Report:
        """Every worker's counts as of its last finished input."""
        with self._lock:
            view = Report()
            for peer in self.peers:
                if peer.latest is not None:
                    view.merge(peer.latest)
        return view

    def _died(self, peer: _Peer) -> None:
        """Count a dead worker's share (see the module's docstring)."""
        peer.process.join(10)
        reason = f"worker process died ({exit_reason(peer.process)})"
        with self._first:
            if peer.finished or peer.died is not None:
                return  # counted already (a second Ctrl-C: see unreported)
            peer.died = reason
            task, peer.task = peer.task, None
            if isinstance(task, FirstPass):
                self.lost.append(task.item)
                self._first_done(peer)
            report = self.report
            if isinstance(task, Replay):
                report.problem(f"{task.item.name}: not read to the end: {reason}")
                self.turns.done(task.item.index)
            latest = peer.latest if self.job is not None else None
            if latest is not None:
                report.merge(latest)
                for signal, stats in latest["stats"].items():
                    report.not_sent(signal, _without_outcome(stats), reason)
            report.problem(f"{reason}; what it had read and not reported delivered is counted as not sent")

    def unreported(self) -> None:
        """The run quit at once (a second Ctrl-C): count what the workers that sent no last
        report had done as of their last message."""
        with self._lock:
            for peer in self.peers:
                if not peer.finished and peer.died is None:
                    peer.died = "ended at once"
                    if peer.latest is not None:
                        self.report.merge(peer.latest)
        self.report.problem(
            "stopped at once: what the workers did with the inputs they were reading then is not counted"
        )


def _without_outcome(stats: Any) -> int:
    """Records read and accepted that neither were sent, refused nor dropped."""
    dropped = sum(stats.dropped.values())
    return int(stats.read - stats.sent - stats.rejected - stats.failed - dropped - stats.unsent)


class Workers:
    """The executor that hands the inputs out to ``count`` worker processes."""

    def __init__(
        self, plan: RunPlan, entries: Iterator[Entry], count: int, spool: Spool, reads_twice: bool, verbose: bool
    ) -> None:
        self._plan = plan
        self._entries: Iterator[Entry] = entries
        self._spool = spool
        self._not_read: list[str] = []
        ctx = context(["otel_replay.execute.worker", *(["otel_replay.sinks.otlp"] if plan.sends_otlp else [])])
        self._stop = ctx.Event()
        turn: SharedInt = ctx.RawValue("q", 0)
        # every worker starts before any thread of this process does (a forked child must not inherit one)
        self._started = start(ctx, count, work, (plan, self._stop, turn, verbose))
        self._hub = hub = Hub(self._started, Turns(turn), spool, reads_twice)
        self._threads = [threading.Thread(target=hub.serve, args=(peer,), daemon=True) for peer in hub.peers]
        for thread in self._threads:
            thread.start()

    # -- the run's steps ----------------------------------------------------------------
    def newest(self) -> int | None:
        hub, recorded = self._hub, []
        try:
            for entry in self._entries:
                recorded.append(entry)
                if isinstance(entry, WorkItem) and not self._put(hub.first_pass(entry)):
                    hub.not_handed_out(entry)
            hub.wait_first_pass()
        except KeyboardInterrupt:
            self._kill()  # they only read so far
            raise
        self._entries = iter(recorded)
        keep, signals = filters(self._plan.selection), frozenset(self._plan.signals)
        found = hub.newest + [newest_in(item.input(self._plan.limits.max_ratio), signals, keep) for item in hub.lost]
        return max((t for t in found if t is not None), default=None)

    def replay(self, job: Job) -> None:
        hub = self._hub
        with hub._lock:
            hub.job = job
        try:
            self._feed(job.offset_ns)
            self._wait()
            left = [task.item.name for task in hub.drain() if isinstance(task, Replay)] + self._not_read
            if left:
                hub.own.problem(f"every worker process died: {left[0]} and the inputs after it are not read")
        except KeyboardInterrupt:  # a second Ctrl-C: quit at once
            hub.unreported()
            self._kill()
            raise
        finally:
            job.report.merge(hub.own.snapshot())
            if self.stopped:
                job.report.settle_unsent()

    def _feed(self, offset_ns: int) -> None:
        """Hand out the replay's work items; count what discovery found that is not read."""
        own = self._hub.own
        for entry in self._entries:
            if isinstance(entry, SkippedFile):
                own.files_ignored += 1
            elif isinstance(entry, FileProblem):
                own.problem(f"{entry.source}: {entry.reason}")
            elif self.stopped:
                break
            elif not self._put(Replay(entry, offset_ns)):
                self._not_read.append(entry.name)
                break
        self._put(None)

    def _put(self, task: Task | None) -> bool:
        """Queue ``task``; False once no worker is left to take it."""
        while True:
            try:
                self._hub.tasks.put(task, timeout=POLL)
                return True
            except queue.Full:
                if not self._hub.alive():
                    return False

    def _wait(self) -> None:
        """Until every worker has sent its report or died."""
        for thread in self._threads:
            while thread.is_alive():
                thread.join(POLL)  # wakes up for signal handlers (they run in this thread)
                if self.stopped:
                    self._hub.turns.release()

    # -- stopping ---------------------------------------------------------------------------
    def interrupt(self) -> None:
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def _kill(self) -> None:
        for process in self._started.processes:
            if process.is_alive():
                process.kill()

    def close(self) -> None:
        with contextlib.suppress(queue.Full):
            self._hub.tasks.put_nowait(None)
        for hold in self._started.lifelines:  # a worker still running exits (it is orphaned)
            hold.close()
        for process in self._started.processes:
            process.join(10)
            if process.is_alive():
                process.kill()
                process.join()
        self._spool.close()
