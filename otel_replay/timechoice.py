"""When the replayed records should appear to have happened: the run's one time offset,
decided once, before anything is sent (docs/time.md has the table).

A backend stores a backdated record but does not always show it at once: Loki's queriers
ask its ingesters only about the last ``query_ingesters_within`` (3 h by default), so an
older entry is served only once its chunk is flushed (30 min to 2 h later), and it
refuses entries older than ``reject_old_samples_max_age`` (7 days); Tempo finds a
backdated trace by id at once but by search only once it has flushed its block (its
block's time range is the time of ingestion ± ``ingestion_time_range_slack``, 2 min).
So by default a recording whose newest record is older than what its destinations show
at once is moved to now, as ``--shift-to-now`` does, and the run says so first.

Pure functions of plain values: the first pass over the inputs gives the
:class:`RecordTimes`, :func:`choose` the :class:`TimeChoice`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from otel_replay.model import LogRecord, Record
from otel_replay.stages.alone import LogSpan, alone_inputs
from otel_replay.stages.dedup import log_identity
from otel_replay.stages.timeshift import newest_ns, oldest_ns

MINUTE_NS = 60 * 10**9
HOUR_NS = 60 * MINUTE_NS
DAY_NS = 24 * HOUR_NS
#: Loki's ``query_ingesters_within`` default: older entries are served once flushed.
LOKI_VISIBLE_WITHIN_NS = 3 * HOUR_NS
#: Loki's ``reject_old_samples_max_age`` default: older entries are refused (400).
LOKI_MAX_AGE_NS = 7 * DAY_NS
#: Tempo's ``ingestion_time_range_slack`` default: search finds a trace older than this
#: only once its block is flushed (by id it is found at once). Assumed of any OTLP backend.
OTLP_VISIBLE_WITHIN_NS = 2 * MINUTE_NS

#: How the offset was decided (``how`` of :class:`TimeChoice`, in ``--json``).
SHIFTED, KEPT, KEEP_TIMES, SHIFT_TO_NOW, TIME_OFFSET, RESUMED = (
    "shifted",
    "kept",
    "keep-times",
    "shift-to-now",
    "time-offset",
    "resumed",
)


@dataclass(frozen=True, kw_only=True)
class Windows:
    """What the destinations show at once (``--loki-visible-within``, ``--loki-max-age``,
    ``--otlp-visible-within``); 0 for a window: no limit."""

    loki_visible_ns: int = LOKI_VISIBLE_WITHIN_NS
    loki_max_age_ns: int = LOKI_MAX_AGE_NS
    otlp_visible_ns: int = OTLP_VISIBLE_WITHIN_NS


@dataclass
class RecordTimes:
    """What the first pass found, as recorded: the oldest and newest instants, and which
    log records Loki would not show at once (``unserved``) or refuse (``refused``) with
    their times kept, measured from ``now_ns`` — by their dedup identity, so that a
    CodeMachine ``latest*.json`` copy is not counted twice. Mergeable: each worker finds
    its inputs'.

    With ``defer``, those records are not identified as they are found: their input's index
    goes into ``deferred``. Their numbers are only said when the times are kept
    (:func:`needs_counts`), and a recording old enough to have such records is most often
    moved to now; when it is not, the run reads those inputs once more for their identities
    (:meth:`add_identified`)."""

    now_ns: int
    windows: Windows
    defer: bool = False
    first: int | None = None
    last: int | None = None
    #: The newest span or metric point (what only an OTLP backend receives, logs aside).
    last_not_log: int | None = None
    #: The oldest log record.
    first_log: int | None = None
    #: Log records by identity: their dedup key (bytes) or, read by their time fields alone,
    #: :meth:`~otel_replay.sources.times.DocumentTimes.identities` (integers).
    unserved_keys: set[bytes | int] = field(default_factory=set)
    refused_keys: set[bytes | int] = field(default_factory=set)
    #: The log records of each input (by its index), for dedup (stages/alone.py); the
    #: input being read is ``current``. ``unattributed``: log records of no known input
    #: were found (then no input is known to be alone in its time).
    inputs: dict[int, LogSpan] = field(default_factory=dict)
    current: LogSpan | None = None
    unattributed: bool = False
    #: The inputs (by index) whose old log records are not identified yet (``defer``), and
    #: whether any of those Loki would not show at once.
    deferred: set[int] = field(default_factory=set)
    deferred_unserved: bool = False
    _index: int | None = None

    @property
    def unserved(self) -> int:
        return len(self._counted(self.unserved_keys))

    @property
    def refused(self) -> int:
        return len(self._counted(self.refused_keys))

    def _counted(self, keys: set[bytes | int]) -> set[bytes | int]:
        if self.deferred:
            raise ValueError("not counted yet: inputs are deferred (add_identified)")
        return keys

    @property
    def any_unserved(self) -> bool:
        """Whether Loki would not show some log record at once (counted or deferred)."""
        return bool(self.unserved_keys) or self.deferred_unserved

    @property
    def any_refused(self) -> bool:
        """Whether Loki would refuse some log record (counted or deferred)."""
        return self.first_log is not None and self.first_log < self._cutoffs()[0]

    def begin(self, index: int | None, shared: bool = False) -> None:
        """The records from now on are those of input ``index`` (None: not known); ``shared``:
        its records are replayed in shares, by several workers (none of them is alone)."""
        self._index = index
        if index is None:
            self.current = None
            return
        known = index in self.inputs  # read twice: its records' indices are not known to be one document's
        self.current = self.inputs.setdefault(index, LogSpan())
        if known or shared:
            self.current.unknown()

    def alone(self) -> dict[int, frozenset[int]]:
        """The inputs whose log records no other input's reach in time (stages/alone.py)."""
        return {} if self.unattributed else alone_inputs(self.inputs)

    def _log_span(self) -> LogSpan | None:
        if self.current is None:
            self.unattributed = True
        return self.current

    def add(self, record: Record) -> None:
        if not isinstance(record, LogRecord):
            self.add_range(oldest_ns(record), newest_ns(record))
            return
        if (span := self._log_span()) is not None:  # converted: its index in a document is not known here
            span.unknown()
            if record.time_ns:
                span.add(record.time_ns, record.time_ns)
        if record.time_ns:  # no time: sent as it is, whatever the offset
            self._widen_logs(record.time_ns, record.time_ns)
            if (old := self._old(record.time_ns)) is not None and self._defers:
                self._defer(unserved=old is self.unserved_keys)
            elif old is not None:
                old.add(log_identity(record))

    def add_range(self, first: int, last: int) -> None:
        """Spans or metric points (what only an OTLP backend receives) from ``first`` to ``last``."""
        self._widen(first, last)
        self.last_not_log = last if self.last_not_log is None else max(self.last_not_log, last)

    def add_logs(
        self, stamps: list[int], identities: Callable[[list[int]], Iterable[bytes | int]], whole: bool = False
    ) -> None:
        """Log records at these times (0: none: sent as it is, whatever the offset): every
        one of a document (``whole``), or a stretch of one; ``identities(indices)`` are
        those records' dedup identities, asked only of those Loki would not show at once
        or would refuse."""
        timed = [t for t in stamps if t]
        if (span := self._log_span()) is not None:
            if whole:
                span.add_document(stamps)
            elif timed:
                span.unknown()
                span.add(min(timed), max(timed))
        if not timed:
            return
        oldest = min(timed)
        self._widen_logs(oldest, max(timed))
        refused, unserved = self._cutoffs()
        if oldest >= refused and oldest >= unserved:
            return  # the oldest is shown at once: so is every other
        if self._defers:
            self._defer(unserved=oldest >= refused or any(refused <= t < unserved for t in timed))
            return
        # the records of a document in two passes of C loops, the identities of the old alone
        self.refused_keys.update(identities([i for i, t in enumerate(stamps) if 0 < t < refused]))
        self.unserved_keys.update(identities([i for i, t in enumerate(stamps) if t and refused <= t < unserved]))

    @property
    def _defers(self) -> bool:
        """Whether old log records are left unidentified: ``defer``, and an input to read again."""
        return self.defer and self._index is not None

    def _defer(self, unserved: bool) -> None:
        """The input begun holds old log records, not identified (``unserved``: not only refused)."""
        assert self._index is not None
        self.deferred.add(self._index)
        self.deferred_unserved |= unserved

    def add_identified(self, found: RecordTimes) -> None:
        """The identities found by reading the ``deferred`` inputs once more (without
        ``defer``): the counts are then known."""
        self.unserved_keys |= found.unserved_keys
        self.refused_keys |= found.refused_keys
        self.deferred.clear()
        self.deferred_unserved = False

    def _old(self, time_ns: int) -> set[bytes | int] | None:
        """Where a log record at ``time_ns`` counts: refused by Loki, not shown at once, or
        (None) neither."""
        refused, unserved = self._cutoffs()
        if time_ns < refused:
            return self.refused_keys
        if time_ns < unserved:
            return self.unserved_keys
        return None

    def _cutoffs(self) -> tuple[float, float]:
        """Log records older than the first instant are refused by Loki, older than the
        second not shown at once (-inf: a window not set, none is)."""
        w = self.windows
        refused = self.now_ns - w.loki_max_age_ns if w.loki_max_age_ns else -math.inf
        unserved = self.now_ns - w.loki_visible_ns if w.loki_visible_ns else -math.inf
        return refused, unserved

    def _widen_logs(self, first: int, last: int) -> None:
        self._widen(first, last)
        self.first_log = first if self.first_log is None else min(self.first_log, first)

    def _widen(self, first: int, last: int) -> None:
        self.first = first if self.first is None else min(self.first, first)
        self.last = last if self.last is None else max(self.last, last)

    def merge(self, other: RecordTimes | None) -> None:
        if other is None:
            return
        for t in (other.first, other.last):
            if t is not None:
                self.first = t if self.first is None else min(self.first, t)
                self.last = t if self.last is None else max(self.last, t)
        if other.last_not_log is not None:
            mine = self.last_not_log
            self.last_not_log = other.last_not_log if mine is None else max(mine, other.last_not_log)
        if other.first_log is not None:
            self.first_log = other.first_log if self.first_log is None else min(self.first_log, other.first_log)
        self.unserved_keys |= other.unserved_keys
        self.refused_keys |= other.refused_keys
        self.deferred |= other.deferred
        self.deferred_unserved |= other.deferred_unserved
        for index, span in other.inputs.items():
            known = self.inputs.get(index)
            if known is not None:  # reported twice: not one document's indices
                span.unknown()
                if known.first is not None and known.last is not None:
                    span.add(known.first, known.last)
            self.inputs[index] = span
        self.unattributed |= other.unattributed


