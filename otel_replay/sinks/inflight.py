"""``--concurrency N``: up to N requests in flight per sink.

Each request runs on a *lane*: an exporter or HTTP session that serves one request at a
time, so whatever it remembers about its last answer (status, body, error) belongs to
that request alone. With one lane, requests run in the caller's thread, one after the
other, exactly as without this module.

A request may name *keys* (Loki streams): it starts only after every earlier request
that shares one of them has finished, so each stream still receives its entries in
order, while requests for other streams overtake.

Requests run in daemon threads: when the user insists on quitting (a second Ctrl-C),
:meth:`InFlight.abandon` leaves them behind and the process exits without waiting.
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from otel_replay.interrupts import all_done, start_daemon, taken
from otel_replay.model import Signal
from otel_replay.sinks.batching import Batcher
from otel_replay.sinks.delivery import Account, Outcome
from otel_replay.stats import RunStats, batch_span

L = TypeVar("L")

NO_KEYS: frozenset[object] = frozenset()


@dataclass(slots=True)
class _Running:
    future: Future[None]
    keys: frozenset[object]


class InFlight(Generic[L]):
    def __init__(self, lanes: Iterable[L]) -> None:
        self.lanes = list(lanes)
        if not self.lanes:
            raise ValueError("at least one lane")
        self._idle: queue.SimpleQueue[L] = queue.SimpleQueue()
        for lane in self.lanes:
            self._idle.put(lane)
        self._running: list[_Running] = []
        self.abandoned = False

    def submit(self, request: Callable[[L], None], keys: frozenset[object] = NO_KEYS) -> None:
        """Run ``request(lane)`` once a lane is free and the earlier requests sharing a
        key are done; returns once it has started (with one lane: once it is done).
        An exception raised by a request is raised here or by :meth:`wait`."""
        if len(self.lanes) == 1:
            request(self.lanes[0])
            return
        before = [r for r in self._running if r.future.done() or r.keys & keys]
        self._running = [r for r in self._running if not (r.future.done() or r.keys & keys)]
        _finish(before)
        lane = taken(self._idle)  # once one is free
        future: Future[None] = Future()
        self._running.append(_Running(future, keys))
        start_daemon(self._run, request, lane, future, name="otel-replay-send")

    def _run(self, request: Callable[[L], None], lane: L, future: Future[None]) -> None:
        try:
            request(lane)
        except BaseException as exc:  # handed to the caller by submit() or wait()
            self._idle.put(lane)
            future.set_exception(exc)
        else:
            self._idle.put(lane)
            future.set_result(None)

    def wait(self) -> None:
        """Until every request submitted so far is done (interrupted: the ones not done
        yet are still here for :meth:`abandon`)."""
        try:
            _finish(self._running)
        finally:
            self._running = [r for r in self._running if not r.future.done()]

    def abandon(self) -> None:
        """Stop waiting for the requests still in flight: they run on, unwatched, until
        the process exits, and must not report (``abandoned``)."""
        self.abandoned = True
        self._running = []


class InFlightSink:
    """``flush``, ``close`` and ``abandon`` of a sink that batches (``_batcher``), sends
    each batch through an :class:`InFlight` (``_inflight``) and then lets its lanes go
    (``_release``)."""

    signal: Signal
    _batcher: Batcher[Any]
    _inflight: InFlight[Any]
    _stats: RunStats
    _account: Account

    def _release(self) -> None:
        raise NotImplementedError

    def _settle(
        self, batch: list[Any], what: str, answered: str, outcome: Outcome, attempts: int, number: int | None
    ) -> None:
        """A request answered (``answered``: where, and what it said): one --verbose line, and
        the one account counts and journals it (``number``: the journal's, from
        ``Account.sending``) — unless the run quit without waiting for it (then it counts
        as not sent, and stays pending in the journal: the backend may have it)."""
        if self._inflight.abandoned:
            return
        n = len(batch)
        where = batch_span(batch[0].origin, batch[-1].origin)
        self._stats.note(f"{self.signal.value} {where}: {n} {what} → {answered} ({attempts} attempt(s))")
        self._account.settle(outcome, attempts, n, where, number)

    def flush(self) -> None:
        """Send what is batched and wait until every request is answered."""
        self._batcher.flush()
        self._inflight.wait()

    def interrupt(self) -> None:
        """Nothing to cut short by default (a sink whose retries watch the run's stop event)."""

    def close(self) -> None:
        try:
            self._batcher.flush()
        finally:
            try:
                self._inflight.wait()
            finally:
                self._release()

    def abandon(self, wait: bool = True) -> None:
        """Send nothing more. The requests in flight finish, unless ``wait`` is False (or
        the waiting is interrupted): then they are left behind. What is not sent is
        counted by the pipeline (``RunStats.settle_unsent``)."""
        self._batcher.discard()
        try:
            if wait:
                self._inflight.wait()
        finally:
            self._inflight.abandon()
            self._release()


def _finish(requests: list[_Running]) -> None:
    """Wait for every one of ``requests`` (in steps: interrupts.WAKE), then raise the first
    exception one raised."""
    all_done(r.future for r in requests)
    errors = [exc for r in requests if (exc := r.future.exception()) is not None]
    if errors:
        raise errors[0]
