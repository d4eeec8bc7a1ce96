"""One run, assembled: the user's choices → sinks and transforms → pipeline → report.

The CLI parses flags into a :class:`RunPlan`; everything that happens after that lives
here, importable and testable without click: the stop-on-signal handling, ``--resume``,
the ``--shift-to-now`` first pass and the order of the transforms.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, BinaryIO

from otel_replay import parallel
from otel_replay.model import ResourceOverrides, Signal
from otel_replay.pipeline import Pipeline, newest_timestamp
from otel_replay.report import Report, format_duration
from otel_replay.resume import Acknowledge, ResumeState
from otel_replay.sinks import Sink
from otel_replay.sinks.dryrun import DryRunSink
from otel_replay.sinks.loki import LokiConfig, LokiSink
from otel_replay.sinks.otlp_config import OtlpConfig
from otel_replay.sources.discover import PART_BYTES, ArchiveLimits, InputFile, discover
from otel_replay.transforms import Transform
from otel_replay.transforms.dedup import SeenCheck
from otel_replay.transforms.filters import ServiceFilter, TimeWindow, TraceIdFilter
from otel_replay.transforms.resource import ResourceRewrite
from otel_replay.transforms.timeshift import TimeShift

EXIT_SIGNALLED = {signal.SIGINT: 130, signal.SIGTERM: 143}


@dataclass
class Selection:
    """Which records, and when they should appear to have happened."""

    now_ns: int
    offset_ns: int = 0  # --time-offset
    shift_to_now: bool = False
    since_ns: int | None = None
    until_ns: int | None = None
    trace_ids: list[int] = field(default_factory=list)
    services: tuple[str, ...] = ()

    def filters(self) -> list[Transform]:
        out: list[Transform] = []
        if self.since_ns is not None or self.until_ns is not None:
            out.append(TimeWindow(self.since_ns, self.until_ns))
        if self.trace_ids:
            out.append(TraceIdFilter(self.trace_ids))
        if self.services:
            out.append(ServiceFilter(self.services))
        return out


@dataclass
class RunPlan:
    paths: tuple[str, ...]
    signals: list[Signal]
    mode: str  # "send", "dry-run" or "output"
    otlp: OtlpConfig
    loki: LokiConfig
    selection: Selection
    overrides: ResourceOverrides
    destinations: dict[Signal, str]
    redact: Callable[[str], str]
    output_dir: str | None = None
    resume_path: str | None = None
    limits: ArchiveLimits = field(default_factory=ArchiveLimits)
    logs_to: str = "loki"  # or "otlp": log records through the official OTLPLogExporter
    workers: int = 1  # --workers: processes that read, convert and export (see parallel.py)


class SetupError(Exception):
    """The run cannot start (an output folder or state file is unusable); one line."""


def build_sinks(
    plan: RunPlan,
    report: Report,
    stop: threading.Event,
    ack: Acknowledge | None = None,
    before_push: Callable[[], None] | None = None,
) -> dict[Signal, Sink]:
    """One sink per selected signal; ``ack`` journals delivered records for --resume.

    The OTLP sinks are imported only when a run uses them: the exporters, the SDK and
    protobuf take longer to import than a small replay takes to run."""
    sinks: dict[Signal, Sink] = {}
    for sig in plan.signals:
        if plan.mode == "dry-run":
            sinks[sig] = DryRunSink(sig, report)
        elif plan.mode == "output":
            assert plan.output_dir is not None
            from otel_replay.sinks.file import OtlpJsonFileSink

            sinks[sig] = OtlpJsonFileSink(
                sig, plan.output_dir, report, plan.otlp.batch_size, plan.otlp.max_request_bytes
            )
        elif sig is Signal.LOGS and plan.logs_to == "loki":
            sinks[sig] = LokiSink(plan.loki, report, stop=stop, on_delivered=ack, before_push=before_push)
        else:
            from otel_replay.sinks.otlp import OtlpSink

            sinks[sig] = OtlpSink(plan.otlp, report, on_delivered=ack, signal=sig, stop=stop)
    return sinks


def with_workers(plan: RunPlan, stdin: BinaryIO | None) -> tuple[RunPlan, int]:
    """How many worker processes the run uses — ``--workers``, but one process for stdin
    and ``--output`` (one file per signal) and when there are not two inputs to share —
    and the plan they share: large JSON Lines files handed out in parts."""
    if plan.workers <= 1 or stdin is not None or plan.mode == "output":
        return plan, 1
    plan = replace(plan, limits=replace(plan.limits, part_bytes=PART_BYTES))
    inputs = 0
    for found in discover(list(plan.paths), None, plan.limits):
        if isinstance(found, InputFile):
            inputs += 1
            if inputs >= plan.workers:
                break
    return plan, min(plan.workers, inputs)


def final_transforms(plan: RunPlan, offset_ns: int) -> list[Transform]:
    """What changes a record after dedup and --resume have seen it as recorded (the
    pipeline's ``after``)."""
    out: list[Transform] = []
    if plan.overrides.service_name or plan.overrides.attributes:
        out.append(ResourceRewrite(plan.overrides))
    if offset_ns:
        out.append(TimeShift(offset_ns))
    return out


def output_destinations(output_dir: str, signals: list[Signal]) -> dict[Signal, str]:
    from otel_replay.sinks.file import FILE_NAMES

    return {s: os.path.join(output_dir, FILE_NAMES[s]) for s in signals}


def _spool(stream: BinaryIO) -> BinaryIO:
    spool = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the run
    shutil.copyfileobj(stream, spool, 1 << 20)
    spool.seek(0)
    return spool  # type: ignore[return-value]


@contextmanager
def stop_on_signals(
    stop: threading.Event, sinks: dict[Signal, Sink], notify: Callable[[str], None]
) -> Iterator[list[int]]:
    """SIGINT/SIGTERM: finish the request in flight, journal it, send nothing more. A second
    signal stops at once (KeyboardInterrupt). Yields a list that receives the signal number."""
    received: list[int] = []

    def handler(signum: int, frame: object) -> None:
        if received:
            raise KeyboardInterrupt
        received.append(signum)
        stop.set()
        for sink in sinks.values():
            interrupt = getattr(sink, "interrupt", None)
            if interrupt is not None:
                interrupt()
        notify("stopping: finishing the request in flight (interrupt again to quit at once)")

    if threading.current_thread() is not threading.main_thread():  # e.g. under a test runner thread
        yield received
        return
    saved = {s: signal.signal(s, handler) for s in EXIT_SIGNALLED}
    try:
        yield received
    finally:
        for s, h in saved.items():
            signal.signal(s, h)


def execute(
    plan: RunPlan,
    stdin: BinaryIO | None,
    on_progress: Callable[[Report], None] | None = None,
    notify: Callable[[str], None] = lambda _: None,
    verbose: Callable[[str], None] | None = None,
) -> tuple[Report, int]:
    """Run the plan; returns the report and the exit status."""
    report = Report(plan.mode, {s: plan.destinations[s] for s in plan.signals}, plan.redact)
    report.verbose = verbose
    if plan.output_dir is not None:
        plan = replace(plan, limits=replace(plan.limits, exclude_dirs=frozenset({os.path.realpath(plan.output_dir)})))
    plan, workers = with_workers(plan, stdin)
    if workers > 1:
        otlp = plan.mode == "send" and (plan.logs_to == "otlp" or any(s is not Signal.LOGS for s in plan.signals))
        parallel.prepare(["otel_replay.runner", *(["otel_replay.sinks.otlp"] if otlp else [])])
    sel = plan.selection
    state = None
    if plan.resume_path is not None:
        state = ResumeState(plan.resume_path)  # raises StateFileError (a ValueError) with one line
    if sel.shift_to_now and stdin is not None and (state is None or state.time_offset_ns is None):
        stdin = _spool(stdin)  # read twice: once for the newest timestamp, once to replay
    filters = sel.filters()
    offset = sel.offset_ns
    if state is not None and state.time_offset_ns is not None:
        if (sel.shift_to_now or sel.offset_ns) and state.time_offset_ns != offset:
            notify(f"--resume: keeping the first run's time offset ({format_duration(state.time_offset_ns)})")
        offset = state.time_offset_ns
    elif sel.shift_to_now:
        if workers > 1:
            newest = parallel.newest_in_workers(plan, workers)
        else:
            newest = newest_timestamp(plan.paths, stdin, plan.signals, filters, plan.limits)
        offset = 0 if newest is None else sel.now_ns - newest
        if stdin is not None:
            stdin.seek(0)
    report.time_offset_ns = offset

    stop: Any = parallel.stop_event() if workers > 1 else threading.Event()
    try:
        if state is not None:
            state.start(offset, {s.value: plan.redact(d) for s, d in report.destinations.items()})
        sinks = {} if workers > 1 else build_sinks(plan, report, stop, state.acknowledge if state else None)
    except OSError as exc:
        raise SetupError(plan.redact(f"cannot prepare the output: {exc}")) from None
    try:
        with stop_on_signals(stop, sinks, notify) as received:
            try:
                if workers > 1:
                    parallel.run_workers(plan, workers, offset, report, state, stop, verbose is not None, on_progress)
                else:
                    pipeline = Pipeline(
                        sinks, filters, report, on_progress, stop, plan.limits,
                        check=SeenCheck(state).records, after=final_transforms(plan, offset),
                    )  # fmt: skip
                    pipeline.run(plan.paths, stdin)
            except KeyboardInterrupt:
                received.append(signal.SIGINT)
    finally:
        if state is not None:
            state.close()
    if stop.is_set():
        report.interrupted = True
    if received:
        report.interrupted = True
        return report, EXIT_SIGNALLED.get(received[0], 130)  # type: ignore[call-overload]
    return report, report.exit_status
