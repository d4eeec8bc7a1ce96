"""The whole run in this process: the inputs in discovery order through one pipeline."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping

from otel_replay.assemble import build_sinks, stages
from otel_replay.execute.base import Job, SetupError
from otel_replay.execute.inputs import Entry, Spool, WorkItem, as_input
from otel_replay.model import Signal
from otel_replay.pipeline import Pipeline, plan_times_in
from otel_replay.plan import RunPlan
from otel_replay.sinks import Sink
from otel_replay.sinks.delivery import watch_retries
from otel_replay.sources.discover import Discovered
from otel_replay.stages.alone import AloneCheck
from otel_replay.timechoice import RecordTimes


class InProcess:
    """``inputs``: as discovered, or (from ``spool``) as work items, which a run that
    reads twice needs: the first pass records them and the replay reads them again."""

    def __init__(self, plan: RunPlan, inputs: Iterable[Entry | Discovered], spool: Spool | None = None) -> None:
        self._plan = plan
        self._inputs = inputs
        self._spool = spool
        self._stop = threading.Event()
        self._sinks: dict[Signal, Sink] = {}

    def _entries(self, check: AloneCheck, alone: Mapping[int, frozenset[int]]) -> Iterator[Discovered]:
        """The inputs, as the pipeline asks for them; ``check`` learns whether each is
        alone in its time (``alone``, see stages/alone.py) as it begins."""
        cap = self._plan.limits.ratio_cap
        for entry in self._inputs:
            check.start(alone.get(entry.index) if isinstance(entry, WorkItem) else None)
            yield as_input(entry, cap)

    def times(self) -> RecordTimes:
        assert self._spool is not None, "read twice: work items only"
        recorded: list[Entry | Discovered] = []
        times = self._plan.blank_times()
        for entry in self._inputs:
            recorded.append(entry)
            self._read_times(entry, times)
        self._inputs = recorded
        return times

    def identify(self, times: RecordTimes) -> None:
        found = self._plan.blank_times(identify=True)
        for entry in self._inputs:
            if isinstance(entry, WorkItem) and entry.index in times.deferred:
                self._read_times(entry, found)
        times.add_identified(found)

    def _read_times(self, entry: Entry | Discovered, times: RecordTimes) -> None:
        """The first pass over one input, into ``times``."""
        index = entry.index if isinstance(entry, WorkItem) else None
        plan_times_in(self._plan, as_input(entry, self._plan.limits.ratio_cap), times, index, mapped=True)

    def replay(self, job: Job) -> None:
        plan = self._plan
        try:
            self._sinks = sinks = build_sinks(plan, job.stats, self._stop, job.journal)
        except OSError as exc:
            raise SetupError(plan.redact(f"cannot prepare the output: {exc}")) from None
        meter = job.on_progress
        check = AloneCheck(job.check.records)
        pipeline = Pipeline(
            sinks=sinks,
            stages=stages(plan, job.offset_ns, check),
            stats=job.stats,
            counter=None if meter is None else meter.counter,
            stop=self._stop,
            mapped=True,  # one process reads: a mapped document's pages are the only ones (rawdoc.py)
        )
        if meter is None:
            pipeline.run(self._entries(check, job.alone))
            return
        meter.begin(lambda: job.stats)
        watch_retries(meter.retry)
        try:
            pipeline.run(self._entries(check, job.alone))
        finally:
            watch_retries(None)

    def interrupt(self) -> None:
        self._stop.set()
        for sink in list(self._sinks.values()):
            sink.interrupt()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def close(self) -> None:
        if self._spool is not None:
            self._spool.close()
