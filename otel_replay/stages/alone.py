"""Dedup without the run's check for an input no other input can hold a copy of.

A log record's dedup identity is a digest of all it carries, its time included
(stages/dedup.py): two records with different times are never each other's copies. The
first pass (timechoice.py) reads the time of every log record of the run; an input whose
log records lie in a stretch of time no other input's log records reach holds the only
copies there can be of them, within itself. Its records are then not asked of the run's
check (a digest each and, with workers, a round trip to the parent): only those whose
time another of its records shares are checked, against each other (:class:`AloneCheck`,
with the same :class:`~otel_replay.stages.dedup.SeenCheck`). A ``latest*.json`` copy,
overlapping folders, the same file given twice: each lies in the stretch of time of its
original, and both are checked by the run's check, as before.

Only with every record's time known (a CodeMachine log document read whole by the first
pass, without filters: sources/times.py) and no ``--resume`` (its journal keeps every
record's digest).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from otel_replay.model import Record, Signal
from otel_replay.stages.dedup import SeenCheck

#: The check of the whole run: per record, the label it is dropped with, or None.
RunCheck = Callable[[Signal, list[Record], bool], list[str | None]]


@dataclass(slots=True)
class LogSpan:
    """The log records of one input as the first pass found them: the oldest and newest
    time, and the indices (in the document) of those whose time another of them shares;
    ``repeats`` None: not known record by record (the input is checked by the run)."""

    first: int | None = None
    last: int | None = None
    repeats: frozenset[int] | None = frozenset()

    def add(self, first: int, last: int) -> None:
        self.first = first if self.first is None else min(self.first, first)
        self.last = last if self.last is None else max(self.last, last)

    def add_document(self, stamps: list[int]) -> None:
        """Every log record of a document read whole, by its time (0: none, or one the
        replay refuses: then its copies cannot be told by time, the run checks it)."""
        if not stamps:
            return
        counts = Counter(stamps)
        if 0 in counts or self.first is not None:  # a record without a time, or a second document
            self.unknown()
        elif self.repeats is not None and len(counts) < len(stamps):
            self.repeats = frozenset(i for i, t in enumerate(stamps) if counts[t] > 1)
        timed = [t for t in stamps if t]
        if timed:
            self.add(min(timed), max(timed))

    def unknown(self) -> None:
        self.repeats = None


def alone_inputs(spans: Mapping[int, LogSpan]) -> dict[int, frozenset[int]]:
    """The inputs (by index) whose log records no other input's reach in time, each with
    its ``repeats`` (see :class:`LogSpan`)."""
    timed = sorted((s.first, s.last, index) for index, s in spans.items() if s.first is not None and s.last is not None)
    alone: dict[int, frozenset[int]] = {}
    reach: int | None = None  # the newest time of the inputs before
    for n, (first, last, index) in enumerate(timed):
        after = n + 1 < len(timed) and timed[n + 1][0] <= last
        repeats = spans[index].repeats
        if (reach is None or reach < first) and not after and repeats is not None:
            alone[index] = repeats
        reach = last if reach is None else max(reach, last)
    return alone


class AloneCheck:
    """The run's check, but for the log records of an input alone in its time
    (:func:`alone_inputs`): those are checked here, the few whose time another of its
    records shares against each other, the others not at all."""

    def __init__(self, check: RunCheck, answered: Callable[[], None] | None = None) -> None:
        self._check = check
        self._answered = answered  # told of each batch answered here (a worker's counts ride on the run's check)
        self._repeats: frozenset[int] | None = None
        self._local = SeenCheck()

    def start(self, repeats: frozenset[int] | None) -> None:
        """Records from now on are those of the next input: alone (its ``repeats``) or
        not (None)."""
        self._repeats = repeats
        self._local = SeenCheck()

    def checked_only(self) -> frozenset[int] | None:
        """The indices of the log records of the input begun that this check must see:
        None when it is not alone in its time (every one of them)."""
        return self._repeats

    def passed(self) -> None:
        """Records of the input begun went on without being asked of this check (plain
        log records in a block): told as a batch answered here is."""
        if self._answered is not None:
            self._answered()

    def __call__(self, signal: Signal, records: list[Record], as_recorded: bool = False) -> list[str | None]:
        repeats = self._repeats
        if repeats is None or signal is not Signal.LOGS:
            return self._check(signal, records, as_recorded)
        if self._answered is not None:
            self._answered()
        checked = [r.origin.index in repeats for r in records] if repeats else []
        if not any(checked):
            return [None] * len(records)
        shared = [r for r, check in zip(records, checked, strict=True) if check]
        verdicts = iter(self._local.records(signal, shared, as_recorded))
        return [next(verdicts) if check else None for check in checked]