@dataclass(frozen=True, kw_only=True)
class Destinations:
    """Where a run's records are to be seen: log records in Loki, any in an OTLP backend
    (neither: ``--output`` writes files, whose times a later replay decides)."""

    loki: bool = False
    otlp: bool = False


@dataclass(frozen=True, kw_only=True)
class TimeChoice:
    offset_ns: int
    how: str
    #: Why the default moved the times, in words (the first line of output says it).
    reason: str = ""
    #: The first pass's findings (None: no first pass, e.g. ``--time-offset``).
    times: RecordTimes | None = None


def choose(
    times: RecordTimes | None,
    *,
    destinations: Destinations,
    keep_times: bool = False,
    shift_to_now: bool = False,
    offset_ns: int | None = None,
    resumed_offset_ns: int | None = None,
    shard: bool = False,
) -> TimeChoice:
    """The decision table of docs/time.md, in order: a resumed run keeps its first run's
    offset; ``--time-offset``, ``--shift-to-now`` and ``--keep-times`` are obeyed; else
    the recording moves to now when its newest record is older than a destination shows at
    once (or Loki would refuse some of its log records), and keeps its times otherwise —
    but not with ``shard`` (``--shard``): each shard would move by its own offset, so the
    times are kept and the reason said as a warning."""
    if resumed_offset_ns is not None:
        return TimeChoice(offset_ns=resumed_offset_ns, how=RESUMED)
    if offset_ns is not None:  # --time-offset 0 too: the recorded times
        return TimeChoice(offset_ns=offset_ns, how=TIME_OFFSET)
    last = None if times is None else times.last
    if shift_to_now:
        return TimeChoice(offset_ns=0 if last is None else times.now_ns - last, how=SHIFT_TO_NOW, times=times)  # type: ignore[union-attr]
    if keep_times or times is None or last is None:
        return TimeChoice(offset_ns=0, how=KEEP_TIMES if keep_times else KEPT, times=times)
    reason = why_not_visible(times, destinations)
    if reason is None:
        return TimeChoice(offset_ns=0, how=KEPT, times=times)
    if shard:
        reason = (
            f"not moved to now, as each --shard would move its share by its own offset ({reason}): "
            "give every shard the same --time-offset"
        )
        return TimeChoice(offset_ns=0, how=KEPT, reason=reason, times=times)
    return TimeChoice(offset_ns=times.now_ns - last, how=SHIFTED, reason=reason, times=times)


