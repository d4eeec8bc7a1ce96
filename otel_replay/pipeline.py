"""Wire sources → transforms → sinks, and count everything on the way.

Files are read one at a time, each streamed record by record; a record goes through the
filters, then the run's dedup and --resume check (a batch at a time, so a worker process
can ask the parent), then the transforms that change it, then to its signal's sink. Nothing here raises for bad
input or an unwilling backend: each outcome is a count (with a reason) on the Report.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

from otel_replay.model import (
    SIGNAL_OF,
    Adjusted,
    FileProblem,
    FileStart,
    InvalidRecord,
    Notice,
    Record,
    Signal,
    SourceItem,
)
from otel_replay.report import Report
from otel_replay.sinks import Sink
from otel_replay.sinks.loki import LokiSink
from otel_replay.sources import read_input
from otel_replay.sources.discover import ArchiveLimits, InputFile, SkippedFile, discover
from otel_replay.transforms import Transform
from otel_replay.transforms.timeshift import newest_ns


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
) -> Iterator[tuple[InputFile, Iterator[SourceItem]] | SkippedFile | FileProblem]:
    """Per input: the input and the generator of its source items, or why it is not read."""
    for found in discover(list(paths), stdin, limits):
        yield found if isinstance(found, (SkippedFile, FileProblem)) else (found, read_input(found))


def newest_timestamp(
    paths: Iterable[str],
    stdin: BinaryIO | None,
    signals: Iterable[Signal],
    filters: Sequence[Transform],
    limits: ArchiveLimits | None = None,
    claim: Callable[[int], bool] | None = None,
) -> int | None:
    """A first pass for ``--shift-to-now``: the newest instant among the records that the
    run will replay (after the filters). Bad input is ignored here; the real pass reports it.
    ``claim``: as :class:`Pipeline`'s (a worker process reads only its share)."""
    wanted = frozenset(signals)
    newest: int | None = None
    for index, found in enumerate(_inputs(paths, stdin, limits)):
        if claim is not None and not claim(index):  # asked of every input, in order
            continue
        if isinstance(found, (SkippedFile, FileProblem)):
            continue
        _, items = found
        for item in items:
            if SIGNAL_OF.get(type(item)) not in wanted:
                continue
            record, _ = apply_transforms(item, filters)  # type: ignore[arg-type]
            t = None if record is None else newest_ns(record)
            if t is not None and (newest is None or t > newest):
                newest = t
    return newest


#: Allocations between young-generation garbage collections while a pipeline runs
#: (Python's default is 700).
GC_YOUNG_THRESHOLD = 50_000


@contextlib.contextmanager
def few_collections() -> Iterator[None]:
    """Run with rarer garbage collections. Decoding a document allocates hundreds of
    thousands of containers, nearly all acyclic and short-lived; at the default
    threshold the collector walks them (and everything loaded at start-up) over and
    over, which measured 30-50 % of decode and convert time. Start-up objects are frozen
    out of collections; settings are restored afterwards."""
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, before[1], before[2])
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


#: Dedup and --resume on a batch of records (in this process, or asked of the parent by a
#: worker): for each record, the label it is dropped with, or None to send it.
Check = Callable[[Signal, list[Record]], list[str | None]]
CHECK_BATCH = 512


@dataclass
class Pipeline:
    sinks: dict[Signal, Sink]
    transforms: Sequence[Transform]
    report: Report
    on_progress: Callable[[Report], None] | None = None
    #: Set (by a signal handler) to stop reading; what was sent is kept, the rest is not sent.
    stop: threading.Event = field(default_factory=threading.Event)
    limits: ArchiveLimits = field(default_factory=ArchiveLimits)
    #: Records pass ``transforms`` (the filters), then ``check`` in batches, then ``after``
    #: (what changes them: resource rewrite, time shift), then go to their sink.
    check: Check | None = None
    after: Sequence[Transform] = ()
    #: In a worker process: ``claim(i)`` says whether this process reads discovered input
    #: ``i``; ``file_done(i)`` is called once input ``i`` is read and its logs are pushed.
    claim: Callable[[int], bool] | None = None
    file_done: Callable[[int], None] | None = None
    _closed: bool = field(default=False, init=False)
    _quit_now: bool = field(default=False, init=False)
    _pending: dict[Signal, list[Record]] = field(default_factory=dict, init=False)

    def run(self, paths: Iterable[str], stdin: BinaryIO | None = None) -> Report:
        try:
            with few_collections():
                self._run(paths, stdin)
        except KeyboardInterrupt:  # a second Ctrl-C: quit without waiting for the requests in flight
            self.report.interrupted = True
            self.stop.set()
            self._quit_now = True
            raise
        finally:
            self.close()
        if self.stop.is_set():
            self.report.interrupted = True
        return self.report

    def _run(self, paths: Iterable[str], stdin: BinaryIO | None) -> None:
        report = self.report
        for index, found in enumerate(_inputs(paths, stdin, self.limits)):
            if self.stop.is_set():
                return
            if self.claim is not None and not self.claim(index):
                continue
            if isinstance(found, SkippedFile):
                report.files_ignored += 1
            elif isinstance(found, FileProblem):
                report.problem(f"{found.source}: {found.reason}")
            else:
                source, items = found
                if source.part is None or source.part.index == 0:
                    report.files_read += 1  # a file split into parts counts once
                self._read(items)
                for signal in list(self._pending):
                    self._checked(signal)
                if self.on_progress is not None:
                    self.on_progress(report)
            if self.file_done is not None:
                self._push_logs()
                self.file_done(index)

    def _push_logs(self) -> None:
        """A worker pushes an input's log entries before the input counts as done (Loki
        takes each stream oldest first)."""
        logs = self.sinks.get(Signal.LOGS)
        if isinstance(logs, LokiSink) and not self.stop.is_set():
            logs.flush()

    def _read(self, items: Iterator[SourceItem]) -> None:
        report, stop = self.report, self.stop
        for item in items:
            if stop.is_set():
                break
            signal = SIGNAL_OF.get(type(item))
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
                    pending = self._pending.setdefault(signal, [])
                    pending.append(record)
                    if len(pending) >= CHECK_BATCH:
                        self._checked(signal)
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

    def _checked(self, signal: Signal) -> None:
        """The pending records of ``signal`` through ``check`` and ``after`` to the sink
        (nothing more once the run is stopped: they count as not sent)."""
        if self.stop.is_set():
            return
        records = self._pending.pop(signal, [])
        if not records:
            return
        sink = self.sinks[signal]
        labels = self.check(signal, records) if self.check is not None else [None] * len(records)
        for record, label in zip(records, labels, strict=True):
            if label is None and self.stop.is_set():  # stopped while a batch was in flight: not sent
                continue
            if label is None:
                record, label = apply_transforms(record, self.after)  # type: ignore[assignment]
            if label:
                self.report.dropped(signal, label)
            else:
                sink.write(record)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._pending.clear()  # read, not yet checked when the run stopped: not sent
        try:
            for sink in self.sinks.values():
                if self.stop.is_set():
                    sink.abandon(wait=not self._quit_now)
                else:
                    sink.close()
        finally:
            if self.stop.is_set():  # a stop cuts batches off anywhere: count what was not sent by difference
                self.report.settle_unsent()
