"""How the parent hands inputs out to the workers: consecutive small inputs together
(execute/inputs.py: grouped, group_limit), which the workers' tests then run."""

from __future__ import annotations

from otel_replay.execute.inputs import GROUP_BYTES, GROUP_ITEMS, WorkItem, group_limit, grouped
from otel_replay.model import FileProblem
from otel_replay.sources.discover import SkippedFile
from otel_replay.sources.streams import Location

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


def test_what_is_not_a_work_item_passes_at_once() -> None:
    skipped, problem = SkippedFile("notes.txt", "not telemetry"), FileProblem("bad.json", "not JSON")
    handed = list(grouped([_item(0, 10), skipped, _item(1, 10), problem, _item(2, 10)], MIB))
    assert _shape(handed) == ["SkippedFile", "FileProblem", [0, 1, 2]]
    assert handed[0] is skipped and handed[1] is problem


def test_few_inputs_are_shared_out_finely() -> None:
    """With their total known (after the first pass), each worker still gets eight or more
    tasks: a small run is not one task for one worker while the others wait."""
    assert group_limit(None, 2) == GROUP_BYTES
    assert group_limit(1000 * MIB, 2) == GROUP_BYTES
    assert group_limit(16 * MIB, 2) == MIB
    assert group_limit(10, 4) == 1 and group_limit(0, 2) == 1
    items = [_item(i, MIB) for i in range(16)]
    assert len(list(grouped(items, group_limit(16 * MIB, 2)))) == 16
