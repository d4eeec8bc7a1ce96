"""Wire sources → transforms → sinks, and count everything on the way.

Inputs are read one at a time, in the order given, each streamed record by record; a
record goes through the filters, then the run's dedup and --resume check (a batch at a
time, so that a worker process can ask the parent), then the transforms that change it,
then to its signal's sink (see assemble.py). Nothing here raises for bad input or an
unwilling backend: each outcome is a count (with a reason) on the run's statistics.

What a reader says about one record (a value changed to fit, a hint about it) counts
only when the record is handed to its sink: a record dropped on the way (a filter, a
duplicate such as a ``latest*.json`` copy, --resume, a stop) changed nothing that was
sent, so it adds nothing to "changed to fit" nor to the problem lines.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from operator import attrgetter, itemgetter
from typing import cast

from otel_replay.assemble import Stages, first_pass
from otel_replay.model import (
    SIGNAL_OF,
    Adjusted,
    FileProblem,
    FileStart,
    InvalidRecord,
    LogRecord,
    Notice,
    Origin,
    PlainLogs,
    Record,
    Signal,
    SourceItem,
    SpanRecord,
)
from otel_replay.plan import RunPlan
from otel_replay.progress.meter import ByteCounter
from otel_replay.sinks import Sink, TakesPlainLogs
from otel_replay.sources import read_input
from otel_replay.sources.discover import Discovered, InputFile, SkippedFile
from otel_replay.sources.streams import Stride
from otel_replay.sources.times import DocumentTimes, document_times
from otel_replay.stages import Transform
from otel_replay.stages.timeshift import TimeShift
from otel_replay.stages.unrecorded import NoRecordedValue
from otel_replay.stats import RunStats, TimeSpan
from otel_replay.timechoice import RecordTimes


def apply_transforms(record: Record, transforms: Sequence[Transform]) -> tuple[Record | None, str]:
    """The record after every transform, or None and the drop label of the one that dropped it."""
    for transform in transforms:
        result = transform.apply(record)
        if result is None:
            return None, transform.drop_label
        record = result
    return record, ""


def plan_times_in(
    plan: RunPlan, found: Discovered, times: RecordTimes, index: int | None = None, mapped: bool = False
) -> RecordTimes:
    """:func:`times_in` as ``plan`` reads its inputs: its signals, and what its first pass
    keeps (:func:`~otel_replay.assemble.first_pass`)."""
    return times_in(found, frozenset(plan.signals), first_pass(plan.selection), times, index, mapped)


def times_in(
    found: Discovered,
    signals: frozenset[Signal],
    filters: Sequence[Transform],
    times: RecordTimes,
    index: int | None = None,
    mapped: bool = False,
) -> RecordTimes:
    """The first pass that decides the run's time offset, over one input (discovered as
    number ``index``): ``times`` with the records of ``signals`` that pass ``filters``
    added (see timechoice.py). Bad input is ignored here; the real pass reports it.
    ``mapped``: as :func:`~otel_replay.sources.read_input` takes it."""
    # a share of a large document: its records are replayed by several workers, none alone
    times.begin(index, shared=isinstance(found, InputFile) and isinstance(found.part, Stride))
    if not isinstance(found, InputFile):
        return times
    if all(type(f) is NoRecordedValue for f in filters) and document_times(found, signals, times_of(times), mapped):
        return times  # no filter but the one of metric points: the times alone tell
    with contextlib.closing(read_input(found, signals, mapped=mapped)) as items:
        for item in items:
            if SIGNAL_OF.get(type(item)) not in signals:
                if isinstance(item, FileStart) and item.signal not in signals and item.one_signal:
                    break  # the file holds nothing else: read no further (as the real pass does)
                continue
            record, _ = apply_transforms(item, filters)  # type: ignore[arg-type]
            if record is not None:
                times.add(record)
    return times


def times_of(times: RecordTimes) -> Callable[[DocumentTimes], None]:
    """What adds the times a document's time fields gave (sources/times.py) to ``times``."""

    def add(read: DocumentTimes) -> None:
        if read.signal is Signal.TRACES and read.times:
            times.add_range(min(read.times[0::2]), max(read.times[1::2]))
        elif read.signal is Signal.LOGS:
            times.add_logs(read.times, read.identities, whole=read.decoded is None)

    return add


def _instants(record: Record) -> tuple[int, int]:
    """When a record begins and ends, as recorded."""
    if isinstance(record, SpanRecord):
        return record.start_ns, record.end_ns
    return record.time_ns, record.time_ns


_START, _END, _TIME = attrgetter("start_ns"), attrgetter("end_ns"), attrgetter("time_ns")
_PLAIN_TIME = itemgetter(1)  # of a PlainLog


