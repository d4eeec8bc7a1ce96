"""What a run's progress is, beyond the record counts of :class:`RunStats`: the bytes of
input read (counted as the readers take them, a 64 KiB chunk at a time — nothing per
record), the input being read, and the retries in progress.

:class:`ByteCounter` counts in the process that reads (the run's, or a worker's, which
adds to a number in shared memory). :class:`Meter` is the run's view, in the process that
draws: the executor tells it at the start of the replay where the record counts, the
workers' bytes and the inputs being read are (:meth:`Meter.begin`); retries reach it
from :mod:`otel_replay.sinks.delivery`'s observation hook (from a worker, over its pipe).
"""

from __future__ import annotations

import dataclasses
import io
import threading
import time
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO

from otel_replay.sinks.delivery import RetryNews
from otel_replay.sources.discover import InputFile
from otel_replay.sources.streams import Stride
from otel_replay.stats import RunStats

_CHUNK = 1 << 16


class _Counted(io.RawIOBase):
    """``stream``'s bytes, each chunk counted as the reader takes it."""

    def __init__(self, stream: Any, add: Callable[[int], None], of: int = 1) -> None:
        self._stream, self._add = stream, add
        #: A stride of a document (one of ``of``) reads it whole: each byte counts 1/of.
        self._of, self._read = of, 0
        self.taken = 0

    @property
    def wrapped(self) -> Any:
        """The stream counted (a reader that maps its file reads it there: see ``reached``)."""
        return self._stream

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        n = self._stream.readinto(buf) or 0
        self.advanced(n)
        return n

    def reached(self, position: int) -> None:
        """The reader is at byte ``position`` of the stream, having read it by other means."""
        self.advanced(position - self._read)

    def advanced(self, n: int) -> None:
        """``n`` more bytes were read."""
        if n > 0:
            self._read += n
            taken = self._read // self._of
            self._add(taken - self.taken)
            self.taken = taken


class ByteCounter:
    """Counts the bytes the readers take from each input, through ``add``; an input read
    to its end (or left unread: a file of a signal not selected) counts its whole size."""

    def __init__(self, add: Callable[[int], None]) -> None:
        self._add = add
        self._counted: _Counted | None = None
        self._size: int | None = None
        #: The input being read (its name).
        self.current: str | None = None

    def counted(self, found: InputFile) -> InputFile:
        """``found``, whose stream counts what is read of it."""
        self.current, self._size, self._counted = found.name, found.size, None
        return dataclasses.replace(found, open=lambda: self._open(found))

    @contextmanager
    def _open(self, found: InputFile) -> Iterator[BinaryIO]:
        with found.open() as stream:
            self._counted = _Counted(stream, self._add, found.part.of if isinstance(found.part, Stride) else 1)
            yield io.BufferedReader(self._counted, _CHUNK)  # type: ignore[misc]

    def finished(self) -> None:
        """The input is done: it counts its whole size, however much of it was read."""
        taken = self._counted.taken if self._counted is not None else 0
        if self._size is not None and self._size != taken:
            self._add(self._size - taken)
        self._counted, self._size = None, None


@dataclasses.dataclass(frozen=True, slots=True)
class Retry:
    subject: str
    reason: str
    next_at: float  # time.monotonic() of the next attempt


def _no_stats() -> RunStats:
    return RunStats()


class Meter:
    """The run's progress as the process that draws sees it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done = 0
        self.counter = ByteCounter(self._add)
        #: Bytes of input in all (see sizing.py); None until known, or when it cannot be.
        self.total: int | None = None
        self._retries: dict[Hashable, Retry] = {}
        self._listeners: list[Callable[[RetryNews], None]] = []
        self._on_begin: list[Callable[[], None]] = []
        self._stats: Callable[[], RunStats] = _no_stats
        self._elsewhere: Callable[[], int] = lambda: 0
        self._reading: Callable[[], list[str]] = lambda: [self.counter.current] if self.counter.current else []

    def _add(self, n: int) -> None:  # the reading thread only (one pipeline per process)
        self._done += n

    # -- set up by the display and the executor -------------------------------------------
    def on_begin(self, callback: Callable[[], None]) -> None:
        """``callback()`` when the replay starts (after worker processes are forked: a
        display may start a thread then)."""
        self._on_begin.append(callback)

    def listen(self, listener: Callable[[RetryNews], None]) -> None:
        """``listener(news)`` for every retry that begins to wait (from any thread)."""
        self._listeners.append(listener)

    def begin(
        self,
        stats: Callable[[], RunStats],
        elsewhere: Callable[[], int] | None = None,
        reading: Callable[[], list[str]] | None = None,
    ) -> None:
        """The replay starts: ``stats()`` gives its record counts so far, ``elsewhere()``
        the bytes worker processes read, ``reading()`` the inputs being read."""
        self._stats = stats
        if elsewhere is not None:
            self._elsewhere = elsewhere
        if reading is not None:
            self._reading = reading
        for callback in self._on_begin:
            callback()

    # -- retries ------------------------------------------------------------------------
    def retry(self, news: RetryNews, origin: int = 0) -> None:
        """A retry begins to wait (``news.reason``) or is over; ``origin``: which worker."""
        key = (origin, news.key)
        with self._lock:
            if news.reason is None:
                self._retries.pop(key, None)
                return
            self._retries[key] = Retry(news.subject, news.reason, time.monotonic() + news.wait)
        for listener in self._listeners:
            listener(news)

    def forget(self, origin: int) -> None:
        """A worker is gone: its retries are over."""
        with self._lock:
            for key in [k for k in self._retries if k[0] == origin]:  # type: ignore[index]
                del self._retries[key]

    def retries(self) -> list[Retry]:
        with self._lock:
            return sorted(self._retries.values(), key=lambda r: r.next_at)

    # -- read by the display ----------------------------------------------------------------
    @property
    def done(self) -> int:
        return self._done + self._elsewhere()

    def stats(self) -> RunStats:
        return self._stats()

    def reading(self) -> list[str]:
        return self._reading()
