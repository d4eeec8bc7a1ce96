"""Progress on stderr. On a terminal, :class:`ProgressLine`: one line, redrawn four times a
second from its own thread (so it moves inside one large file and counts down a retry's
wait), fitted to the terminal's width at each redraw, erased before any message and at the
end. Elsewhere (a pipe, a file, ``--json``), :class:`RetryNotices`: no line at all, but a
retry in progress is said once per cause, so that a piped run is not silent for minutes."""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TextIO

from otel_replay.interrupts import start_daemon
from otel_replay.progress.meter import Meter
from otel_replay.progress.render import Retrying, View, render, shown
from otel_replay.progress.sizing import input_bytes
from otel_replay.sinks.delivery import RetryNews
from otel_replay.sources.discover import Walk

#: Seconds between two redraws.
REDRAW = 0.25
#: The rate is measured over this many recent seconds.
RATE_WINDOW = 5.0
CLEAR = "\r\x1b[K"


class ProgressLine:
    """The progress line of ``meter`` on ``stream`` (a terminal)."""

    def __init__(
        self,
        meter: Meter,
        stream: TextIO,
        redact: Callable[[str], str],
        paths: list[str] | None,
        walk: Walk | None = None,
    ) -> None:
        """``redact``: what the line shows of an input's name or a retry's reason.
        ``paths``: the inputs, sized up front for the bar; None: their size is not known
        (a --shard reads only its share of them)."""
        self._meter, self._stream, self._redact = meter, stream, redact
        self._paths, self._walk = paths, walk
        self._lock = threading.RLock()  # one writer at a time: redraws, messages (a signal handler too), the end
        self._shown = False
        self._closed = threading.Event()
        self._samples: deque[tuple[float, int]] = deque()
        self._thread: threading.Thread | None = None
        meter.on_begin(self.start)

    def start(self) -> None:
        """Size the inputs and draw from now on (threads of our own only now: after fork)."""
        start_daemon(self._size)
        self._thread = start_daemon(self._draw_until_closed)

    def _size(self) -> None:
        if self._paths is not None:
            self._meter.total = input_bytes(self._paths, self._walk)

    def _draw_until_closed(self) -> None:
        while not self._closed.wait(REDRAW):
            self.draw()

    def view(self, now: float) -> View:
        meter = self._meter
        done = meter.done
        samples = self._samples
        samples.append((now, done))
        while len(samples) > 1 and now - samples[0][0] > RATE_WINDOW:
            samples.popleft()
        span = now - samples[0][0]
        rate = (done - samples[0][1]) / span if span >= 1.0 else None
        counts = meter.stats().signals.values()
        retrying = tuple(
            Retrying(r.subject, self._redact(r.reason), max(r.next_at - now, 0.0)) for r in meter.retries()
        )
        reading = meter.reading()
        return View(
            done=done,
            total=None if meter.total is None else max(meter.total, done),
            rate=rate,
            read=sum(s.read for s in counts),
            sent=sum(s.sent for s in counts),
            retrying=retrying,
            current=self._redact(reading[0]) if reading else None,
        )

    def draw(self) -> None:
        line = render(self.view(time.monotonic()), _width(self._stream) - 1)
        with self._lock:
            if not self._closed.is_set():
                self._stream.write(CLEAR + line)
                self._stream.flush()
                self._shown = True

    def _erase(self) -> None:
        if self._shown:
            self._stream.write(CLEAR)
            self._stream.flush()
            self._shown = False

    def message(self, text: str) -> None:
        """A message on a line of its own, above the progress line."""
        with self._lock:
            self._erase()
            self._stream.write(text + "\n")
            self._stream.flush()

    def close(self) -> None:
        """Erase the line; nothing is drawn after this."""
        with self._lock:
            self._closed.set()
            self._erase()
        if self._thread is not None:
            self._thread.join(REDRAW * 4)


class RetryNotices:
    """Where no line is drawn: each retry cause said once (per signal), not per attempt."""

    def __init__(self, meter: Meter, say: Callable[[str], None]) -> None:
        self._say = say
        self._said: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        meter.listen(self.heard)

    def heard(self, news: RetryNews) -> None:
        if news.reason is None:
            return
        with self._lock:
            if (news.subject, news.reason) in self._said:
                return
            self._said.add((news.subject, news.reason))
        self._say(
            f"{shown(news.subject)}: {shown(news.reason)}; retrying (next attempt in {news.wait:.0f} s, "
            "until delivered or --max-retry-time)"
        )


def _width(stream: TextIO) -> int:
    try:
        return max(os.get_terminal_size(stream.fileno()).columns, 10)
    except (OSError, ValueError):
        return 80
