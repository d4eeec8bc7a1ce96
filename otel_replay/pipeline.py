"""Wire sources → transforms → sinks, and count everything on the way.

Files are read one at a time, each streamed record by record; a record goes through
every transform in order and then to its signal's sink. Nothing here raises for bad
input or an unwilling backend: each outcome is a count (with a reason) on the Report.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

from otel_replay.model import (
    Adjusted,
    FileProblem,
    FileStart,
    InvalidRecord,
    LogRecord,
    MetricPoint,
    Notice,
    Record,
    Signal,
    SourceItem,
    SpanRecord,
)
from otel_replay.report import Report
from otel_replay.sinks import Sink
from otel_replay.sources import read_input
from otel_replay.sources.discover import ArchiveLimits, SkippedFile, discover
from otel_replay.transforms import Transform
from otel_replay.transforms.timeshift import newest_ns

_SIGNAL_OF = {SpanRecord: Signal.TRACES, LogRecord: Signal.LOGS, MetricPoint: Signal.METRICS}


def apply_transforms(record: Record, transforms: Sequence[Transform]) -> tuple[Record | None, str]:
    """The record after every transform, or None and the drop label of the one that dropped it."""
    for transform in transforms:
        result = transform.apply(record)
        if result is None:
            return None, transform.drop_label
        record = result
    return record, ""


def _inputs(
    paths: Iterable[str], stdin: BinaryIO | None, limits: ArchiveLimits | None = None
) -> Iterator[Iterator[SourceItem] | SkippedFile | FileProblem]:
    """Per input: the generator of its source items, or why it is not read."""
    for found in discover(list(paths), stdin, limits):
        yield found if isinstance(found, (SkippedFile, FileProblem)) else read_input(found)


def newest_timestamp(
    paths: Iterable[str],
    stdin: BinaryIO | None,
    signals: Iterable[Signal],
    filters: Sequence[Transform],
    limits: ArchiveLimits | None = None,
) -> int | None:
    """A first pass for ``--shift-to-now``: the newest instant among the records that the
    run will replay (after the filters). Bad input is ignored here; the real pass reports it."""
    wanted = frozenset(signals)
    newest: int | None = None
    for items in _inputs(paths, stdin, limits):
        if isinstance(items, (SkippedFile, FileProblem)):
            continue
        for item in items:
            if _SIGNAL_OF.get(type(item)) not in wanted:
                continue
            record, _ = apply_transforms(item, filters)  # type: ignore[arg-type]
            t = None if record is None else newest_ns(record)
            if t is not None and (newest is None or t > newest):
                newest = t
    return newest


@dataclass
class Pipeline:
    sinks: dict[Signal, Sink]
    transforms: Sequence[Transform]
    report: Report
    on_progress: Callable[[Report], None] | None = None
    #: Set (by a signal handler) to stop reading; what was sent is kept, the rest is not sent.
    stop: threading.Event = field(default_factory=threading.Event)
    limits: ArchiveLimits = field(default_factory=ArchiveLimits)
    _closed: bool = field(default=False, init=False)

    def run(self, paths: Iterable[str], stdin: BinaryIO | None = None) -> Report:
        try:
            self._run(paths, stdin)
        except KeyboardInterrupt:
            self.report.interrupted = True
            self.stop.set()
            raise
        finally:
            self.close()
        if self.stop.is_set():
            self.report.interrupted = True
        return self.report

    def _run(self, paths: Iterable[str], stdin: BinaryIO | None) -> None:
        report = self.report
        for items in _inputs(paths, stdin, self.limits):
            if self.stop.is_set():
                return
            if isinstance(items, SkippedFile):
                report.files_ignored += 1
            elif isinstance(items, FileProblem):
                report.problem(f"{items.source}: {items.reason}")
            else:
                report.files_read += 1
                self._read(items)
                if self.on_progress is not None:
                    self.on_progress(report)

    def _read(self, items: Iterator[SourceItem]) -> None:
        report, stop = self.report, self.stop
        for item in items:
            if stop.is_set():
                break
            signal = _SIGNAL_OF.get(type(item))
            if signal is not None:
                stats = report.stats[signal]
                sink = self.sinks.get(signal)
                if sink is None:
                    continue  # a signal not selected (a JSON Lines file may mix signals)
                stats.read += 1
                record, dropped_by = apply_transforms(item, self.transforms)  # type: ignore[arg-type]
                if record is None:
                    report.dropped(signal, dropped_by)
                else:
                    sink.write(record)
            elif isinstance(item, FileStart):
                stats = report.stats[item.signal]
                if item.signal not in self.sinks:
                    stats.not_selected_files += 1
                    if item.fmt != "otlp-jsonl":
                        break  # the file holds nothing else: do not even parse it
                    continue
                stats.files += 1
            elif isinstance(item, InvalidRecord):
                if item.signal in self.sinks:
                    report.invalid(item.signal, str(item.origin), item.reason)
            elif isinstance(item, Adjusted):
                if item.signal in self.sinks:
                    report.adjusted(item.signal, str(item.origin), item.reason)
            elif isinstance(item, FileProblem):
                report.problem(f"{item.source}: {item.reason}")
            elif isinstance(item, Notice):
                report.hint(item.text)
        items.close()  # type: ignore[attr-defined]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for sink in self.sinks.values():
            if self.stop.is_set():
                sink.abandon()
            else:
                sink.close()
