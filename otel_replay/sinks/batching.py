"""Batching by count and by bytes: the one place that decides where a batch ends."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class Batcher(Generic[T]):
    """Collects items until one more would pass ``max_items`` or ``max_bytes``, then
    hands the batch to ``flush``.

    ``base_bytes`` is the fixed cost of an empty batch. An item may name a ``group``
    (a resource, a Loki stream) whose header costs ``group_bytes`` once per batch.
    """

    def __init__(self, flush: Callable[[list[T]], None], max_items: int, max_bytes: int, base_bytes: int = 0) -> None:
        if max_items < 1 or max_bytes <= base_bytes:
            raise ValueError("a batch must be able to hold at least one item")
        self._flush = flush
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.base_bytes = base_bytes
        self._items: list[T] = []
        self._groups: set[Hashable] = set()
        self._bytes = base_bytes

    def fits_alone(self, size: int, group_bytes: int = 0) -> bool:
        return size <= self.room(group_bytes)

    def room(self, group_bytes: int = 0) -> int:
        """The size of the largest item of a group of ``group_bytes`` that fits alone."""
        return self.max_bytes - self.base_bytes - group_bytes

    def add(self, item: T, size: int, group: Hashable = None, group_bytes: int = 0) -> None:
        extra = group_bytes if group is not None and group not in self._groups else 0
        if self._items and (len(self._items) >= self.max_items or self._bytes + size + extra > self.max_bytes):
            self.flush()
            extra = group_bytes if group is not None else 0
        self._items.append(item)
        self._bytes += size + extra
        if group is not None:
            self._groups.add(group)

    @property
    def pending(self) -> int:
        return len(self._items)

    @property
    def pending_bytes(self) -> int:
        return self._bytes

    def flush(self) -> None:
        if not self._items:
            return
        items, self._items, self._bytes = self._items, [], self.base_bytes
        self._groups = set()
        self._flush(items)

    def discard(self) -> None:
        """Forget the pending batch (an interrupted run)."""
        self._items, self._bytes, self._groups = [], self.base_bytes, set()
