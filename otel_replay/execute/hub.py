"""The parent's side of every worker's pipe (one thread per worker, :meth:`Hub.serve`):
it hands out the queued tasks, answers dedup and ``--resume`` for all workers, journals
the batches they send and how each was settled, keeps Loki's turns (:class:`Turns`), collects their counts, and
counts a worker that dies (see workers.py).
"""

from __future__ import annotations

import contextlib
import queue
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from otel_replay.execute.base import Job
from otel_replay.execute.inputs import Spool, WorkItem
from otel_replay.execute.procs import Started, exit_reason
from otel_replay.execute.worker import FirstPass, Replay, SharedInt, Task
from otel_replay.interrupts import signals_held
from otel_replay.stats import RunStats, SignalStats
from otel_replay.timechoice import RecordTimes

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

    def reached(self, index: int, timeout: float) -> bool:
        """Whether every input before ``index`` is done, waiting up to ``timeout`` seconds."""
        with signals_held(), self._cond:  # a Ctrl-C comes between two waits, not inside one (interrupts.py)
            return self._cond.wait_for(lambda: self._shared.value >= index, timeout)

    def release(self) -> None:
        """Nobody waits for a turn any more (the run stops)."""
        with signals_held(), self._cond:
            self._shared.value = 1 << 62
            self._cond.notify_all()


