"""Read a plan's inputs exactly as ``replay`` does, keeping the records instead of sending them.

The same discovery, readers, filters (``--since``/``--until``, ``--trace-id``,
``--service``) and dedup of the ``latest*`` copies run through
:class:`~otel_replay.pipeline.Pipeline` (assembled by :func:`otel_replay.assemble.stages`)
into a sink that keeps every record; problems land on the same
:class:`~otel_replay.stats.RunStats` a replay counts on. Nothing is shifted or rewritten.
(The same idea as ``inspect``'s collecting sink: one of the two is meant to go.)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from otel_replay.assemble import stages
from otel_replay.model import Record, Signal
from otel_replay.pipeline import Pipeline
from otel_replay.plan import RunPlan
from otel_replay.report import Report
from otel_replay.sources.discover import Discovered, InputFile, discover
from otel_replay.stages.dedup import SeenCheck
from otel_replay.stats import RunStats


@dataclass
class Collected:
    """What a read of the inputs found: the records a replay would send, in its order."""

    records: list[Record] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    stats: RunStats = field(default_factory=RunStats)
    #: What ``replay`` would exit with for this input (0, or 1 for problems).
    exit_status: int = 0


class CollectingSink:
    """A sink that keeps every record it is given (and counts it as a dry run does)."""

    def __init__(self, signal: Signal, stats: RunStats, into: list[Record]) -> None:
        self.signal = signal
        self._stats = stats
        self._into = into

    def write(self, record: Record) -> None:
        self._into.append(record)
        self._stats.sent(self.signal, 1)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def interrupt(self) -> None:
        pass

    def abandon(self, wait: bool = True) -> None:
        pass


def collect(plan: RunPlan, stdin: BinaryIO | None = None) -> Collected:
    """Every input of ``plan`` through the replay's pipeline into memory."""
    out = Collected()
    seen = SeenCheck()
    sinks = {s: CollectingSink(s, out.stats, out.records) for s in plan.signals}
    pipeline = Pipeline(sinks=sinks, stages=stages(plan, 0, seen.records), stats=out.stats)  # type: ignore[arg-type]
    pipeline.run(_noting(discover(plan.paths, stdin, plan.limits, plan.walk), out.inputs))
    out.exit_status = Report(out.stats, "dry-run").exit_status
    return out


def _noting(found: Iterable[Discovered], names: list[str]) -> Iterator[Discovered]:
    for entry in found:
        if isinstance(entry, InputFile):
            names.append(entry.name)
        yield entry
