"""How Ctrl-C (SIGINT) and SIGTERM reach a run: at the main thread, between two of its
steps, never inside one the standard library does not expect to be cut short.

Python runs a signal's handler in the main thread, but the kernel hands a signal sent to
the process to any thread that does not hold it back; the main thread, if it waits for a
lock meanwhile, then goes on waiting, and the handler runs only once it wakes. So every
thread of ours holds the stop signals back from its start (:func:`start_daemon`): they
reach the main thread only. And while the main thread takes a step made of several
lock operations (a Condition's wait, a queue's put, starting a thread or a process: a
handler raising KeyboardInterrupt inside one would leave a lock taken or a finalizer
half made), it holds them back too (:func:`signals_held`), for a bounded time: what came
meanwhile is handled as the step ends. A forked child inherits what its parent held
(execute/procs.py lets go once the worker ignores them).

A signal that comes just as the main thread begins to wait (after the handlers' last run,
before the wait) does not wake it: the handler runs when the wait ends. So the main
thread never waits without end for another thread: it waits in steps of at most
:data:`WAKE` seconds (a handler runs between two).

Once a run has ended, what it says is settled: the command line's process ignores a
Ctrl-C from then until it exits (:class:`RunPhase`), but while it reads back
(``--verify``), so that one in its last moments cannot turn its exit status into click's
"Aborted!" (1), a traceback from an exit hook or a death by the signal.
"""

from __future__ import annotations

import contextlib
import queue
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent import futures
from typing import Any, TypeVar, cast

T = TypeVar("T")
R = TypeVar("R")

#: The signals that stop a run (runner.py handles them; a worker ignores them).
STOP_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM})
#: The longest the main thread waits for another thread before a signal's handler runs.
WAKE = 0.25


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM held back (not lost) in this thread: delivered when it ends."""
    held = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def start_daemon(target: Callable[..., None], *args: Any, name: str | None = None) -> threading.Thread:
    """A daemon thread running ``target(*args)``, started with the stop signals held back
    for good (it inherits this thread's mask as it starts)."""
    thread = threading.Thread(target=target, args=args, name=name, daemon=True)
    with signals_held():
        thread.start()
    return thread


class RunPhase:
    r"""Where a run is, as the SIGINT handlers see it: plain flags, not
    :class:`threading.Event`\ s, because a handler reads them. An Event takes a lock, and a
    handler that interrupts the main thread while it holds that lock would wait for it for
    ever. The runner (runner.py) keeps ``starting`` and ``ended``; the command line the rest."""

    def __init__(self) -> None:
        #: Nothing sent yet: a Ctrl-C ends the run at once.
        self.starting = True
        #: The replay and its cleanup are over (or never began): what the run says is settled.
        self.ended = False
        #: A read-back of what was sent (``--verify``) is under way: a Ctrl-C stops it.
        self.reading = False
        #: SIGINT is this phase's to decide for the whole process (:meth:`own_sigint`).
        self._owned = False

    def own_sigint(self) -> None:
        """For the command line's own process (cli.run), for its life: SIGINT raises
        KeyboardInterrupt, as Python's own handler does, until the run has ended; from then
        on it is ignored, but while reading back. The runner's handlers take over during
        the run and hand back to this one (runner.py ends the phase before it does). A
        process started with SIGINT ignored keeps it so (:func:`ignored_from_the_start`)."""
        if ignored_from_the_start(signal.SIGINT):
            return
        self._owned = True
        signal.signal(signal.SIGINT, self._handler)

    def _handler(self, signum: int, frame: object) -> None:
        if self.ended and not self.reading:
            return
        raise KeyboardInterrupt

    def settle(self) -> None:
        """The run has ended (whatever its end): with the process's SIGINT, ignore it for
        good. Python puts a handler of its own back to the default as the interpreter
        exits, when a Ctrl-C would kill the process (status -2); an ignored one stays so."""
        self.ended, self.reading = True, False
        if self._owned:
            signal.signal(signal.SIGINT, signal.SIG_IGN)

    @contextlib.contextmanager
    def read_back(self) -> Iterator[None]:
        """A read-back, interruptible by a Ctrl-C (KeyboardInterrupt) even once the run has ended."""
        self.reading = True
        if self._owned:
            signal.signal(signal.SIGINT, self._handler)
        try:
            yield
        finally:
            self.settle()


def ignored_from_the_start(signum: int) -> bool:
    """Whether ``signum`` is ignored as whoever started the process set it (a job a
    non-interactive shell starts in the background has SIGINT ignored): it is then left so,
    no handler of ours installed, as Python itself leaves it. (Ours never ignore one
    outside a handler of their own: the phase's SIG_IGN comes only once its run has ended.)"""
    return signal.getsignal(signum) is signal.SIG_IGN


def all_done(pending: Iterable[futures.Future[Any]]) -> None:
    """Wait until every one of ``pending`` (run by other threads) is done, in steps of :data:`WAKE`."""
    left = list(pending)
    while left:
        left = list(futures.wait(left, timeout=WAKE).not_done)


def taken(waiting: queue.SimpleQueue[T]) -> T:
    """The next item put in ``waiting`` (by another thread), waited for in steps of :data:`WAKE`."""
    while True:
        with contextlib.suppress(queue.Empty):
            return waiting.get(timeout=WAKE)


def asked(question: Callable[[T], R], items: list[T], at_once: int) -> list[R]:
    """``question`` of each of ``items``, ``at_once`` at a time in daemon threads of ours,
    the answers in their order; the first exception one raises is raised here, and nothing
    more is asked.

    Not a ThreadPoolExecutor: the interpreter joins a pool's threads as it exits, so after a
    Ctrl-C a backend that stalls would hold the exit for its read timeout. Here the threads
    hold the stop signals back, the main thread waits for answers in steps (:func:`taken`),
    and a question left running is left behind."""
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

    for _ in range(min(at_once, len(items))):
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
