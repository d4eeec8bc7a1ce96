"""One run: a :class:`RunPlan` → the time offset → a replay → the report and exit status.

Everything after the CLI's flag parsing lives here, importable and testable without
click: ``--resume``'s journal and the offset it keeps, ``--shift-to-now``'s first pass,
and stopping on SIGINT/SIGTERM. Which executor reads the inputs (this process or worker
processes) is decided once, by :func:`otel_replay.execute.choose`.
"""

from __future__ import annotations

import queue
import secrets
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import BinaryIO

from otel_replay import timechoice
from otel_replay.assemble import new_stats
from otel_replay.execute import Executor, Job, SetupError, choose
from otel_replay.interrupts import RunPhase, ignored_from_the_start, start_daemon
from otel_replay.model import Signal
from otel_replay.plan import RunPlan, output_name
from otel_replay.problems import ProblemsFile
from otel_replay.progress.meter import Meter
from otel_replay.report import Report, format_duration
from otel_replay.resume import ResumeState
from otel_replay.resume_check import read_back
from otel_replay.sinks import preflight
from otel_replay.stages.dedup import SeenCheck
from otel_replay.timechoice import Destinations, TimeChoice
from otel_replay.verdict import iso

__all__ = ["EXIT_SIGNALLED", "SetupError", "execute"]

EXIT_SIGNALLED = {signal.SIGINT: 130, signal.SIGTERM: 143}


def execute(
    plan: RunPlan,
    stdin: BinaryIO | None,
    on_progress: Meter | None = None,
    notify: Callable[[str], None] = lambda _: None,
    verbose: Callable[[str], None] | None = None,
    tempo_query_url: str | None = None,
    phase: RunPhase | None = None,
) -> tuple[Report, int]:
    """Run the plan; returns the report and the exit status. ``tempo_query_url``
    (--tempo-query-url): where --resume asks Tempo about spans sent before a kill. :class:`SetupError` (the
    output folder, a destination that does not answer: :class:`~otel_replay.sinks.preflight.Unreachable`)
    or :class:`StateFileError` when it cannot start; KeyboardInterrupt when interrupted
    before anything was sent. ``phase``: kept up to date for a SIGINT handler around the
    run (interrupts.py), ended when this returns or raises."""
    report = Report(new_stats(plan, verbose), plan.mode, {s: plan.destinations[s] for s in plan.signals}, plan.redact)
    report.now_ns, report.windows, report.seen_in = plan.selection.now_ns, plan.selection.windows, plan.seen_in
    report.shard = _shard(plan)
    run = RunPhase() if phase is None else phase
    try:
        with problems_file(plan, report) as begin:
            return _execute(plan, report, stdin, on_progress, notify, verbose, tempo_query_url, begin, run)
    finally:
        run.ended = True


@contextmanager
def problems_file(plan: RunPlan, report: Report) -> Iterator[Callable[[], None]]:
    """``--problems FILE``: every problem of the run is written there as it comes. Checked
    here; created (or emptied) by what this yields, called once the run can start."""
    if plan.problems_path is None:
        yield lambda: None
        return
    path = plan.problems_path

    def refused(exc: OSError) -> SetupError:
        return SetupError(f"--problems: cannot write {path}: {exc.strerror or exc}")

    try:
        written = ProblemsFile.open(path, plan.redact)
    except OSError as exc:
        raise refused(exc) from None

    def begin() -> None:
        try:
            written.begin()
        except OSError as exc:
            raise refused(exc) from None

    report.problems_path = path
    report.stats.on_problem = written.write
    try:
        yield begin
    finally:
        written.close()


