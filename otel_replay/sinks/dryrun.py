"""A sink that sends nothing: ``--dry-run`` reads and validates everything and counts;
``inspect`` and ``view`` also keep what it is given (``into``)."""

from __future__ import annotations

from otel_replay.model import Record, Signal
from otel_replay.stats import RunStats


class DryRunSink:
    def __init__(self, signal: Signal, stats: RunStats, into: list[Record] | None = None) -> None:
        self.signal = signal
        self._stats = stats
        self._into = into

    def write(self, record: Record) -> None:
        if self._into is not None:
            self._into.append(record)
        self._stats.sent(self.signal, 1)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def interrupt(self) -> None:
        pass

    def abandon(self, wait: bool = True) -> None:
        pass
