"""A sink that sends nothing: ``--dry-run`` reads and validates everything and counts."""

from __future__ import annotations

from otel_replay.model import Record, Signal
from otel_replay.stats import RunStats


class DryRunSink:
    def __init__(self, signal: Signal, stats: RunStats) -> None:
        self.signal = signal
        self._stats = stats

    def write(self, record: Record) -> None:
        self._stats.sent(self.signal, 1)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def interrupt(self) -> None:
        pass

    def abandon(self, wait: bool = True) -> None:
        pass