def _execute(
    plan: RunPlan,
    report: Report,
    stdin: BinaryIO | None,
    on_progress: Meter | None,
    notify: Callable[[str], None],
    verbose: Callable[[str], None] | None,
    tempo_query_url: str | None,
    begin: Callable[[], None],
    phase: RunPhase,
) -> tuple[Report, int]:
    state: ResumeState | None = None
    executor: Executor | None = None
    received: list[int] = []
    with signals_outside_the_replay(phase):
        try:
            state, executor, first_pass, plan = _start(plan, stdin, notify, verbose is not None)
            begin()
            report.replay_id = plan.loki.replay_id
            report.time_choice = choice = _offset(plan, state, executor if first_pass else None, notify)
            report.time_offset_ns = offset = choice.offset_ns
            checked = None if state is None else read_back(state, plan, tempo_query_url, notify)
            phase.starting = False
            if state is not None and checked is not None:
                state.start(offset, recorded_destinations(plan), report.replay_id, _shard(plan))
                checked.journal(state, report.stats)
            job = Job(
                stats=report.stats,
                offset_ns=offset,
                check=SeenCheck(state),
                journal=state,
                on_progress=on_progress,
                alone={} if state is not None or choice.times is None else choice.times.alone(),
            )
            with stop_on_signals(executor, notify) as received:
                try:
                    executor.replay(job)
                except KeyboardInterrupt:
                    received.append(signal.SIGINT)
        finally:
            try:
                if executor is not None:
                    executor.close()
            finally:
                if state is not None:
                    state.close()
    if executor.stopped or received:
        report.interrupted = True
    if received:
        return report, EXIT_SIGNALLED.get(signal.Signals(received[0]), 130)
    return report, report.exit_status


def with_replay_id(plan: RunPlan, state: ResumeState | None) -> RunPlan:
    """The plan with this run's id for Loki's structured metadata (``replay_id``): a resumed
    run keeps its first run's; only a run that pushes log records to Loki with structured
    metadata has one (the line itself is never changed)."""
    if not plan.ordered_logs or not plan.loki.structured_metadata or plan.loki.replay_id:
        return plan
    replay_id = (state.replay_id if state is not None else None) or secrets.token_hex(6)
    return replace(plan, loki=replace(plan.loki, replay_id=replay_id))


def _start(
    plan: RunPlan, stdin: BinaryIO | None, notify: Callable[[str], None], verbose: bool
) -> tuple[ResumeState | None, Executor, bool, RunPlan]:
    """What is decided before anything is read: the state file (for these destinations?),
    whether each destination answers (sending) or the output folder is free (--output),
    and the executor (discovery starts). Returns the state, the executor, whether
    the run makes a first pass (:func:`reads_first`), and the plan with the run's replay id."""
    state = None if plan.resume_path is None else ResumeState(plan.resume_path)  # StateFileError: one line
    plan = with_replay_id(plan, state)
    try:
        if state is not None:
            state.check_shard(_shard(plan))
            state.check_destinations(recorded_destinations(plan), plan.resume_elsewhere)
        if plan.mode == "send":
            preflight.check(plan, notify)
        elif plan.mode == "output":
            _prepare_output(plan)
        first_pass = reads_first(plan) and (state is None or state.time_offset_ns is None)
        return state, choose(plan, stdin, first_pass, verbose), first_pass, plan
    except BaseException:
        if state is not None:
            state.close()
        raise


def _shard(plan: RunPlan) -> str | None:
    return None if plan.shard is None else str(plan.shard)


def recorded_destinations(plan: RunPlan) -> dict[str, str]:
    """Where each signal goes, as the state file records it: redacted URLs, and Loki's
    with its tenant (records in another tenant are elsewhere too)."""
    recorded = {s.value: plan.redact(plan.destinations[s]) for s in plan.signals}
    if Signal.LOGS in plan.signals and plan.logs_to == "loki" and plan.loki.tenant:
        recorded[Signal.LOGS.value] += f" (tenant {plan.loki.tenant})"
    return recorded


def _prepare_output(plan: RunPlan) -> None:
    from otel_replay.sinks.file import OutputInUse, prepare_output  # the OTLP encoders: only --output

    assert plan.output_dir is not None
    try:
        prepare_output(plan.output_dir, plan.overwrite, [output_name(s, plan.shard) for s in Signal])
    except OutputInUse as exc:
        raise SetupError(str(exc)) from None
    except OSError as exc:
        raise SetupError(plan.redact(f"cannot replace the earlier results in {plan.output_dir}: {exc}")) from None


def reads_first(plan: RunPlan) -> bool:
    """Whether the time offset needs a first pass over the inputs: unless ``--time-offset``
    gives it, or ``--output`` has no destination to be seen in (and no ``--shift-to-now``)."""
    sel = plan.selection
    if sel.offset_ns is not None:
        return False
    return sel.shift_to_now or plan.seen_in != Destinations()


