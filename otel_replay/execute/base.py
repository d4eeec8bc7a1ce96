"""What every executor is: the one interface the run uses, whichever runs the inputs.

The run asks an executor for the first pass that decides the time offset (:meth:`Executor.times`),
then to replay (:meth:`Executor.replay`) with what must be decided once for the whole
run (:class:`Job`: the statistics, the time offset, dedup and ``--resume``), and closes it.
A first Ctrl-C calls :meth:`Executor.interrupt` from the signal handler.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from otel_replay.progress.meter import Meter
from otel_replay.resume import Journal
from otel_replay.stages.dedup import SeenCheck
from otel_replay.stats import RunStats
from otel_replay.timechoice import RecordTimes


class SetupError(Exception):
    """The run cannot start (an output folder or state file is unusable); one line."""


@dataclass(frozen=True, kw_only=True)
class Job:
    """What a replay needs beyond the plan, decided once for the whole run."""

    stats: RunStats
    offset_ns: int
    #: Dedup and --resume: whether each record is sent (asked of this process by workers).
    check: SeenCheck
    #: --resume's journal of batches sent and settled (in this process: workers ask it).
    journal: Journal | None = None
    #: The run's progress (bytes read, retries in progress) for whoever shows it.
    on_progress: Meter | None = None
    #: The inputs (by index) whose log records no other input's reach in time, each with
    #: the indices of its records to check against each other (stages/alone.py).
    alone: Mapping[int, frozenset[int]] = field(default_factory=dict)


class Executor(Protocol):
    def times(self) -> RecordTimes:
        """The first pass that decides the time offset (timechoice.py): the times of the
        records the run will replay (each input read once more than otherwise,
        decompressed once)."""

    def identify(self, times: RecordTimes) -> None:
        """Read the inputs ``times`` deferred once more, for the identities of their records
        Loki would not show at once (timechoice.RecordTimes): then they are counted."""

    def replay(self, job: Job) -> None:
        """Read every input into the sinks, counting on ``job.stats``. A second Ctrl-C
        (KeyboardInterrupt) ends it at once and is raised again."""

    def interrupt(self) -> None:
        """Stop: requests in flight finish, none starts, nothing more is read. Called from a
        signal handler: it must not block."""

    @property
    def stopped(self) -> bool:
        """Whether :meth:`interrupt` was called."""

    def close(self) -> None:
        """Release what the executor holds (worker processes, the spool folder)."""
