"""A worker process: asks the parent for work items, one at a time, and reads each
through its own stages and sinks — its own official OTLP exporters, its own Loki
session — so that parsing, conversion, encoding and HTTP run in parallel. What must be
decided once for the whole run is asked of the parent over the pipe: dedup and
``--resume`` (a batch of record keys at a time), the journal of the batches sent and
how each was settled, and whose turn it is to push to Loki.

Messages to the parent are tuples: ``("next",)`` → a :data:`Task` or None (no more
work); ``("times", RecordTimes)`` (the first pass); ``("check", signal, keys,
as_recorded, snapshot)`` → verdicts; ``("sending", signal, keys)`` → the batch's number
in the journal; ``("answered", signal, batch, stored)``; ``("turn", index)`` → once every
input before ``index`` is done; ``("problem", problem)``, each as it is found (a worker
keeps none); ``("read", index, snapshot)``, each input of a task of several, read;
``("done", snapshot)``, the task (every input of it, read or, once stopped, not);
``("counts", snapshot)``, now and then while no check carries one (stages/alone.py);
``("retry", news)`` (a retry in progress, for the progress line: :class:`RetryNews`);
``("report", snapshot)``, the last. The bytes of input read go to
the parent through shared memory (:class:`SharedCount`), not the pipe. A snapshot
(:meth:`RunStats.snapshot`) rides along with a check now and then, so that the parent
knows what this worker has read should it die.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any, Protocol, cast

from otel_replay.assemble import build_sinks, new_stats, stages
from otel_replay.execute.inputs import WorkItem
from otel_replay.execute.procs import EXIT_ORPHANED, SharedFlag, begin_worker
from otel_replay.interrupts import start_daemon
from otel_replay.model import PlainLogs, Record, Signal
from otel_replay.pipeline import Pipeline, plan_times_in
from otel_replay.plan import RunPlan
from otel_replay.problems import Problem
from otel_replay.progress.meter import ByteCounter
from otel_replay.sinks import Sink
from otel_replay.sinks.delivery import RetryNews, watch_retries
from otel_replay.sources.discover import Discovered
from otel_replay.stages.alone import AloneCheck
from otel_replay.stages.dedup import record_keys
from otel_replay.stats import RunStats
from otel_replay.visible import say

if TYPE_CHECKING:
    from otel_replay.sinks.loki import LokiSink, Prepared

#: How often a check carries this worker's counts to the parent, at most (seconds).
SNAPSHOT_EVERY = 0.2
#: How often a worker looks at the parent's stop (seconds).
STOP_POLL = 0.05
#: Log records a worker holds while an earlier input is not done yet; then it waits.
HOLD_RECORDS = 4096


@dataclass(frozen=True, slots=True)
class FirstPass:
    """The first pass that decides the time offset: the times of ``item``'s records."""

    item: WorkItem
    #: A second look, for the identities the first deferred (timechoice.RecordTimes).
    identify: bool = False


@dataclass(frozen=True, slots=True)
class Replay:
    """Consecutive inputs to replay in turn (inputs.grouped); their log entries are pushed
    once every input before the first is done, and they are done together."""

    items: tuple[WorkItem, ...]
    offset_ns: int
    #: Those of them alone in their time, each with its records to check (stages/alone.py).
    alone: dict[int, frozenset[int]] = field(default_factory=dict)


Task = FirstPass | Replay


class SharedInt(Protocol):
    """A number in shared memory (``multiprocessing.RawValue``)."""

    value: int


class SharedCounts(Protocol):
    """One number per worker in shared memory (``multiprocessing.RawArray``): each worker
    writes only its own, so none needs a lock (a worker killed holding one would leave the
    others waiting forever); the parent reads their sum."""

    def __getitem__(self, index: int) -> int: ...

    def __setitem__(self, index: int, value: int) -> None: ...

    def __iter__(self) -> Iterator[int]: ...


