"""A sink that sends nothing: ``--dry-run`` reads and validates everything and counts."""

from __future__ import annotations

from otel_replay.model import Record, Signal
from otel_replay.report import Report


class DryRunSink:
    def __init__(self, signal: Signal, report: Report) -> None:
        self.signal = signal
        self._report = report

    def write(self, record: Record) -> None:
        self._report.sent(self.signal, 1)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def interrupt(self) -> None:
        pass

    def abandon(self, wait: bool = True) -> None:
        pass
