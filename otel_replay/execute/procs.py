"""Worker processes: how they start, and how they die with the parent.

The command line runs a single thread: its workers are forked from it, so they start at
once with everything imported and share its memory pages. A process with other threads
running (a program that embeds the replay, the tests, gRPC's core once a channel was
opened) must not fork — a child could inherit a lock one of them held — so its workers
come from a fork server, started with the modules they need already imported.

Every worker holds the read end of a *lifeline* pipe whose write end only the parent
holds: when the parent is gone (killed), the pipe closes and the worker exits at once —
nothing may be sent that the parent can no longer journal or count.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing import forkserver
from multiprocessing.connection import Connection
from multiprocessing.context import ForkContext, ForkServerContext, SpawnContext
from multiprocessing.process import BaseProcess
from typing import Any

from otel_replay.interrupts import STOP_SIGNALS, signals_held, start_daemon
from otel_replay.malloc import keep_freed_memory

#: A worker's exit status when its parent went away.
EXIT_ORPHANED = 3

Context = ForkContext | ForkServerContext | SpawnContext


def context(modules: list[str]) -> Context:
    """How this run's workers start; call it before the run starts any thread of its own.
    With a fork server, it is started now with ``modules`` imported, so that its start-up
    overlaps the parent's discovery."""
    if sys.platform.startswith("linux") and threading.active_count() == 1 and not grpc_loaded():
        return multiprocessing.get_context("fork")
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(modules)
    forkserver.ensure_running()
    return ctx


def grpc_loaded() -> bool:
    """Whether gRPC is loaded in this process (the start-up check of a gRPC destination
    opened a channel): its core runs threads Python does not count, and a child forked
    after them can hang in its first channel (gRPC's doc/fork_support.md), so workers
    then come from a fork server, where gRPC never ran."""
    return "grpc" in sys.modules


@dataclass
class Started:
    """The parent's side of the workers it started."""

    conns: list[Connection]  # one duplex pipe each
    processes: list[BaseProcess]
    #: The lifelines' write ends: held open as long as the workers may live.
    lifelines: list[Connection]


def start(ctx: Context, workers: int, target: Callable[..., None], args: tuple[Any, ...]) -> Started:
    """Start ``workers`` processes running ``target(*args, number, conn, lifeline, inherited)``
    (``number``: 0 … workers - 1; ``inherited``: the parent's pipe ends a forked child holds
    copies of and closes)."""
    for stream in (sys.stdout, sys.stderr):  # a forked child would write out a copy of what is buffered
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    started = Started([], [], [])
    with signals_held():  # a forked child runs our handlers until begin_worker ignores the signals
        _start_each(ctx, workers, target, args, started)
    return started


def _start_each(
    ctx: Context, workers: int, target: Callable[..., None], args: tuple[Any, ...], started: Started
) -> None:
    for number in range(workers):
        parent_end, child_end = ctx.Pipe()
        watch, hold = ctx.Pipe(duplex=False)  # the child reads, only the parent holds the write end
        # A forked child holds copies of the parent's ends too (its own lifeline's among them,
        # which would keep that from ever closing): it closes them first.
        held = [*started.conns, *started.lifelines, parent_end, hold] if isinstance(ctx, ForkContext) else []
        process = ctx.Process(target=target, args=(*args, number, child_end, watch, held), daemon=True)
        process.start()
        child_end.close()
        watch.close()
        started.conns.append(parent_end)
        started.lifelines.append(hold)
        started.processes.append(process)


class SharedFlag:
    """A flag in shared memory that the parent sets and every process reads, without a
    lock. A ``multiprocessing.Event`` guards its flag with a semaphore, which a process
    that dies holding it (SIGKILL, the OOM killer, a daemon thread cut off at exit) never
    releases: every other process asking the event would then wait forever."""

    def __init__(self, ctx: Context) -> None:
        self._value = ctx.RawValue("b", 0)

    def set(self) -> None:
        self._value.value = 1

    def is_set(self) -> bool:
        return bool(self._value.value)

    def wait(self, poll: float) -> None:
        """Until the flag is set, looking every ``poll`` seconds."""
        while not self.is_set():
            time.sleep(poll)


def begin_worker(lifeline: Connection, inherited: list[Connection]) -> None:
    """A worker's first steps: the parent decides when to stop (Ctrl-C reaches the whole
    process group), the parent's pipe ends go, and the lifeline is watched; malloc keeps
    what it frees (forked, it already does; from a fork server, not yet)."""
    keep_freed_memory()
    for stop in STOP_SIGNALS:
        signal.signal(stop, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # held while it was forked (start)
    for conn in inherited:
        conn.close()
    start_daemon(_die_with_parent, lifeline)


def _die_with_parent(lifeline: Connection) -> None:
    with contextlib.suppress(EOFError, OSError):
        lifeline.recv()
    os._exit(EXIT_ORPHANED)


def exit_reason(process: BaseProcess) -> str:
    """How a worker process ended, for a person: ``killed by SIGKILL``, ``exit code 1``."""
    code = process.exitcode
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"
