"""Batcher: where a batch ends, to the byte and to the item."""

from __future__ import annotations

import pytest

from otel_replay.sinks.batching import Batcher


def _batcher(max_items: int = 100, max_bytes: int = 100, base_bytes: int = 10) -> tuple[Batcher[str], list[list[str]]]:
    flushed: list[list[str]] = []
    return Batcher(flushed.append, max_items, max_bytes, base_bytes), flushed


@pytest.mark.parametrize(("max_items", "max_bytes", "base_bytes"), [(0, 100, 0), (1, 10, 10), (1, 9, 10), (0, 5, 10)])
def test_a_batcher_that_could_hold_no_item_is_refused(max_items: int, max_bytes: int, base_bytes: int) -> None:
    with pytest.raises(ValueError, match=r"^a batch must be able to hold at least one item$"):
        Batcher(list.append, max_items, max_bytes, base_bytes)


@pytest.mark.parametrize(("max_items", "max_bytes", "base_bytes"), [(1, 11, 10), (1, 1, 0), (2, 100, 99)])
def test_the_smallest_batchers_are_taken(max_items: int, max_bytes: int, base_bytes: int) -> None:
    batcher = Batcher(list.append, max_items, max_bytes, base_bytes)
    assert (batcher.pending, batcher.pending_bytes) == (0, base_bytes)


def test_the_base_cost_is_none_unless_given() -> None:
    assert Batcher(list.append, 1, 1).pending_bytes == 0


def test_a_batch_ends_when_the_next_item_would_pass_max_bytes() -> None:
    batcher, flushed = _batcher()
    batcher.add("a", 40)
    batcher.add("b", 50)  # 10 + 40 + 50 = 100: exactly full, still one batch
    assert (flushed, batcher.pending, batcher.pending_bytes) == ([], 2, 100)
    batcher.add("c", 1)
    assert flushed == [["a", "b"]] and (batcher.pending, batcher.pending_bytes) == (1, 11)
    batcher.flush()
    assert flushed == [["a", "b"], ["c"]] and (batcher.pending, batcher.pending_bytes) == (0, 10)


def test_a_batch_ends_at_max_items() -> None:
    batcher, flushed = _batcher(max_items=2, max_bytes=10**6)
    for item in "abcde":
        batcher.add(item, 1)
    batcher.flush()
    assert flushed == [["a", "b"], ["c", "d"], ["e"]]


def test_an_item_larger_than_a_batch_goes_alone() -> None:
    batcher, flushed = _batcher()
    batcher.add("small", 5)
    batcher.add("huge", 500)
    batcher.add("next", 5)
    batcher.flush()
    assert flushed == [["small"], ["huge"], ["next"]]


def test_a_group_header_costs_once_per_batch() -> None:
    batcher, flushed = _batcher()
    batcher.add("a1", 20, group="a", group_bytes=15)  # 10 + 15 + 20
    batcher.add("a2", 20, group="a", group_bytes=15)  # the header is paid: + 20
    assert batcher.pending_bytes == 65
    batcher.add("a3", 20, group="a", group_bytes=15)  # 85
    batcher.add("b1", 1, group="b", group_bytes=5)  # 85 + 5 + 1 = 91
    assert (flushed, batcher.pending_bytes) == ([], 91)
    batcher.add("b2", 9, group="b", group_bytes=5)  # 100: exactly full
    assert (flushed, batcher.pending_bytes) == ([], 100)
    batcher.add("a4", 1, group="a", group_bytes=15)  # over: a new batch pays a's header again
    assert flushed == [["a1", "a2", "a3", "b1", "b2"]] and batcher.pending_bytes == 10 + 15 + 1


def test_a_new_groups_header_can_be_what_does_not_fit() -> None:
    batcher, flushed = _batcher()
    batcher.add("x", 80)  # 90
    batcher.add("g1", 5, group="g", group_bytes=6)  # 90 + 6 + 5 = 101: over, by the header alone
    assert flushed == [["x"]] and batcher.pending_bytes == 10 + 6 + 5


def test_an_item_without_a_group_pays_no_header() -> None:
    batcher, flushed = _batcher()
    batcher.add("x", 85, group_bytes=7)
    batcher.add("y", 5, group_bytes=7)  # 100: no header counted, so it fits
    assert (flushed, batcher.pending_bytes) == ([], 100)
    batcher.add("z", 10, group_bytes=7)  # a new batch: still no header
    assert flushed == [["x", "y"]] and batcher.pending_bytes == 20


@pytest.mark.parametrize(
    ("size", "group_bytes", "fits"), [(90, 0, True), (91, 0, False), (80, 10, True), (80, 11, False), (70, 20, True)]
)
def test_fits_alone_counts_the_base_the_item_and_its_header(size: int, group_bytes: int, fits: bool) -> None:
    batcher, _ = _batcher()
    assert batcher.fits_alone(size, group_bytes) is fits
    if group_bytes == 0:
        assert batcher.fits_alone(size) is fits  # no header unless given


def test_discard_forgets_the_pending_batch() -> None:
    batcher, flushed = _batcher()
    batcher.add("a", 30, group="g", group_bytes=5)
    batcher.discard()
    assert (batcher.pending, batcher.pending_bytes) == (0, 10)
    batcher.add("b", 30, group="g", group_bytes=5)  # the group's header is counted again
    assert batcher.pending_bytes == 45
    batcher.flush()
    batcher.flush()  # nothing pending: nothing sent
    assert flushed == [["b"]]


def test_a_group_costs_nothing_unless_its_header_is_given() -> None:
    batcher, flushed = _batcher()
    batcher.add("a", 45, group="g")
    batcher.add("b", 45, group="h")  # 10 + 45 + 45 = 100: no header counted, so it fits
    assert (flushed, batcher.pending_bytes) == ([], 100)
