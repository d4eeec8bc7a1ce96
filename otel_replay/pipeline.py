"""Wire sources → transforms → sinks, and count everything on the way.

Files are read one at a time, each streamed record by record; a record goes through
every transform in order and then to its signal's sink. Nothing here raises for bad
input or an unwilling backend: each outcome is a count (with a reason) on the Report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

from otel_replay.model import (
    FileProblem,
    FileStart,
    InvalidRecord,
    LogRecord,
    MetricsExport,
    Signal,
    SpanRecord,
)
from otel_replay.report import Report
from otel_replay.sinks import Sink
from otel_replay.sources import read_input
from otel_replay.sources.discover import InputFile, SkippedFile, discover
from otel_replay.transforms import Transform

_SIGNAL_OF = {SpanRecord: Signal.TRACES, LogRecord: Signal.LOGS, MetricsExport: Signal.METRICS}


@dataclass
class Pipeline:
    sinks: dict[Signal, Sink]
    transforms: Sequence[Transform]
    report: Report
    on_progress: Callable[[Report], None] | None = None
    _closed: bool = field(default=False, init=False)

    def run(self, paths: Iterable[str], stdin: BinaryIO | None = None) -> Report:
        try:
            for found in discover(list(paths), stdin):
                if isinstance(found, SkippedFile):
                    self.report.files_ignored += 1
                elif isinstance(found, FileProblem):
                    self._problem(found)
                else:
                    self._read(found)
        except KeyboardInterrupt:
            self.report.interrupted = True
            raise
        finally:
            self.close()
        return self.report

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for sink in self.sinks.values():
            sink.close()

    def _problem(self, problem: FileProblem) -> None:
        self.report.problem(f"{problem.source}: {problem.reason}")

    def _read(self, found: InputFile) -> None:
        report = self.report
        report.files_read += 1
        items = read_input(found)
        for item in items:
            signal = _SIGNAL_OF.get(type(item))
            if signal is not None:
                stats = report.stats[signal]
                stats.read += 1
                if signal is Signal.METRICS:
                    stats.not_replayed += 1
                    continue
                record = item
                for transform in self.transforms:
                    record = transform.apply(record)  # type: ignore[assignment]
                    if record is None:
                        if transform.drop_label == "duplicates":
                            stats.duplicates += 1
                        else:
                            stats.dropped[transform.drop_label] += 1
                        break
                else:
                    self.sinks[signal].write(record)  # type: ignore[arg-type]
            elif isinstance(item, FileStart):
                stats = report.stats[item.signal]
                if item.signal is not Signal.METRICS and item.signal not in self.sinks:
                    stats.not_selected_files += 1
                    items.close()  # type: ignore[attr-defined]
                    break
                stats.files += 1
            elif isinstance(item, InvalidRecord):
                report.invalid(item.signal, str(item.origin), item.reason)
            elif isinstance(item, FileProblem):
                self._problem(item)
        if self.on_progress is not None:
            self.on_progress(report)
