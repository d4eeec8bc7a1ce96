"""``--concurrency N``: up to N requests in flight per sink.

Each request runs on a *lane*: an exporter or HTTP session that serves one request at a
time, so whatever it remembers about its last answer (status, body, error) belongs to
that request alone. With one lane, requests run in the caller's thread, one after the
other, exactly as without this module.

A request may name *keys* (Loki streams): it starts only after every earlier request
that shares one of them has finished, so each stream still receives its entries in
order, while requests for other streams overtake.
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

L = TypeVar("L")

NO_KEYS: frozenset[object] = frozenset()


class InFlight(Generic[L]):
    def __init__(self, lanes: Iterable[L]) -> None:
        self.lanes = list(lanes)
        if not self.lanes:
            raise ValueError("at least one lane")
        self._idle: queue.SimpleQueue[L] = queue.SimpleQueue()
        for lane in self.lanes:
            self._idle.put(lane)
        n = len(self.lanes)
        self._pool = ThreadPoolExecutor(n, thread_name_prefix="otel-replay-send") if n > 1 else None
        self._running: list[tuple[Future[None], frozenset[object]]] = []

    def submit(self, request: Callable[[L], None], keys: frozenset[object] = NO_KEYS) -> None:
        """Run ``request(lane)`` once a lane is free and the earlier requests sharing a
        key are done; returns once it has started (with one lane: once it is done).
        An exception raised by a request is raised here or by :meth:`wait`."""
        if self._pool is None:
            request(self.lanes[0])
            return
        before = [(f, held) for f, held in self._running if f.done() or held & keys]
        self._running = [(f, held) for f, held in self._running if not (f.done() or held & keys)]
        _finish(before)
        lane = self._idle.get()
        self._running.append((self._pool.submit(self._run, request, lane), keys))

    def _run(self, request: Callable[[L], None], lane: L) -> None:
        try:
            request(lane)
        finally:
            self._idle.put(lane)

    @property
    def in_flight(self) -> int:
        return sum(not future.done() for future, _ in self._running)

    def wait(self) -> None:
        """Until every request submitted so far is done."""
        running, self._running = self._running, []
        _finish(running)

    def close(self) -> None:
        try:
            self.wait()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)


def _finish(requests: list[tuple[Future[None], frozenset[object]]]) -> None:
    """Wait for every one of ``requests``, then raise the first exception one raised."""
    errors = [exc for future, _ in requests if (exc := future.exception()) is not None]
    if errors:
        raise errors[0]