@dataclass
class _Peer:
    """The parent's view of one worker."""

    number: int
    conn: Connection
    process: BaseProcess
    task: Task | None = None  # the work items it was handed
    current: WorkItem | None = None  # the one of them it is reading
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
        self.times: list[RecordTimes] = []  # the first pass, per work item
        self.lost: list[WorkItem] = []  # first-pass items whose worker died
        self.first_pending = 0
        #: What the parent counts itself (found by discovery, deaths before the replay).
        self.own = RunStats()
        self.job: Job | None = None

    @property
    def stats(self) -> RunStats:
        return self.own if self.job is None else self.job.stats

    def begin_replay(self, job: Job) -> None:
        with self._lock:
            self.job = job

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
        elif kind == "sending":  # --resume: a batch about to be sent, journalled first
            assert self.job is not None and self.job.journal is not None
            peer.conn.send(self.job.journal.sending(message[1], message[2]))
        elif kind == "answered":
            assert self.job is not None and self.job.journal is not None
            self.job.journal.answered(message[1], message[2], message[3])
            peer.conn.send(True)
        elif kind == "turn":
            self.turns.wait(message[1])
            peer.conn.send(True)
        elif kind == "times":
            with self._first:
                self.times.append(message[1])
                self._first_done(peer)
        elif kind == "counts":  # what a check carries otherwise (stages/alone.py)
            with self._lock:
                peer.latest = message[1]
        elif kind == "read":  # an input of a task of several: the next one is being read
            with self._lock:
                peer.latest = message[2]
                if isinstance(peer.task, Replay):
                    peer.current = next((i for i in peer.task.items if i.index > message[1]), peer.current)
        elif kind == "done":
            self._done(peer, message[1])
        elif kind == "problem":  # a worker's, as it came: counted (and written) here
            self.stats.add_problem(message[1])
        elif kind == "retry":
            if self.job is not None and self.job.on_progress is not None:
                self.job.on_progress.retry(message[1], peer.number)
        elif kind == "report":
            with self._lock:
                self.stats.merge(message[1])
                peer.finished = True
                peer.task = peer.current = None
            self._forget(peer)
            return False
        return True

    def _next(self, peer: _Peer) -> Task | None:
        task = self.tasks.get()
        if task is None:
            self.tasks.put(None)  # the end, for every worker
        with self._lock:
            peer.task, peer.current = task, task.items[0] if isinstance(task, Replay) else None
        return task

    def _first_done(self, peer: _Peer) -> None:
        peer.task = peer.current = None
        self.first_pending -= 1
        self._first.notify_all()

    def first_pass(self, item: WorkItem, identify: bool = False) -> FirstPass:
        with self._first:
            self.first_pending += 1
        return FirstPass(item, identify)

    def not_handed_out(self, item: WorkItem) -> None:
        with self._first:
            self.first_pending -= 1
            self.lost.append(item)

    def wait_first_pass(self) -> None:
        """Until every first-pass item has its answer (or is lost: its worker died)."""
        while not self._waited_first_pass():
            pass

    def _waited_first_pass(self) -> bool:
        """Wait once (up to :data:`POLL`) for the first pass's answers; whether all came. A
        Ctrl-C comes between two waits, not inside one (interrupts.signals_held)."""
        with signals_held(), self._first:
            if self.first_pending <= 0:
                return True
            self._first.wait(POLL)
            if not self.alive():
                for task in self.drain():
                    if isinstance(task, FirstPass):
                        self.first_pending -= 1
                        self.lost.append(task.item)
            return self.first_pending <= 0

    def drain(self) -> list[Task]:
        """The tasks no worker took."""
        left = []
        with contextlib.suppress(queue.Empty):
            while True:
                task = self.tasks.get_nowait()
                if task is not None:
                    left.append(task)
        return left

    def _done(self, peer: _Peer, snapshot: dict[str, Any]) -> None:
        """The worker's task is done, every input of it (see :meth:`_task_done`)."""
        with self._lock:
            peer.latest = snapshot
            task, peer.task, peer.current = peer.task, None, None
        if isinstance(task, Replay):
            self._task_done(task)
            if not self._reads_twice:
                for item in task.items:
                    self._spool.discard(item)

    def _task_done(self, task: Replay) -> None:
        """Every input of ``task`` is done (read, or never to be: a stopped or dead worker
        reads no further), so that a later input's turn to push to Loki comes."""
        for item in task.items:
            self.turns.done(item.index)

    def _forget(self, peer: _Peer) -> None:
        if self.job is not None and self.job.on_progress is not None:
            self.job.on_progress.forget(peer.number)

    def reading(self) -> list[str]:
        """The inputs the workers are reading now, earliest first (for the progress line)."""
        with self._lock:
            items = [p.current for p in self.peers if isinstance(p.task, Replay) and p.current is not None]
        return [item.name for item in sorted(items, key=lambda item: item.index)]

    def progress(self) -> RunStats:
        """Every worker's counts as of its last message that had them."""
        with self._lock:
            view = RunStats()
            for peer in self.peers:
                if peer.latest is not None:
                    view.merge(peer.latest)
        return view

    def _died(self, peer: _Peer) -> None:
        """Count a dead worker's share (see the module's docstring)."""
        peer.process.join(10)
        self._forget(peer)
        reason = f"worker process died ({exit_reason(peer.process)})"
        with self._first:
            if peer.finished or peer.died is not None:
                return  # counted already (a second Ctrl-C: see unreported)
            peer.died = reason
            task, current = peer.task, peer.current
            if isinstance(task, FirstPass):
                self.lost.append(task.item)
                self._first_done(peer)
                when = "counting the log records Loki will not show at once" if task.identify else "in the first pass"
                self.stats.file_problem(
                    task.item.name, f"{reason} {when}; read again by the parent", "worker process died"
                )
                return
            peer.task = peer.current = None
            stats = self.stats
            if isinstance(task, Replay):
                _not_read(stats, task, current or task.items[0], reason)
                self._task_done(task)
            latest = peer.latest if self.job is not None else None
            if latest is None:
                stats.problem(reason, "worker process died")
                return
            stats.merge(latest)
            for signal, theirs in latest["stats"].items():
                stats.not_sent(signal, _without_outcome(theirs), reason)
            stats.problem(
                f"{reason}; what it had read and not reported delivered is counted as not sent", "worker process died"
            )

    def unreported(self) -> None:
        """The run quit at once (a second Ctrl-C): count what the workers that sent no last
        report had done as of their last message."""
        with self._lock:
            for peer in self.peers:
                if not peer.finished and peer.died is None:
                    peer.died = "ended at once"
                    if peer.latest is not None:
                        self.stats.merge(peer.latest)
        self.stats.problem(
            "stopped at once: what the workers did with the inputs they were reading then is not counted"
        )


def _not_read(stats: RunStats, task: Replay, current: WorkItem, reason: str) -> None:
    """The inputs of a dead worker's task: the one it was reading not read to the end, the
    ones after it not read (the ones before it were)."""
    for item in task.items:
        if item.index == current.index:
            stats.file_problem(item.name, f"not read to the end: {reason}", "worker process died")
        elif item.index > current.index:
            stats.file_problem(item.name, f"not read: {reason}", "worker process died")


def _without_outcome(stats: SignalStats) -> int:
    """Records read and accepted that were neither sent, refused nor dropped."""
    dropped = sum(stats.dropped.values())
    return stats.read - stats.sent - stats.rejected - stats.failed - dropped - stats.unsent