def needs_counts(choice: TimeChoice, destinations: Destinations) -> bool:
    """Whether what is said of ``choice`` counts the log records Loki will not show at once:
    when they go to Loki, unless the recording moves to now (the reason says why)."""
    moved = choice.how == SHIFTED or (choice.how == SHIFT_TO_NOW and choice.offset_ns != 0)
    return destinations.loki and choice.times is not None and not moved


def default_offset(first_ns: int | None, last_ns: int | None, now_ns: int) -> int:
    """What a replay now with default flags would move a recording by, sent to Tempo and
    Loki (``inspect`` says it, before any replay)."""
    times = RecordTimes(now_ns=now_ns, windows=Windows(), first=first_ns, last=last_ns, last_not_log=last_ns)
    return choose(times, destinations=Destinations(loki=True, otlp=True)).offset_ns


def why_not_visible(times: RecordTimes, destinations: Destinations) -> str | None:
    """Why the destinations would not show these records at once with their recorded
    times (None: they would)."""
    if times.last is None:
        return None
    age = times.now_ns - times.last
    w = times.windows
    if destinations.loki and times.any_refused and times.first_log is not None:
        return (
            f"Loki refuses log records older than {duration(w.loki_max_age_ns)} "
            f"(the oldest is {duration(times.now_ns - times.first_log)} old)"
        )
    if destinations.loki and times.any_unserved and w.loki_visible_ns and age > w.loki_visible_ns:
        return (
            f"the newest record is {duration(age)} old: Loki shows entries older than "
            f"{duration(w.loki_visible_ns)} only once its ingester flushes them (up to 2h later)"
        )
    otlp_age = _otlp_age(times, destinations)
    if otlp_age is not None and w.otlp_visible_ns and otlp_age > w.otlp_visible_ns:
        return (
            f"the newest record is {duration(otlp_age)} old: Tempo's search finds traces older than "
            f"{duration(w.otlp_visible_ns)} only once it flushes its block (by id at once)"
        )
    return None


