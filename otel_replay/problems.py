"""Every problem of a run, each as one plain object: what went wrong (its ``kind``), the
kind of reason (``key``: the same for every problem of one sort, given where the problem
is raised, so that 10,000 bad span ids group as one reason), the one-line reason, and
where (file and record index, or a batch). :class:`ProblemLog` counts them, keeps the
first few hundred and a few examples per reason; :class:`ProblemsFile` writes every one
as a JSON line (``--problems FILE``), redacted."""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from otel_replay.model import Origin, Signal

#: Problems kept as objects for ``--json`` (the rest are counted; ``--problems`` has all).
MAX_KEPT = 1000
#: Examples kept per reason (the text summary shows them under the reason).
EXAMPLES_PER_REASON = 3
#: Distinct reasons counted one by one; more are counted under :data:`OTHER_REASONS`.
MAX_REASONS = 200
OTHER_REASONS = "other reasons"

# What went wrong: the ``kind`` of a problem.
INVALID = "invalid"  # a record that could not be read into a valid one; not sent
CHANGED = "changed"  # a record replayed with a value changed to fit
TOO_LARGE = "too large"  # a record larger than a request may be; not sent
NOT_DELIVERED = "not delivered"  # a batch the backend did not take
FILE = "file"  # a whole file (or the rest of it) not read, or read despite a flaw
RUN = "run"  # the run itself (a worker process died, the run stopped at once)


def noun(signal: Signal) -> str:
    return {Signal.TRACES: "span", Signal.LOGS: "log record", Signal.METRICS: "metric data point"}[signal]


@dataclass(frozen=True, slots=True)
class Problem:
    kind: str
    reason: str
    #: The kind of reason: problems with the same key are one reason in the summary.
    key: str
    #: Where, as shown: ``a.json[3]``, a batch ``a.json[0] … b.json[511]``, a file name.
    where: str = ""
    file: str | None = None
    index: int | None = None
    signal: Signal | None = None
    #: The offending value, as text, when the raiser knows it.
    value: str | None = None
    #: Records concerned (a batch not delivered counts its records).
    records: int = 1

    @classmethod
    def of_record(
        cls, kind: str, signal: Signal, origin: Origin, reason: str, key: str | None = None, value: str | None = None
    ) -> Problem:
        return cls(
            kind,
            reason,
            key or reason,
            where=str(origin),
            file=str(origin.source),
            index=origin.index,
            signal=signal,
            value=value,
        )

    @property
    def label(self) -> str:
        """What happened, in words: ``invalid span``, ``log record changed to fit``."""
        thing = "" if self.signal is None else noun(self.signal)
        if self.kind == INVALID:
            return f"invalid {thing}"
        if self.kind == CHANGED:
            return f"{thing} changed to fit"
        if self.kind == TOO_LARGE:
            return f"{thing} too large"
        if self.kind == NOT_DELIVERED:
            return f"{thing}s not delivered"
        return "file" if self.kind == FILE else "run"

    @property
    def group(self) -> tuple[str, Signal | None, str]:
        return (self.kind, self.signal, self.key)

    def line(self) -> str:
        """The problem as one line of the text summary."""
        if self.kind == NOT_DELIVERED:
            return f"{self.where}: {self.records} {noun(self.signal)}(s) not delivered: {self.reason}"  # type: ignore[arg-type]
        if self.kind in (INVALID, CHANGED):
            label = f"invalid {noun(self.signal)}" if self.kind == INVALID else f"{noun(self.signal)} changed to fit"  # type: ignore[arg-type]
            return f"{self.where}: {label}: {self.reason}"
        return f"{self.where}: {self.reason}" if self.where else self.reason

    def to_dict(self, redact: Callable[[str], str]) -> dict[str, Any]:
        """The problem as a JSON object (``--json``, ``--problems``), every text redacted."""
        out: dict[str, Any] = {
            "kind": self.kind,
            "reason_kind": redact(self.key),
            "reason": redact(self.reason),
            "text": redact(self.line()),
        }
        if self.signal is not None:
            out["signal"] = self.signal.value
        if self.file is not None:
            out["file"] = redact(self.file)
        if self.index is not None:
            out["index"] = self.index
        if self.where and self.file is None:
            out["where"] = redact(self.where)
        if self.value is not None:
            out["value"] = redact(self.value)
        if self.kind == NOT_DELIVERED:
            out["records"] = self.records
        return out


