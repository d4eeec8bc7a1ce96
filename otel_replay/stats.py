"""Plain, mergeable statistics of a run: what happened to its records, per signal and
reason, and the problems and hints found on the way. Stages and sinks report events
here; turning them into a summary and an exit status is :mod:`otel_replay.report`'s job."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from otel_replay.model import Origin, Signal
from otel_replay.problems import CHANGED, FILE, INVALID, NOT_DELIVERED, RUN, TOO_LARGE, Problem, ProblemLog, noun

#: The drop label of the dedup stage; shown as its own count.
DUPLICATES = "duplicates skipped"
#: The drop label of records an earlier run delivered (--resume).
DELIVERED = "already delivered (--resume)"


@dataclass
class SignalStats:
    files: int = 0
    read: int = 0
    sent: int = 0
    invalid: int = 0
    rejected: int = 0
    failed: int = 0
    adjusted: int = 0  # replayed with a value changed (see adjusted_reasons)
    not_selected_files: int = 0
    unsent: int = 0  # read and accepted, but not sent: the run was interrupted (or see unsent_reasons)
    dropped: Counter[str] = field(default_factory=Counter)
    rejected_reasons: Counter[str] = field(default_factory=Counter)
    failed_reasons: Counter[str] = field(default_factory=Counter)
    invalid_reasons: Counter[str] = field(default_factory=Counter)
    adjusted_reasons: Counter[str] = field(default_factory=Counter)
    #: Part of ``unsent`` with a reason other than an interruption (a worker process died).
    unsent_reasons: Counter[str] = field(default_factory=Counter)

    @property
    def duplicates(self) -> int:
        return self.dropped.get(DUPLICATES, 0)


class TimeSpan:
    """The earliest and latest instants seen (nanoseconds since 1970; None: none seen)."""

    __slots__ = ("first", "last")

    def __init__(self) -> None:
        self.first: int | None = None
        self.last: int | None = None

    def add(self, first: int, last: int) -> None:
        if self.first is None or first < self.first:
            self.first = first
        if self.last is None or last > self.last:
            self.last = last

    def update(self, other: TimeSpan) -> None:
        if other.first is not None and other.last is not None:
            self.add(other.first, other.last)


class RunStats:
    """What happened to a run's records, as the stages and sinks report it: counts per
    signal and reason, problems and hints. Every update takes the lock (sinks report from
    the threads their requests run in); a worker process's stats merge into the run's."""

    def __init__(self, notes: Callable[[str], None] | None = None) -> None:
        self.signals = {s: SignalStats() for s in Signal}
        #: Every problem is counted here, and given to ``on_problem`` (the parent writes
        #: ``--problems``); a worker process sets ``forward`` instead: its problems go to
        #: the parent as they come, and are not kept here.
        self.problem_log = ProblemLog()
        self.on_problem: Callable[[Problem], None] | None = None
        #: What a problem shows, before it is counted or forwarded (``--scrub``: scrubbed).
        self.shown: Callable[[Problem], Problem] | None = None
        self.forward: Callable[[Problem], None] | None = None
        self.files_read = 0
        self.files_ignored = 0
        #: Why files were ignored, by kind of reason (what is in parentheses left out).
        self.ignored: Counter[str] = Counter()
        self.hints: list[str] = []
        #: The time each signal's records cover as recorded: all read, and those the
        #: filters kept (what the summary says of a run that replayed nothing, or of old records).
        self.recorded = {s: TimeSpan() for s in Signal}
        self.kept = {s: TimeSpan() for s in Signal}
        #: --verbose: receives one line per batch outcome (the receiver redacts it).
        self.notes = notes
        self._lock = threading.Lock()

    # -- what the reading stage reports ------------------------------------------------
    def file_read(self) -> None:
        with self._lock:
            self.files_read += 1

    def file_ignored(self, name: str = "", reason: str = "") -> None:
        """A file not read, or read and found not to be telemetry (not a problem); --verbose names it."""
        with self._lock:
            self.files_ignored += 1
            self.ignored[reason.split(" (")[0] or "not read"] += 1
        if name:
            self.note(f"{name}: ignored: {reason}")

    def file_of(self, signal: Signal, selected: bool = True) -> None:
        """A file holding ``signal``'s records, replayed or (not ``selected``) passed over."""
        with self._lock:
            if selected:
                self.signals[signal].files += 1
            else:
                self.signals[signal].not_selected_files += 1

    def times(self, signal: Signal, span: TimeSpan, kept: bool) -> None:
        """Records of ``signal`` recorded over ``span``, that the filters ``kept`` or not."""
        with self._lock:
            self.recorded[signal].update(span)
            if kept:
                self.kept[signal].update(span)

    def read(self, signal: Signal, n: int) -> None:
        if n:
            with self._lock:
                self.signals[signal].read += n

    # -- problems --------------------------------------------------------------------
    @property
    def problem_count(self) -> int:
        return self.problem_log.count

    @property
    def problems(self) -> list[Problem]:
        """The first problems (:data:`~otel_replay.problems.MAX_KEPT`); all are counted."""
        return self.problem_log.kept

    def add_problem(self, problem: Problem) -> None:
        if self.shown is not None:
            problem = self.shown(problem)
        if self.forward is not None:
            self.forward(problem)
            return
        with self._lock:
            self.problem_log.add(problem)
        if self.on_problem is not None:
            self.on_problem(problem)

    def problem(self, message: str, key: str | None = None) -> None:
        """A problem of the run itself (not of one file or record)."""
        self.add_problem(Problem(RUN, message, key or message))

    def file_problem(self, source: str, reason: str, key: str = "", signal: Signal | None = None) -> None:
        """A problem with a whole file (see :class:`~otel_replay.model.FileProblem`)."""
        self.add_problem(Problem(FILE, reason, key or reason, where=source, file=source, signal=signal))

    # -- updates ---------------------------------------------------------------------
    def invalid(self, signal: Signal, origin: Origin, reason: str, key: str = "", value: str | None = None) -> None:
        problem = Problem.of_record(INVALID, signal, origin, reason, key, value)
        self._count(signal, "invalid", 1, problem.key)
        self.add_problem(problem)

    def hint(self, text: str) -> None:
        with self._lock:
            if text not in self.hints:
                self.hints.append(text)

    def note(self, text: str) -> None:
        """A --verbose line."""
        if self.notes is not None:
            self.notes(text)

    def adjusted(self, signal: Signal, origin: Origin, reason: str, key: str = "", before: str | None = None) -> str:
        """A record sent with a value changed to fit; returns the kinds of change it is
        counted with. Every count is of records: one changed twice (by its reader, then by
        a sink: ``before``, the kinds it was counted with) still counts once, under both
        kinds of change; each change is its own problem line."""
        problem = Problem.of_record(CHANGED, signal, origin, reason, key)
        kinds = problem.key if before is None else f"{before}; {problem.key}"
        if before is None:
            self._count(signal, "adjusted", 1, kinds)
        else:
            with self._lock:
                reasons = self.signals[signal].adjusted_reasons
                reasons[before] -= 1
                if reasons[before] <= 0:
                    del reasons[before]
                reasons[kinds] += 1
        self.add_problem(problem)
        return kinds

    def too_large(self, signal: Signal, origin: Origin, size: int, flag: str, limit: int, verb: str = "sent") -> None:
        """A record that cannot fit in one request under ``flag`` even alone: refused here."""
        key = f"{noun(signal)} larger than {flag} on its own"
        self.rejected(signal, 1, key)
        reason = f"{noun(signal)} of about {size} bytes is larger than {flag} ({limit}); not {verb}"
        self.add_problem(Problem.of_record(TOO_LARGE, signal, origin, reason, key))

    def dropped(self, signal: Signal, label: str) -> None:
        with self._lock:
            self.signals[signal].dropped[label] += 1

    def settle_unsent(self) -> None:
        """A stopped run: every record read that has no other outcome was not sent (read
        but not yet checked, checked but not yet batched, batched, or in a request left
        behind by a second Ctrl-C)."""
        with self._lock:
            for s in self.signals.values():
                s.unsent = max(0, s.read - s.sent - s.rejected - s.failed - sum(s.dropped.values()))

    def not_sent(self, signal: Signal, n: int, reason: str) -> None:
        """``n`` records read and accepted will not be sent, for ``reason``."""
        self._count(signal, "unsent", n, reason)

    def sent(self, signal: Signal, n: int) -> None:
        with self._lock:
            self.signals[signal].sent += n

    def rejected(self, signal: Signal, n: int, reason: str) -> None:
        self._count(signal, "rejected", n, reason)

    def failed(self, signal: Signal, n: int, reason: str, where: str | None = None) -> None:
        """``n`` records could not be delivered; ``where`` names the batch (its first and last
        records) for the problem list."""
        self._count(signal, "failed", n, reason)
        if where is not None and n > 0:
            self.add_problem(Problem(NOT_DELIVERED, reason, reason, where=where, signal=signal, records=n))

    def _count(self, signal: Signal, outcome: str, n: int, reason: str) -> None:
        """``n`` more records with ``outcome`` (a SignalStats count) for ``reason``."""
        if n <= 0:
            return
        stats = self.signals[signal]
        with self._lock:
            setattr(stats, outcome, getattr(stats, outcome) + n)
            getattr(stats, f"{outcome}_reasons")[reason] += n

    # -- across processes ------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """What a worker process found, to be :meth:`merge`-d into the run's stats."""
        with self._lock:
            return {
                "stats": self.signals,
                "problems": self.problem_log.kept,
                "problem_count": self.problem_log.count,
                "files_read": self.files_read,
                "files_ignored": self.files_ignored,
                "ignored": self.ignored,
                "hints": self.hints,
                "recorded": self.recorded,
                "kept": self.kept,
            }

    def merge(self, snap: dict[str, Any]) -> None:
        with self._lock:
            for sig, theirs in snap["stats"].items():
                mine = self.signals[sig]
                for name, value in vars(theirs).items():
                    if isinstance(value, Counter):
                        getattr(mine, name).update(value)
                    else:
                        setattr(mine, name, getattr(mine, name) + value)
            self.files_read += snap["files_read"]
            self.files_ignored += snap["files_ignored"]
            self.ignored.update(snap["ignored"])
            self.hints += [h for h in snap["hints"] if h not in self.hints]
            for sig in Signal:
                self.recorded[sig].update(snap["recorded"][sig])
                self.kept[sig].update(snap["kept"][sig])
        # problems a process kept (a worker forwards its own as they come: none here)
        for problem in snap["problems"]:
            self.add_problem(problem)
        with self._lock:
            self.problem_log.count += snap["problem_count"] - len(snap["problems"])  # counted, not listed


def batch_span(first: object, last: object) -> str:
    """How a batch is named in problem lines: ``a.json[0] … b.json[511]``."""
    return str(first) if first == last else f"{first} … {last}"