def keep_times_lines(times: RecordTimes | None, destinations: Destinations) -> list[str]:
    """With the recorded times kept: what the destinations will not show at once, with the
    numbers (said before sending, and in the summary)."""
    if times is None or times.last is None:
        return []
    w, out = times.windows, []
    if destinations.loki and times.unserved:
        out.append(
            f"Loki will not show {times.unserved} log record(s) until its ingester flushes "
            f"them (older than {duration(w.loki_visible_ns)}: 30 min to 2h after the push; "
            "--loki-visible-within if it is configured otherwise)"
        )
    if destinations.loki and times.refused:
        out.append(
            f"Loki will refuse {times.refused} log record(s) as too old "
            f"(older than {duration(w.loki_max_age_ns)}: --loki-max-age if it is configured otherwise)"
        )
    age = _otlp_age(times, destinations)
    if age is not None and w.otlp_visible_ns and age > w.otlp_visible_ns:
        out.append(
            f"the newest record is {duration(age)} old: Tempo finds these traces by id at once, "
            "by search only once it flushes its block (--otlp-visible-within if it shows them sooner)"
        )
    return out


def _otlp_age(times: RecordTimes, destinations: Destinations) -> int | None:
    """How old the newest record an OTLP backend receives is (None: it receives none)."""
    if not destinations.otlp:
        return None
    last = times.last_not_log if destinations.loki else times.last
    return None if last is None else times.now_ns - last


def duration(ns: int) -> str:
    """Coarse and unsigned: ``7d``, ``5h 2m``, ``30m``, ``45s``."""
    secs = abs(ns) // 10**9
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if secs >= size:
            parts.append(f"{secs // size}{unit}")
            secs %= size
    return " ".join(parts[:2]) or "0s"
