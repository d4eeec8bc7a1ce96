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
from collections.abc import Iterable, Iterator

from otel_replay.execute.base import Job
from otel_replay.execute.hub import POLL, Hub, Turns
from otel_replay.execute.inputs import Entry, Spool, WorkItem, group_limit, grouped, is_copy
from otel_replay.execute.procs import SharedFlag, context, exit_reason, start
from otel_replay.execute.worker import Replay, SharedCounts, SharedInt, Task, work
from otel_replay.interrupts import signals_held, start_daemon
from otel_replay.model import FileProblem
from otel_replay.pipeline import plan_times_in
from otel_replay.plan import RunPlan
from otel_replay.sources.discover import SkippedFile
from otel_replay.timechoice import RecordTimes
from otel_replay.visible import say


class Workers:
    """The executor that hands the inputs out to ``count`` worker processes."""

    def __init__(
        self, plan: RunPlan, entries: Iterator[Entry], count: int, spool: Spool, reads_twice: bool, verbose: bool
    ) -> None:
        self._plan = plan
        self._entries: Iterator[Entry] = entries
        self._spool = spool
        self._not_read: list[str] = []
        self._total: int | None = None  # the inputs' bytes, once the first pass has seen them all
        self._recorded: list[Entry] = []  # the inputs, as the first pass found them
        self._interrupted = threading.Event()  # this process's view: set at once by interrupt()
        with signals_held():  # a Ctrl-C waits until the workers and their threads are made
            ctx = context(["otel_replay.execute.worker", *(["otel_replay.sinks.otlp"] if plan.sends_otlp else [])])
            self._stop = SharedFlag(ctx)
            turn: SharedInt = ctx.RawValue("q", 0)
            self._read_bytes: SharedCounts = ctx.RawArray("q", count)  # what each worker read, for the progress line
            # every worker starts before any thread of this process does (a forked child must not inherit one)
            self._started = start(ctx, count, work, (plan, self._stop, turn, verbose, self._read_bytes))
            self._hub = hub = Hub(self._started, Turns(turn), spool, reads_twice)
            if verbose:  # what this process finds (files ignored) is said as the workers say theirs
                hub.own.notes = lambda line: say(plan.redact(line))
            self._threads = [start_daemon(hub.serve, peer) for peer in hub.peers]

    # -- the run's steps ----------------------------------------------------------------
    def times(self) -> RecordTimes:
        self._first_pass(self._recording())
        self._entries = iter(self._recorded)
        self._total = sum(e.size or 0 for e in self._recorded if isinstance(e, WorkItem))
        return self._found(self._plan.blank_times())

    def identify(self, times: RecordTimes) -> None:
        self._first_pass([e for e in self._recorded if isinstance(e, WorkItem) and e.index in times.deferred], True)
        times.add_identified(self._found(self._plan.blank_times(identify=True)))

    def _recording(self) -> Iterator[Entry]:
        """The inputs as discovery finds them, each kept for the replay."""
        for entry in self._entries:
            self._recorded.append(entry)
            yield entry

    def _first_pass(self, entries: Iterable[Entry], identify: bool = False) -> None:
        """Hand out a first pass over ``entries`` (``identify``: a second look, see
        timechoice.RecordTimes) and wait for every answer."""
        hub = self._hub
        hub.times.clear()
        hub.lost.clear()
        try:
            for entry in entries:  # one input a task: a worker that dies loses just the one it reads
                if isinstance(entry, WorkItem) and not self._put(hub.first_pass(entry, identify)):
                    hub.not_handed_out(entry)
            hub.wait_first_pass()
        except KeyboardInterrupt:
            self._kill()  # they only read so far
            raise

    def _found(self, times: RecordTimes) -> RecordTimes:
        """``times`` with what the workers found in the first pass handed out, and what this
        process finds in the inputs whose worker died."""
        for found in self._hub.times:
            times.merge(found)
        for item in self._hub.lost:
            plan_times_in(self._plan, item.input(self._plan.limits.ratio_cap), times, item.index)
        return times

    def replay(self, job: Job) -> None:
        hub = self._hub
        hub.begin_replay(job)
        if job.on_progress is not None:
            job.on_progress.begin(hub.progress, lambda: sum(self._read_bytes), hub.reading)
        try:
            self._feed(job)
            self._wait()
            self._unread()
        except KeyboardInterrupt:  # a second Ctrl-C: quit at once
            hub.unreported()
            self._kill()
            raise
        finally:
            job.stats.merge(hub.own.snapshot())
            if self.stopped:
                job.stats.settle_unsent()

    def _feed(self, job: Job) -> None:
        """Hand out the replay's work items; count what discovery found that is not read.
        The ``latest*.json`` copies (discovered last) are handed out once every other
        input is done: whichever worker is faster, the dated session files' records are
        the ones checked first, so the copies' are the duplicates, as in one process."""
        own = self._hub.own
        first_copy: int | None = None
        for entry in grouped(self._entries, group_limit(self._total, len(self._hub.peers))):
            if isinstance(entry, SkippedFile):
                own.file_ignored(entry.name, entry.reason)
            elif isinstance(entry, FileProblem):
                self._hub.stats.file_problem(entry.source, entry.reason, entry.key, entry.signal)
            elif self.stopped:
                break
            else:
                if first_copy is None and is_copy(entry[0]):
                    first_copy = entry[0].index
                if first_copy is not None:
                    self._until_done_before(first_copy)
                alone = {item.index: job.alone[item.index] for item in entry if item.index in job.alone}
                if not self._put(Replay(entry, job.offset_ns, alone)):
                    self._not_read.extend(item.name for item in entry)
                    break
        self._put(None)

    def _until_done_before(self, index: int) -> None:
        """Wait until every input before ``index`` is done (or the run stops, or no worker
        is left to do them); wakes up for signal handlers."""
        turns = self._hub.turns
        while not turns.reached(index, POLL) and not self.stopped and self._hub.alive():
            pass

    def _unread(self) -> None:
        """Say what no worker read (every one died) and which worker ended badly after its
        last report (an error, on its stderr)."""
        hub = self._hub
        left = [item.name for task in hub.drain() if isinstance(task, Replay) for item in task.items]
        left += self._not_read
        if left and not self.stopped:  # stopped: the summary says the run was interrupted
            hub.stats.problem(
                f"every worker process died: {left[0]} and the inputs after it are not read",
                "every worker process died",
            )
        for peer in hub.peers:
            peer.process.join(POLL)
            if peer.finished and peer.process.exitcode:
                hub.stats.problem(
                    f"a worker process ended badly after its last report ({exit_reason(peer.process)})",
                    "a worker process ended badly after its last report",
                )

    def _put(self, task: Task | None) -> bool:
        """Queue ``task``; False once no worker is left to take it, or the run stops (a
        stopped worker takes no more)."""
        while True:
            try:
                with signals_held():  # a Ctrl-C comes between two tries, not inside one (interrupts.py)
                    self._hub.tasks.put(task, timeout=POLL)
                return True
            except queue.Full:
                if not self._hub.alive() or self.stopped:
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
        """Called from a signal handler: the stop is a flag in shared memory, set without
        a lock, so it is set here at once, for this process and the workers."""
        self._interrupted.set()
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._interrupted.is_set() or self._stop.is_set()

    def _kill(self) -> None:
        for process in self._started.processes:
            if process.is_alive():
                process.kill()

    def close(self) -> None:
        with signals_held(), contextlib.suppress(queue.Full):
            self._hub.tasks.put_nowait(None)
        for hold in self._started.lifelines:  # a worker still running exits (it is orphaned)
            hold.close()
        for process in self._started.processes:
            process.join(10)
            if process.is_alive():
                process.kill()
                process.join()
        self._spool.close()