def _offset(
    plan: RunPlan, state: ResumeState | None, first_pass: Executor | None, notify: Callable[[str], None]
) -> TimeChoice:
    """How far every timestamp moves (timechoice.py), said before anything is sent: a
    resumed run keeps its first run's offset; else the flags', or the default's from the
    first pass (``first_pass``)."""
    sel = plan.selection
    resumed = None if state is None else state.time_offset_ns
    if resumed is not None and resumed != (sel.offset_ns or 0):  # a flag asked otherwise, or the default moved them
        notify(f"--resume: keeping the first run's time offset ({format_duration(resumed)})")
    times = None if first_pass is None else first_pass.times()
    choice = timechoice.choose(
        times,
        destinations=plan.seen_in,
        keep_times=sel.keep_times,
        shift_to_now=sel.shift_to_now,
        offset_ns=sel.offset_ns,
        resumed_offset_ns=resumed,
        shard=plan.shard is not None,
    )
    counted = timechoice.needs_counts(choice, plan.seen_in)
    if first_pass is not None and times is not None and times.deferred and counted:
        first_pass.identify(times)
    for line in announcement(choice, plan.seen_in):
        notify(line)
    return choice


def announcement(choice: TimeChoice, seen_in: Destinations) -> list[str]:
    """What the run says of its times before it sends: the default shift and why, or
    what the destinations will not show at once with the times kept."""
    times = choice.times
    if choice.how == timechoice.SHIFTED and times is not None and times.first is not None and times.last is not None:
        return [
            f"moving the recording to now: every timestamp {format_duration(choice.offset_ns)} (recorded "
            f"{iso(times.first)} to {iso(times.last)}; {choice.reason}; --keep-times keeps the recorded times)"
        ]
    if choice.how == timechoice.SHIFT_TO_NOW and choice.offset_ns:
        return [f"--shift-to-now: every timestamp {format_duration(choice.offset_ns)}"]
    prefix = "--keep-times: " if choice.how == timechoice.KEEP_TIMES else "warning: "
    said = [f"warning: {choice.reason}"] if choice.reason else []  # --shard: not moved
    return said + [prefix + line for line in timechoice.keep_times_lines(times, seen_in)]


@contextmanager
def signals_outside_the_replay(phase: RunPhase) -> Iterator[RunPhase]:
    """SIGINT before the replay starts (the checks, discovery, ``--shift-to-now``'s first
    pass), while ``phase.starting``: nothing has been sent, so the run ends at once
    (KeyboardInterrupt). Any other — a second one, as ``timeout -s INT`` sends right after
    the first, or one while the executor closes after the replay — is ignored, so it
    cannot cut the cleanup short. (During the replay :func:`stop_on_signals` handles them.)
    The phase has ended before the handler found is put back (see interrupts.py)."""
    if threading.current_thread() is not threading.main_thread() or ignored_from_the_start(signal.SIGINT):
        try:
            yield phase
        finally:
            phase.ended = True
        return

    def handler(signum: int, frame: object) -> None:
        if phase.starting:
            phase.starting = False
            raise KeyboardInterrupt

    saved = signal.signal(signal.SIGINT, handler)
    try:
        yield phase
    finally:
        phase.ended = True
        signal.signal(signal.SIGINT, saved)


@contextmanager
def stop_on_signals(executor: Executor, notify: Callable[[str], None]) -> Iterator[list[int]]:
    """SIGINT/SIGTERM: finish the requests in flight, journal them, send nothing more. A
    second signal stops at once (KeyboardInterrupt); any later one is ignored. Yields a
    list that receives the signal numbers.

    The handler takes no lock but the progress line's (reentrant): it runs in the main
    thread, between two of its steps, maybe while that thread holds one (an Event's), and
    would then wait for it for ever. It says at once that the run stops, and hands the
    stop itself to a thread of its own, through a queue whose ``put`` is safe there."""
    received: list[int] = []
    asked: queue.SimpleQueue[bool] = queue.SimpleQueue()

    def handler(signum: int, frame: object) -> None:
        if len(received) == 1:
            received.append(signum)
            raise KeyboardInterrupt
        if received:  # a third: already quitting at once
            return
        received.append(signum)
        asked.put(True)
        notify("stopping: finishing the request in flight (interrupt again to quit at once)")

    def stop() -> None:
        if asked.get():
            executor.interrupt()

    if threading.current_thread() is not threading.main_thread():  # e.g. under a test runner thread
        yield received
        return
    stopper = start_daemon(stop, name="otel-replay-stop")
    saved = {s: signal.signal(s, handler) for s in EXIT_SIGNALLED if not ignored_from_the_start(s)}
    try:
        yield received
    finally:
        for s, h in saved.items():
            signal.signal(s, h)
        asked.put(False)  # no signal came: the thread ends (else it has stopped the executor)
        stopper.join()