def _time_span(signal: Signal, records: list[Record]) -> TimeSpan:
    """The time a batch of records covers (in C loops: this runs for every record)."""
    span = TimeSpan()
    if signal is Signal.TRACES:
        span.add(min(map(_START, records)), max(map(_END, records)))
    else:
        span.add(min(map(_TIME, records)), max(map(_TIME, records)))
    return span


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


CHECK_BATCH = 512


@dataclass(kw_only=True)
class Pipeline:
    sinks: dict[Signal, Sink]
    #: Records pass the filters, then the check in batches, then what changes them
    #: (resource rewrite, time shift), then go to their sink.
    stages: Stages
    stats: RunStats
    #: Counts the bytes of each input as it is read (the progress line's).
    counter: ByteCounter | None = None
    #: Set (by a signal handler) to stop reading; what was sent is kept, the rest is not sent.
    stop: threading.Event = field(default_factory=threading.Event)
    #: Large documents of plain files are mapped (see :func:`~otel_replay.sources.read_input`).
    mapped: bool = False
    _closed: bool = field(default=False, init=False)
    _quit_now: bool = field(default=False, init=False)
    _pending: dict[Signal, list[Record]] = field(default_factory=dict, init=False)
    #: What the reader said about records of this input not yet sent or dropped, by origin
    #: (it precedes its record, which a metrics reader may hold to the end of the file).
    _about: dict[Origin, list[Adjusted | Notice]] = field(default_factory=dict, init=False)
    #: The input being read replays as recorded (OTLP: see :attr:`FileStart.as_recorded`).
    _as_recorded: bool = field(default=False, init=False)

    def run(self, inputs: Iterable[Discovered]) -> RunStats:
        """Read ``inputs`` (in order, each to its end) into the sinks, then close them."""
        try:
            with few_collections():
                self._run(inputs)
        except KeyboardInterrupt:  # a second Ctrl-C: quit without waiting for the requests in flight
            self.stop.set()
            self._quit_now = True
            raise
        finally:
            self.close()
        return self.stats

    def _run(self, inputs: Iterable[Discovered]) -> None:
        stats = self.stats
        for found in inputs:
            if self.stop.is_set():
                return
            if isinstance(found, SkippedFile):
                stats.file_ignored(found.name, found.reason)
            elif isinstance(found, FileProblem):
                stats.file_problem(found.source, found.reason, found.key, found.signal)
            else:
                self._as_recorded = False
                if found.part is None or found.part.index == 0:
                    stats.file_read()  # a file split into parts counts once
                before = _drops(stats) if stats.notes is not None else None
                counter = self.counter
                source = found if counter is None else counter.counted(found)
                self._read(read_input(source, frozenset(self.sinks), self._plain_except(), self.mapped))
                if counter is not None:
                    counter.finished()
                for signal in list(self._pending):
                    self._checked(signal)
                self._about.clear()  # about records never read to the end (a cut file): not sent
                if before is not None:
                    _note_drops(stats, found.name, before)

    def _plain_except(self) -> frozenset[int] | None:
        """Which log records of the input begun must still come one by one when its plain
        ones come in blocks; None: they all do (see assemble.PlainLane)."""
        lane = self.stages.plain
        return None if lane is None or Signal.LOGS not in self.sinks else lane.check.checked_only()

    def _plain(self, block: PlainLogs, read: Counter[Signal]) -> None:
        """A block of plain log records, to the Loki sink after what was read before it."""
        lane, stats = self.stages.plain, self.stats
        assert lane is not None
        stats.read(Signal.LOGS, read.pop(Signal.LOGS, 0) + len(block.records))
        self._checked(Signal.LOGS)
        if self.stop.is_set():
            return
        lane.check.passed()
        recorded = list(map(_PLAIN_TIME, block.records))
        span = TimeSpan()
        span.add(min(recorded), max(recorded))
        stats.times(Signal.LOGS, span, kept=True)
        times = lane.times(recorded)
        for _ in range(times.count(None)):
            stats.dropped(Signal.LOGS, TimeShift.drop_label)
        cast("TakesPlainLogs", self.sinks[Signal.LOGS]).write_plain(block, times)

    def _read(self, items: Iterator[SourceItem | PlainLogs | SkippedFile]) -> None:
        stats, stop = self.stats, self.stop
        read: Counter[Signal] = Counter()
        filtered_out: dict[Signal, TimeSpan] = {}
        try:
            for item in items:
                if stop.is_set():
                    break
                signal = SIGNAL_OF.get(type(item))
                if signal is not None:
                    if signal not in self.sinks:  # a signal not selected (a JSON Lines file may mix signals)
                        if self._about:
                            self._about.pop(item.origin, None)  # type: ignore[union-attr]
                        continue
                    read[signal] += 1
                    record, dropped_by = apply_transforms(item, self.stages.filters)  # type: ignore[arg-type]
                    if record is None:
                        stats.dropped(signal, dropped_by)
                        if self._about:
                            self._about.pop(item.origin, None)  # type: ignore[union-attr]
                        filtered_out.setdefault(signal, TimeSpan()).add(*_instants(item))  # type: ignore[arg-type]
                    else:
                        pending = self._pending.setdefault(signal, [])
                        pending.append(record)
                        if len(pending) >= CHECK_BATCH:
                            stats.read(signal, read.pop(signal))
                            self._checked(signal)
                elif type(item) is PlainLogs:
                    self._plain(item, read)
                elif isinstance(item, FileStart):
                    self._as_recorded = item.as_recorded
                    selected = item.signal in self.sinks
                    if item.counted:
                        stats.file_of(item.signal, selected)
                    if not selected and item.one_signal:
                        break  # the file holds nothing else: do not even parse it
                else:
                    self._other(item)
        finally:  # counted however the input ends (a second Ctrl-C included)
            for signal, n in read.items():
                stats.read(signal, n)
            for signal, span in filtered_out.items():
                stats.times(signal, span, kept=False)
        items.close()  # type: ignore[attr-defined]

    def _other(self, item: SourceItem | PlainLogs | SkippedFile) -> None:
        """What a reader says besides records and the start of a file."""
        stats = self.stats
        if isinstance(item, InvalidRecord):
            if item.signal in self.sinks:
                stats.invalid(item.signal, item.origin, item.reason, item.key, item.value)
        elif isinstance(item, Adjusted):
            if item.signal in self.sinks:
                self._about.setdefault(item.origin, []).append(item)
        elif isinstance(item, FileProblem):
            stats.file_problem(item.source, item.reason, item.key, item.signal)
        elif isinstance(item, Notice):
            if item.origin is None:
                stats.hint(item.text)
            else:
                self._about.setdefault(item.origin, []).append(item)
        elif isinstance(item, SkippedFile):  # read, and found not to be telemetry
            stats.file_ignored(item.name, item.reason)

    def _checked(self, signal: Signal) -> None:
        """The pending records of ``signal`` through ``check`` and ``after`` to the sink
        (nothing more once the run is stopped: they count as not sent)."""
        if self.stop.is_set():
            return
        records = self._pending.pop(signal, [])
        if not records:
            return
        self.stats.times(signal, _time_span(signal, records), kept=True)
        sink, about = self.sinks[signal], self._about
        check, after = self.stages.check, self.stages.after
        labels = check(signal, records, self._as_recorded) if check is not None else [None] * len(records)
        for record, label in zip(records, labels, strict=True):
            notes = about.pop(record.origin, None) if about else None
            if label is None and self.stop.is_set():  # stopped while a batch was in flight: not sent
                continue
            if label is None:
                record, label = apply_transforms(record, after)  # type: ignore[assignment]
            if label:
                self.stats.dropped(signal, label)
            else:
                if notes:
                    self._sent_with(record, notes)
                sink.write(record)

    def _sent_with(self, record: Record, notes: list[Adjusted | Notice]) -> None:
        """What the reader said about a record that is now sent."""
        for note in notes:
            if isinstance(note, Adjusted):
                kinds = self.stats.adjusted(note.signal, note.origin, note.reason, note.key)
                if isinstance(record, LogRecord):
                    record.changed = kinds  # a sink that changes it again: counted once (stats.adjusted)
            else:
                self.stats.hint(note.text)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._pending.clear()  # read, not yet checked when the run stopped: not sent
        self._about.clear()
        try:
            for sink in self.sinks.values():
                if self.stop.is_set():
                    sink.abandon(wait=not self._quit_now)
                else:
                    sink.close()
        finally:
            if self.stop.is_set():  # a stop cuts batches off anywhere: count what was not sent by difference
                self.stats.settle_unsent()


def _drops(stats: RunStats) -> dict[Signal, Counter[str]]:
    """The drop counts so far, per signal (the pipeline alone counts drops)."""
    return {signal: Counter(s.dropped) for signal, s in stats.signals.items()}


def _note_drops(stats: RunStats, name: str, before: dict[Signal, Counter[str]]) -> None:
    """--verbose: what input ``name`` read and did not send (duplicates, filters, points
    with no recorded value), one line per signal."""
    for signal, was in before.items():
        now = stats.signals[signal].dropped
        parts = [f"{now[label] - was[label]} {label}" for label in now if now[label] > was[label]]
        if parts:
            stats.note(f"{signal.value} {name}: " + ", ".join(parts))
