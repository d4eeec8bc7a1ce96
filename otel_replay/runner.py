"""One run, assembled: the user's choices → sinks and transforms → pipeline → report.

The CLI parses flags into a :class:`RunPlan`; everything that happens after that lives
here, importable and testable without click: the stop-on-signal handling, ``--resume``,
the ``--shift-to-now`` first pass and the order of the transforms.
"""

from __future__ import annotations

import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, BinaryIO

from otel_replay import parallel
from otel_replay.assemble import build_sinks, filters, final_transforms, new_report
from otel_replay.model import Signal
from otel_replay.pipeline import Pipeline, newest_timestamp
from otel_replay.plan import RunPlan
from otel_replay.report import Report, format_duration
from otel_replay.resume import ResumeState
from otel_replay.sinks import Sink
from otel_replay.sources.discover import PART_BYTES, InputFile, discover
from otel_replay.transforms.dedup import SeenCheck

EXIT_SIGNALLED = {signal.SIGINT: 130, signal.SIGTERM: 143}


class SetupError(Exception):
    """The run cannot start (an output folder or state file is unusable); one line."""


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
            sink.interrupt()
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
    report = new_report(plan, verbose)
    plan, workers = with_workers(plan, stdin)
    if workers > 1:
        parallel.prepare(["otel_replay.runner", *(["otel_replay.sinks.otlp"] if plan.sends_otlp else [])])
    sel = plan.selection
    state = None
    if plan.resume_path is not None:
        state = ResumeState(plan.resume_path)  # raises StateFileError (a ValueError) with one line
    if sel.shift_to_now and stdin is not None and (state is None or state.time_offset_ns is None):
        stdin = _spool(stdin)  # read twice: once for the newest timestamp, once to replay
    keep = filters(sel)
    offset = sel.offset_ns
    if state is not None and state.time_offset_ns is not None:
        if (sel.shift_to_now or sel.offset_ns) and state.time_offset_ns != offset:
            notify(f"--resume: keeping the first run's time offset ({format_duration(state.time_offset_ns)})")
        offset = state.time_offset_ns
    elif sel.shift_to_now:
        if workers > 1:
            newest = parallel.newest_in_workers(plan, workers)
        else:
            newest = newest_timestamp(plan.paths, stdin, plan.signals, keep, plan.limits)
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
                        sinks, keep, report, on_progress, stop, plan.limits,
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