def rewritten(problem: Problem, text: Callable[[str], str]) -> Problem:
    """The problem with ``text`` applied to everything it shows (``--scrub``'s rules)."""
    return dataclasses.replace(
        problem,
        reason=text(problem.reason),
        key=text(problem.key),
        where=text(problem.where),
        file=None if problem.file is None else text(problem.file),
        value=None if problem.value is None else text(problem.value),
    )


@dataclass(slots=True)
class ProblemGroup:
    """The problems of one reason: how many, and the first few."""

    kind: str
    signal: Signal | None
    key: str
    count: int = 0
    examples: list[Problem] = field(default_factory=list)

    @property
    def label(self) -> str:
        first = self.examples[0].label if self.examples else self.kind
        return first if self.key == OTHER_REASONS else f"{first}: {self.key}"


def _place(problem: Problem) -> tuple[str, int]:
    """Where a problem stands in the input: its file, then its record's index."""
    return (problem.file or "", -1 if problem.index is None else problem.index)


class ProblemLog:
    """Problems as they come: counted, the first :data:`MAX_KEPT` kept, and per reason a
    count and the first :data:`EXAMPLES_PER_REASON` in input order (file, then record).
    Memory stays bounded however many there are. Not locked: its owner (:class:`~otel_replay.stats.RunStats`) is."""

    def __init__(self) -> None:
        self.count = 0
        self.kept: list[Problem] = []
        self.groups: dict[tuple[str, Signal | None, str], ProblemGroup] = {}

    def add(self, problem: Problem) -> None:
        self.count += 1
        if len(self.kept) < MAX_KEPT:
            self.kept.append(problem)
        group_key = problem.group
        group = self.groups.get(group_key)
        if group is None:
            if len(self.groups) >= MAX_REASONS:
                group_key = (problem.kind, problem.signal, OTHER_REASONS)
                group = self.groups.get(group_key)
            if group is None:
                group = self.groups[group_key] = ProblemGroup(*group_key)
        group.count += 1
        examples = group.examples
        if len(examples) < EXAMPLES_PER_REASON or _place(problem) < _place(examples[-1]):
            # the first in input order, whichever worker reported first: the same every run
            examples.append(problem)
            examples.sort(key=_place)
            del examples[EXAMPLES_PER_REASON:]

    def by_count(self) -> list[ProblemGroup]:
        return sorted(self.groups.values(), key=lambda g: -g.count)

    def __iter__(self) -> Iterator[Problem]:
        return iter(self.kept)


class ProblemsFile:
    """``--problems FILE``: every problem as one JSON object per line, redacted, written
    as it comes (only the parent process writes it: workers send theirs). The file is
    created (or emptied) when the replay begins, so a run that cannot start (a
    destination that does not answer) leaves a previous run's list as it was."""

    def __init__(self, path: str, redact: Callable[[str], str]) -> None:
        self._path = path
        self._redact = redact
        self._lock = threading.Lock()
        self._stream: IO[str] | None = None

    @classmethod
    def open(cls, path: str, redact: Callable[[str], str]) -> ProblemsFile:
        """OSError when it could not be written (checked, not yet created)."""
        writable(path)
        return cls(path, redact)

    def begin(self) -> None:
        """Create or empty the file (OSError when that fails)."""
        with self._lock:
            self._begin()

    def _begin(self) -> IO[str]:
        if self._stream is None:
            self._stream = open(self._path, "w", encoding="utf-8")  # noqa: SIM115 (closed by close())
        return self._stream

    def write(self, problem: Problem) -> None:
        line = json.dumps(problem.to_dict(self._redact), ensure_ascii=False)
        with self._lock:
            self._begin().write(line + "\n")

    def close(self) -> None:
        with self._lock:
            if self._stream is not None:
                self._stream.close()


def writable(path: str) -> None:
    """OSError when ``path`` could not be opened for writing: a folder, a file or a
    folder that may not be written, a folder that does not exist."""
    folder = os.path.dirname(path) or "."
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
    if not os.path.isdir(folder):
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
    if not os.access(path if os.path.exists(path) else folder, os.W_OK):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)
