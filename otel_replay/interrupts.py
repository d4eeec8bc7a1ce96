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
"""

from __future__ import annotations

import contextlib
import queue
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

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


def taken(waiting: queue.SimpleQueue[T]) -> T:
    """The next item put in ``waiting`` (by another thread), waited for in steps of :data:`WAKE`."""
    while True:
        with contextlib.suppress(queue.Empty):
            return waiting.get(timeout=WAKE)
