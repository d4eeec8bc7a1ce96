"""A :class:`RunPlan` → what one process runs: the statistics it counts on, the stages a
record goes through and the sinks it ends in. Both executors build theirs here (the
in-process one once, each worker process its own), so a run reads, filters, rewrites and
sends the same way whatever ``--workers`` is.

The stages, in order: the filters (``--since``/``--until``, ``--trace-id``,
``--service``), then the run's dedup and ``--resume`` check (:class:`Check`, decided in
one place for the whole run), then the drop of data points with no recorded value, then
what changes a record (``--service-name``, ``--resource-attr``, the time shift), and
last ``--scrub`` (so every sink, backend or ``--output``, gets only scrubbed records).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from otel_replay.model import Record, Signal
from otel_replay.plan import RunPlan, Selection, output_name
from otel_replay.problems import rewritten
from otel_replay.resume import Journal
from otel_replay.sinks import Sink
from otel_replay.sinks.dryrun import DryRunSink
from otel_replay.sinks.loki import LokiSink
from otel_replay.stages import Transform
from otel_replay.stages.alone import AloneCheck
from otel_replay.stages.filters import ServiceFilter, TimeWindow, TraceIdFilter
from otel_replay.stages.resource import ResourceRewrite
from otel_replay.stages.scrub import Scrub
from otel_replay.stages.timeshift import TimeShift
from otel_replay.stages.unrecorded import NoRecordedValue
from otel_replay.stats import RunStats

#: Dedup and --resume on a batch of records (in this process, or asked of the parent by a
#: worker): for each record, the label it is dropped with, or None to send it.
Check = Callable[[Signal, list[Record], bool], list[str | None]]


@dataclass(frozen=True)
class PlainLane:
    """Plain CodeMachine log records (sources/plainlogs.py) in blocks straight to the Loki
    sink: a run whose log records go through no stage but the check and the time shift.
    Of each input, the check must still see those at ``check.checked_only()``; None: all
    (it is not alone in its time, stages/alone.py), and its records go one by one."""

    check: AloneCheck
    shift: TimeShift | None = None

    def times(self, recorded: list[int]) -> list[int | None]:
        """The times the records are sent at (None: dropped by the time shift)."""
        return list(recorded) if self.shift is None else self.shift.shift_log_times(recorded)


@dataclass(frozen=True)
class Stages:
    """What a record goes through between its reader and its sink."""

    filters: list[Transform] = field(default_factory=list)
    check: Check | None = None
    after: list[Transform] = field(default_factory=list)
    plain: PlainLane | None = None


def filters(selection: Selection) -> list[Transform]:
    """The transforms that only keep or drop a record (they see it as recorded)."""
    out: list[Transform] = []
    if selection.since_ns is not None or selection.until_ns is not None:
        out.append(TimeWindow(selection.since_ns, selection.until_ns))
    if selection.trace_ids:
        out.append(TraceIdFilter(list(selection.trace_ids)))
    if selection.services:
        out.append(ServiceFilter(selection.services))
    return out


def first_pass(selection: Selection) -> list[Transform]:
    """What ``--shift-to-now``'s first pass keeps: the records the replay can send."""
    return [*filters(selection), NoRecordedValue()]


def final_transforms(plan: RunPlan, offset_ns: int) -> list[Transform]:
    """After dedup and --resume have seen a record as recorded: the drop of what was
    never recorded (counted once, as its own: a copy's points are duplicates), then
    what changes a record."""
    out: list[Transform] = [NoRecordedValue()]
    if plan.overrides.service_name or plan.overrides.attributes:
        out.append(ResourceRewrite(plan.overrides))
    if offset_ns:
        out.append(TimeShift(offset_ns))
    if plan.scrub is not None:
        out.append(Scrub(plan.scrub))
    return out


def stages(plan: RunPlan, offset_ns: int, check: Check | None) -> Stages:
    before, after = filters(plan.selection), final_transforms(plan, offset_ns)
    return Stages(before, check, after, plain_lane(plan, before, after, check))


def plain_lane(plan: RunPlan, before: list[Transform], after: list[Transform], check: Check | None) -> PlainLane | None:
    """The lane of plain log records, when this run's log records go to Loki and through
    no stage that looks at them but the time shift (and an alone input's check)."""
    if not isinstance(check, AloneCheck) or before or plan.mode != "send" or plan.logs_to != "loki":
        return None
    shifts = [t for t in after if isinstance(t, TimeShift)]
    if any(not isinstance(t, (NoRecordedValue, TimeShift)) for t in after):
        return None  # the resource rewrite, --scrub
    return PlainLane(check, shifts[0] if shifts else None)


def new_stats(plan: RunPlan, verbose: Callable[[str], None] | None = None) -> RunStats:
    """The statistics one process counts on; ``verbose`` receives its --verbose lines,
    redacted. With ``--scrub``, its rules rewrite what problems and those lines show (they
    quote values and name files) as they rewrite the records."""
    said = (lambda text: text) if plan.scrub is None else plan.scrub.said
    stats = RunStats() if verbose is None else RunStats(lambda text: verbose(plan.redact(said(text))))
    if plan.scrub is not None:
        stats.shown = functools.partial(rewritten, text=plan.scrub.said)
    return stats


def build_sinks(
    plan: RunPlan, stats: RunStats, stop: threading.Event, journal: Journal | None = None
) -> dict[Signal, Sink]:
    """One sink per selected signal; ``journal``: --resume's (each batch before it is sent, then how it was settled).

    The OTLP sinks are imported only when a run uses them: the exporters, the SDK and
    protobuf take longer to import than a small replay takes to run."""
    sinks: dict[Signal, Sink] = {}
    for sig in plan.signals:
        if plan.mode == "dry-run":
            sinks[sig] = DryRunSink(sig, stats)
        elif plan.mode == "output":
            assert plan.output_dir is not None
            from otel_replay.sinks.file import OtlpJsonFileSink

            name = output_name(sig, plan.shard)
            sinks[sig] = OtlpJsonFileSink(
                sig, plan.output_dir, stats, plan.otlp.batch_size, plan.otlp.max_request_bytes, name
            )
        elif sig is Signal.LOGS and plan.logs_to == "loki":
            sinks[sig] = LokiSink(plan.loki, stats, stop=stop, on_delivered=journal)
        else:
            from otel_replay.sinks.otlp import OtlpSink

            sinks[sig] = OtlpSink(plan.otlp, stats, on_delivered=journal, signal=sig, stop=stop)
    return sinks
