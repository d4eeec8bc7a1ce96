"""Read a plan's inputs exactly as ``replay`` does, keeping the records instead of sending them.

The same discovery, readers, filters (``--since``/``--until``, ``--trace-id``,
``--service``) and dedup (:class:`~otel_replay.stages.dedup.SeenCheck`: the ``latest*``
copies of a CodeMachine folder) run here through :class:`~otel_replay.pipeline.Pipeline`
(assembled by :func:`otel_replay.assemble.stages`) into dry-run sinks that keep what they
are given; the problems and hints land on the same :class:`~otel_replay.stats.RunStats`
a replay counts on (``inspect`` and ``view`` show them as ``replay --dry-run`` would).
Nothing is shifted or rewritten (no offset, no resource overrides).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from otel_replay.assemble import new_stats, stages
from otel_replay.model import Origin, Record, Signal
from otel_replay.pipeline import Pipeline
from otel_replay.plan import RunPlan
from otel_replay.sinks.dryrun import DryRunSink
from otel_replay.sources.discover import Discovered, InputFile, discover
from otel_replay.stages.dedup import SeenCheck
from otel_replay.stats import DUPLICATES, RunStats


@dataclass
class Collected:
    """What a read of the inputs found, as plain data (the summary's only input)."""

    #: The records a replay would send, in the order it would send them.
    records: list[Record] = field(default_factory=list)
    #: The records dropped as copies of records read before (``latest*`` files).
    copies: list[Record] = field(default_factory=list)
    #: The inputs discovery found, by name, in the order they were read.
    inputs: list[str] = field(default_factory=list)
    stats: RunStats = field(default_factory=RunStats)


def collect(plan: RunPlan, stdin: BinaryIO | None = None) -> Collected:
    """Every input of ``plan`` through the replay's pipeline into memory."""
    out = Collected(stats=new_stats(plan))
    seen = SeenCheck()

    def check(signal: Signal, records: list[Record], as_recorded: bool) -> list[str | None]:
        labels = seen.records(signal, records, as_recorded)
        out.copies.extend(r for r, label in zip(records, labels, strict=True) if label == DUPLICATES)
        return labels

    sinks = {s: DryRunSink(s, out.stats, out.records) for s in plan.signals}
    pipeline = Pipeline(sinks=sinks, stages=stages(plan, 0, check), stats=out.stats)  # type: ignore[arg-type]
    pipeline.run(_noting(discover(plan.paths, stdin, plan.limits, plan.walk), out.inputs))
    if plan.scrub is not None:  # where records were read, as shown: scrubbed as the records are
        _scrub_names(out, plan.scrub.said)
    return out


def _scrub_names(out: Collected, said: Callable[[str], str]) -> None:
    out.inputs = [said(name) for name in out.inputs]
    for record in (*out.records, *out.copies):
        record.origin = Origin(said(str(record.origin.source)), record.origin.index)


def _noting(found: Iterable[Discovered], names: list[str]) -> Iterator[Discovered]:
    for entry in found:
        if isinstance(entry, InputFile):
            names.append(entry.name)
        yield entry