class Client:
    """The worker's side of its pipe (sink threads ask too: one question at a time)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        self.stats: RunStats | None = None
        self._shown = 0.0

    def ask(self, *message: object) -> object:
        with self._lock:
            self._conn.send(message)
            return self._conn.recv()

    def tell(self, *message: object) -> None:
        with self._lock:
            self._conn.send(message)

    def retry(self, news: RetryNews) -> None:
        """A retry in progress (from a sink's thread), to the parent; nothing once the pipe
        is closed (the run quit at once)."""
        with contextlib.suppress(OSError, ValueError):
            self.tell("retry", news)

    def next(self) -> Task | None:
        return cast("Task | None", self.ask("next"))

    def check(self, signal: Signal, records: list[Record], as_recorded: bool) -> list[str | None]:
        keys = record_keys(records)
        return cast("list[str | None]", self.ask("check", signal, keys, as_recorded, self._progress()))

    def counts(self) -> None:
        """This worker's counts, now and then, when records are not asked of the parent."""
        snapshot = self._progress()
        if snapshot is not None:
            self.tell("counts", snapshot)

    def problem(self, problem: Problem) -> None:
        self.tell("problem", problem)

    def sending(self, signal: Signal, keys: Sequence[int | bytes]) -> int:
        """--resume's journal (the parent's): a batch about to be sent; its number."""
        return cast(int, self.ask("sending", signal, list(keys)))

    def answered(self, signal: Signal, batch: int, stored: bool) -> None:
        self.ask("answered", signal, batch, stored)

    def wait_turn(self, index: int) -> None:
        self.ask("turn", index)

    def _progress(self) -> dict[str, Any] | None:
        now = time.monotonic()
        if self.stats is None or now - self._shown < SNAPSHOT_EVERY:
            return None
        self._shown = now
        return self.stats.snapshot()


class InTurn:
    """A worker's Loki sink: the entries of input ``i`` are pushed only once every input
    before ``i`` is done, so that each stream still gets its entries oldest first, as from
    one process. Until then this worker goes on reading and holds the records (up to
    :data:`HOLD_RECORDS`, then it waits for its turn). What it holds are the entries ready
    to batch (:meth:`LokiSink.entry`): only batching and pushing wait for the turn, so the
    two workers build entries at the same time."""

    def __init__(self, sink: LokiSink, turn: SharedInt, wait_turn: Callable[[int], None]) -> None:
        self.signal = sink.signal
        self._sink = sink
        self._turn = turn  # every input before this one is done (the parent keeps it)
        self._wait_turn = wait_turn
        self._index = 0
        self._ours = True
        self._held: list[Prepared] = []

    def start(self, index: int) -> None:
        """Records from now on belong to input ``index``."""
        self._index = index
        self._ours = False  # its turn is taken at its first record (or its end)

    def write(self, record: Record) -> None:
        if self._now_ours():
            self._sink.write(record)
            return
        prepared = self._sink.entry(record)
        if prepared is not None:
            self._held.append(prepared)
        if len(self._held) >= HOLD_RECORDS:
            self._take_turn()

    def write_plain(self, block: PlainLogs, times: list[int | None]) -> None:
        if self._now_ours():
            self._sink.write_plain(block, times)
            return
        self._held += self._sink.plain_entries(block, times)
        if len(self._held) >= HOLD_RECORDS:
            self._take_turn()

    def _now_ours(self) -> bool:
        """Whether this input's turn to push has come (what was held is then batched)."""
        if not self._ours and self._turn.value >= self._index:  # every input before is done
            self._ours = True
            self._forward_held()
        return self._ours

    def _take_turn(self) -> None:
        if not self._ours:
            if self._turn.value < self._index:
                self._wait_turn(self._index)
            self._ours = True
        self._forward_held()

    def _forward_held(self) -> None:
        held, self._held = self._held, []
        for prepared in held:
            self._sink.add(prepared)

    def flush(self) -> None:
        """The input is read: its entries are pushed (and answered) before it is done. An
        input without log records waits for nobody."""
        if self._held or self._ours:
            self._take_turn()
            self._sink.flush()

    def close(self) -> None:
        self._take_turn()
        self._sink.close()

    def interrupt(self) -> None:
        self._sink.interrupt()

    def abandon(self, wait: bool = True) -> None:
        self._held.clear()
        self._sink.abandon(wait)


def work(
    plan: RunPlan,
    stop: SharedFlag,
    turn: SharedInt,
    verbose: bool,
    read_bytes: SharedCounts,
    number: int,
    conn: Connection,
    lifeline: Connection,
    inherited: list[Connection],
) -> None:
    """A worker process's life (``number``: its own slot of ``read_bytes``)."""
    begin_worker(lifeline, inherited)
    try:
        _Worker(plan, stop, turn, Client(conn), verbose, (read_bytes, number)).run()
    except (EOFError, OSError):  # the pipe to the parent broke: the parent is gone
        os._exit(EXIT_ORPHANED)
    finally:
        conn.close()


class _Worker:
    def __init__(
        self,
        plan: RunPlan,
        shared_stop: SharedFlag,
        turn: SharedInt,
        client: Client,
        verbose: bool,
        read: tuple[SharedCounts, int],
    ) -> None:
        self._plan = plan
        self._read = read
        self._shared_stop = shared_stop
        self._stop = threading.Event()  # this process's view of the run's stop
        self._turn = turn
        self._client = client
        self._verbose = verbose
        self._sinks: dict[Signal, Sink] = {}
        self._in_turn: InTurn | None = None
        self._check = AloneCheck(client.check, client.counts)

    def run(self) -> None:
        task = self._client.next()
        while isinstance(task, FirstPass):
            blank = self._plan.blank_times(task.identify)
            self._client.tell("times", plan_times_in(self._plan, self._input(task.item), blank, task.item.index))
            task = self._client.next()
        stats = new_stats(self._plan, _said(self._plan.redact) if self._verbose else None)
        stats.forward = self._client.problem
        try:
            if task is not None:
                self._replay(task, stats)
        finally:
            self._client.tell("report", stats.snapshot())

    def _input(self, item: WorkItem) -> Discovered:
        return item.input(self._plan.limits.ratio_cap)

    def _replay(self, first: Replay, stats: RunStats) -> None:
        plan, client = self._plan, self._client
        client.stats = stats
        self._sinks = build_sinks(plan, stats, self._stop, client if plan.resume_path else None)
        if plan.ordered_logs:
            self._in_turn = InTurn(cast("LokiSink", self._sinks[Signal.LOGS]), self._turn, client.wait_turn)
            self._sinks[Signal.LOGS] = self._in_turn
        start_daemon(self._watch_stop)
        pipeline = Pipeline(
            sinks=self._sinks,
            stages=stages(plan, first.offset_ns, self._check),
            stats=stats,
            stop=self._stop,
            counter=ByteCounter(self._count),
        )
        watch_retries(client.retry)
        pipeline.run(self._inputs(first, stats))

    def _count(self, n: int) -> None:
        counts, mine = self._read
        counts[mine] += n

    def _inputs(self, task: Replay | FirstPass | None, stats: RunStats) -> Iterator[Discovered]:
        """The work items the parent hands out, as the pipeline asks for them: asking for
        the next one means this one is read; its log entries are pushed, then it is done."""
        while isinstance(task, Replay):
            if self._in_turn is not None:
                self._in_turn.start(task.items[0].index)
            for item in task.items:
                self._check.start(task.alone.get(item.index))
                yield self._input(item)
                if self._stop.is_set():
                    break
                if len(task.items) > 1:  # the counts of what is read so far, and the progress line
                    self._client.tell("read", item.index, stats.snapshot())
            if self._in_turn is not None and not self._stop.is_set():
                self._in_turn.flush()
            self._client.tell("done", stats.snapshot())
            if self._stop.is_set():
                return
            task = self._client.next()

    def _watch_stop(self) -> None:
        """The parent's stop (a first Ctrl-C) reaches this process's pipeline and sinks."""
        self._shared_stop.wait(STOP_POLL)
        self._stop.set()
        for sink in list(self._sinks.values()):
            sink.interrupt()


def _said(redact: Callable[[str], str]) -> Callable[[str], None]:
    """A --verbose line of this worker, redacted, on stderr."""
    return lambda line: say(redact(line))
