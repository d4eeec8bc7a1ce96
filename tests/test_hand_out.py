"""How the parent hands inputs out to the workers: consecutive small inputs together
(execute/inputs.py: grouped, group_limit), and how the parent's side of a worker's pipe
keeps such a task (execute/hub.py); the workers' tests run them end to end."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from otel_replay.execute.hub import Hub, Turns
from otel_replay.execute.inputs import (
    GROUP_BYTES,
    GROUP_ITEMS,
    UNMEASURED_GROUP_BYTES,
    Spool,
    WorkItem,
    group_limit,
    grouped,
)
from otel_replay.execute.worker import Replay
from otel_replay.model import FileProblem
from otel_replay.sources.discover import SkippedFile
from otel_replay.sources.members import ArchiveLimits
from otel_replay.sources.streams import Location
from otel_replay.stats import RunStats

MIB = 1 << 20


def _item(index: int, size: int | None, name: str = "") -> WorkItem:
    return WorkItem(index, name or f"in/{index:02d}-logs.json", Location(f"/in/{index}"), size)


def _shape(handed: list[object]) -> list[object]:
    return [[i.index for i in h] if isinstance(h, tuple) else type(h).__name__ for h in handed]


def test_small_inputs_go_together_up_to_the_limit_in_order() -> None:
    items = [_item(i, MIB) for i in range(10)]
    assert _shape(list(grouped(items, 4 * MIB))) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert _shape(list(grouped(items, 1))) == [[i] for i in range(10)]  # each alone
    assert _shape(list(grouped([_item(0, 9 * MIB), _item(1, 1)], 4 * MIB))) == [[0], [1]]  # a large one alone
    assert _shape(list(grouped([_item(0, MIB), _item(1, 9 * MIB), _item(2, MIB)], 4 * MIB))) == [[0], [1], [2]]
    assert _shape(list(grouped([_item(0, 3 * MIB), _item(1, 2 * MIB)], 4 * MIB))) == [[0], [1]]  # never past it


def test_a_task_holds_at_most_group_items_inputs() -> None:
    items = [_item(i, 0) for i in range(GROUP_ITEMS + 3)]  # empty files: no limit in bytes reached
    assert _shape(list(grouped(items, GROUP_BYTES))) == [list(range(GROUP_ITEMS)), [16, 17, 18]]


def test_an_input_of_unknown_size_goes_alone() -> None:
    items = [_item(0, 10), _item(1, None), _item(2, 10), _item(3, 10)]
    assert _shape(list(grouped(items, MIB))) == [[0], [1], [2, 3]]


def test_a_latest_copy_starts_a_task_of_its_own_kind() -> None:
    """Copies are handed out once every input before them is done (workers.py): a task that
    mixed them with those inputs would wait for itself."""
    items = [_item(0, 10), _item(1, 10), _item(2, 10, "in/latest-logs.json"), _item(3, 10, "in/latest.json")]
    assert _shape(list(grouped(items, MIB))) == [[0, 1], [2, 3]]
    after = [_item(0, 10, "in/latest.json"), _item(1, 10)]  # an input that cannot wait, after a copy (stdin)
    assert _shape(list(grouped(after, MIB))) == [[0, 1]]  # everything after the first copy waits anyway


def test_what_is_not_a_work_item_passes_at_once() -> None:
    skipped, problem = SkippedFile("notes.txt", "not telemetry"), FileProblem("bad.json", "not JSON")
    handed = list(grouped([_item(0, 10), skipped, _item(1, 10), problem, _item(2, 10)], MIB))
    assert _shape(handed) == ["SkippedFile", "FileProblem", [0, 1, 2]]
    assert handed[0] is skipped and handed[1] is problem


def test_few_inputs_are_shared_out_finely() -> None:
    """With their total known (after the first pass), each worker still gets eight or more
    tasks: a small run is not one task for one worker while the others wait."""
    assert group_limit(None, 2) == UNMEASURED_GROUP_BYTES < GROUP_BYTES  # not measured (--time-offset): smaller
    assert group_limit(1000 * MIB, 2) == GROUP_BYTES
    assert group_limit(16 * MIB, 2) == MIB
    assert group_limit(10, 4) == 1 and group_limit(0, 2) == 1
    items = [_item(i, MIB) for i in range(16)]
    assert len(list(grouped(items, group_limit(16 * MIB, 2)))) == 16


class _Shared:
    value = 0


def _hub() -> tuple[Hub, Any]:
    """The parent's side of one worker's pipe, without the worker (what it says is given)."""
    started = SimpleNamespace(conns=[None], processes=[None], lifelines=[])
    hub = Hub(started, Turns(_Shared()), Spool(ArchiveLimits(), copy_compressed=False), reads_twice=False)  # type: ignore[arg-type]
    return hub, hub.peers[0]


def test_the_progress_line_names_the_input_of_a_task_being_read() -> None:
    hub, peer = _hub()
    hub.tasks.put(Replay((_item(0, 10), _item(1, 10), _item(2, 10)), 0))
    hub._next(peer)
    assert hub.reading() == ["in/00-logs.json"]
    hub._answer(peer, ("read", 0, RunStats().snapshot()))
    assert hub.reading() == ["in/01-logs.json"]
    hub._answer(peer, ("read", 1, RunStats().snapshot()))
    assert hub.reading() == ["in/02-logs.json"]
    hub._answer(peer, ("done", RunStats().snapshot()))
    assert hub.reading() == []


def test_a_task_is_done_whole_even_when_its_worker_stopped_reading_it() -> None:
    """A worker stopped (Ctrl-C) in the first input of its task reads no more of it: every
    input of the task is done, or a later task's turn to push to Loki would never come."""
    hub, peer = _hub()
    hub.tasks.put(Replay((_item(3, 10), _item(4, 10), _item(5, 10)), 0))
    hub.turns.done(0), hub.turns.done(1), hub.turns.done(2)
    hub._next(peer)
    assert not hub.turns.reached(6, 0)
    hub._answer(peer, ("done", RunStats().snapshot()))  # after the first input alone
    assert hub.turns.reached(6, 0)
