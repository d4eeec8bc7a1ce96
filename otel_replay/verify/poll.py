"""Asking a backend again until it serves everything or the time is up: Tempo and Loki
serve what they stored a little later (an ingester, a block), so a read-back polls."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from typing import TypeVar, cast

from otel_replay.interrupts import start_daemon, taken

T = TypeVar("T")
R = TypeVar("R")

#: Seconds between two rounds of questions to a backend.
POLL_INTERVAL_S = 1.0
#: Questions asked of a backend at once.
CONCURRENCY = 8


class Rounds:
    """One read-back's rounds of questions: the first asks about everything (however long
    a large run takes to ask), then what is still missing is asked again for up to
    ``deadline_s`` seconds. The wait is said once (``waiting_for(n)`` names the ``n``
    things still missing)."""

    def __init__(self, deadline_s: float, notify: Callable[[str], None], waiting_for: Callable[[int], str]) -> None:
        self._deadline_s = deadline_s
        self._deadline: float | None = None  # set when the first round ends
        self._notify = notify
        self._waiting_for = waiting_for
        self._told = False

    def again(self, missing: int) -> bool:
        """After a round that left ``missing`` things unserved: waits for the next round and
        says True, or says False when nothing is missing or the time is up."""
        if self._deadline is None:
            self._deadline = time.monotonic() + self._deadline_s
        left = self._deadline - time.monotonic()
        if not missing or left <= 0:
            return False
        if not self._told:
            self._notify(f"verify: waiting up to {self._deadline_s:g} s for {self._waiting_for(missing)}")
            self._told = True
        time.sleep(min(POLL_INTERVAL_S, left))  # polling the backend, not synchronisation
        return True


def asked(question: Callable[[T], R], items: list[T]) -> list[R]:
    """``question`` of each of ``items``, :data:`CONCURRENCY` at a time, the answers in
    their order; the first exception one raises is raised here, and nothing more is asked.

    The questions run in daemon threads of ours (interrupts.start_daemon: SIGINT reaches
    the main thread, which waits for answers in steps), not a ThreadPoolExecutor: the
    interpreter joins a pool's threads as it exits, so after a Ctrl-C a backend that
    stalls would hold the exit for its read timeout. A question left running is left behind."""
    todo: queue.SimpleQueue[tuple[int, T]] = queue.SimpleQueue()
    for numbered in enumerate(items):
        todo.put(numbered)
    done: queue.SimpleQueue[tuple[int, R | None, BaseException | None]] = queue.SimpleQueue()
    stopped = [False]  # a plain flag: the main thread sets it after a Ctrl-C too (no lock to take)

    def ask() -> None:
        while not stopped[0]:
            try:
                n, item = todo.get_nowait()
            except queue.Empty:
                return
            try:
                done.put((n, question(item), None))
            except BaseException as exc:  # handed to the main thread, which raises it
                stopped[0] = True
                done.put((n, None, exc))

    for _ in range(min(CONCURRENCY, len(items))):
        start_daemon(ask, name="otel-replay-ask")
    answers: list[R | None] = [None] * len(items)
    try:
        for _ in items:
            n, answer, error = taken(done)
            if error is not None:
                raise error
            answers[n] = answer
    finally:
        stopped[0] = True  # interrupted or failed: ask nothing more (answered: nothing is left)
    return cast("list[R]", answers)
