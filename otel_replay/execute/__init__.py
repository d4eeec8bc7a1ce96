"""Executors: what runs a plan's inputs, in this process (inprocess.py) or in worker
processes (workers.py), behind one interface (base.py). :func:`choose` is the one place
that decides which."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import replace
from typing import BinaryIO

from otel_replay.execute.base import Executor, Job, SetupError
from otel_replay.execute.inprocess import InProcess
from otel_replay.execute.inputs import Entry, Spool, WorkItem, copies_last
from otel_replay.execute.workers import Workers
from otel_replay.plan import RunPlan
from otel_replay.sources.discover import PART_BYTES, Discovered, discover
from otel_replay.sources.shares import this_share

__all__ = ["Executor", "Job", "SetupError", "choose", "discovered"]


def choose(plan: RunPlan, stdin: BinaryIO | None, reads_twice: bool, verbose: bool = False) -> Executor:
    """The executor for this run. Worker processes (``--workers``) read the inputs, but
    one process reads stdin and writes ``--output`` (one file per signal), and one process
    is enough when discovery finds fewer than two inputs to share. ``reads_twice``: the
    run makes ``--shift-to-now``'s first pass."""
    if plan.workers <= 1 or stdin is not None or plan.mode == "output":
        found = copies_last(discovered(plan, stdin), plan.limits.ratio_cap)
        if not reads_twice:
            return InProcess(plan, found)
        spool = Spool(plan.limits, copy_compressed=True)
        return InProcess(plan, spool.items(found), spool)
    plan = replace(plan, walk=replace(plan.walk, part_bytes=PART_BYTES))  # a large JSON Lines file is shared
    spool = Spool(plan.limits, copy_compressed=reads_twice)
    entries = spool.items(copies_last(discovered(plan, None), plan.limits.ratio_cap))
    ahead, inputs = _look_ahead(entries, plan.workers)
    if inputs < 2:
        return InProcess(plan, ahead, spool)  # discovery is over: these are all
    return Workers(plan, itertools.chain(ahead, entries), inputs, spool, reads_twice, verbose)


def discovered(plan: RunPlan, stdin: BinaryIO | None) -> Iterator[Discovered]:
    """What discovery finds in the plan's PATHs; with ``--shard``, this share of it, a
    large JSON Lines file cut into the same parts on every machine whatever its --workers."""
    if plan.shard is None:
        return discover(plan.paths, stdin, plan.limits, plan.walk)
    walk = replace(plan.walk, part_bytes=PART_BYTES)
    return this_share(plan.paths, plan.shard, lambda path: discover([path], stdin, plan.limits, walk))


def _look_ahead(entries: Iterator[Entry], wanted: int) -> tuple[list[Entry], int]:
    """The entries up to the ``wanted``-th work item (or all), and how many work items."""
    ahead: list[Entry] = []
    inputs = 0
    for entry in entries:
        ahead.append(entry)
        if isinstance(entry, WorkItem):
            inputs += 1
            if inputs >= wanted:
                break
    return ahead, inputs
