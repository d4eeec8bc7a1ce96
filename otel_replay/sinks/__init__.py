"""Sinks: destinations that take records in batches and report each batch's outcome.

A sink never raises for a backend problem: it counts the records as sent, rejected
(the backend said no) or failed (it could not be reached in time) on the run's
statistics (:class:`~otel_replay.stats.RunStats`).
"""

from __future__ import annotations

from typing import Protocol

from otel_replay.model import PlainLogs, Record, Signal


class Sink(Protocol):
    """A sink's life: ``write`` any number of times, ``flush`` whenever everything written
    so far must be delivered before going on, then ``close`` (or, when the run is stopped,
    ``interrupt`` as soon as the stop comes and ``abandon`` instead of ``close``)."""

    signal: Signal

    def write(self, record: Record) -> None: ...

    def flush(self) -> None:
        """Send what is buffered and wait until every request is answered."""

    def close(self) -> None:
        """Flush what is buffered and release connections."""

    def interrupt(self) -> None:
        """The run is being stopped (a first Ctrl-C): cut short any wait between retries.
        Called from a signal handler: it must not block."""

    def abandon(self, wait: bool = True) -> None:
        """The run was interrupted: drop what is buffered, release connections. The
        requests in flight finish first, unless ``wait`` is False (the user insisted on
        quitting). The pipeline counts whatever was read and not sent."""


class TakesPlainLogs(Protocol):
    """A sink that takes blocks of plain log records whole (the Loki sink)."""

    def write_plain(self, block: PlainLogs, times: list[int | None]) -> None:
        """Send the block's records at these times (None: not sent)."""
