"""A streamed OTLP/JSON document's outline: its resource groups and scope blocks, without
their records.

An OTLP/JSON request nests its records two levels down (``resourceSpans[].scopeSpans[].spans[]``),
and a group's ``schemaUrl`` comes after its records when the writer follows protobuf's field
order, as the Collector's does. Streaming such a document one resource group at a time
builds a whole group in memory: a 140 MB request of one group took 1.2 GB. So the scan
that reads a large document to its end anyway (:func:`otel_replay.sources.jsondoc._scan`)
takes its outline on the way: every group and scope block is built with its small fields,
and in place of each records array it puts a :class:`StreamedRecords` that knows only how
many items the array holds. The records themselves are then streamed one at a time
(``ijson.items`` at the records' prefix) and handed out to the arrays in document order.
"""

from __future__ import annotations

import collections
from collections.abc import Generator, Iterator
from typing import Any

import ijson

#: Top-level OTLP/JSON arrays → (the scope blocks' key, the records' key).
NESTED = {
    "resourceSpans": ("scopeSpans", "spans"),
    "resourceLogs": ("scopeLogs", "logRecords"),
    "resourceMetrics": ("scopeMetrics", "metrics"),
}
#: The events that start a value (an array item) in ijson's event stream.
_VALUE_STARTS = frozenset(("start_map", "start_array", "string", "number", "boolean", "null"))
_END = object()


def records_prefix(key: str) -> str:
    """ijson's prefix of every record of the top-level array ``key``."""
    scoped, records = NESTED[key]
    return f"{key}.item.{scoped}.item.{records}.item"


class _Cursor:
    """Where the shared stream of records is: the records of every array, in document order."""

    def __init__(self) -> None:
        self.records: Iterator[Any] = iter(())
        self.position = 0

    def take(self, start: int, count: int) -> Iterator[Any]:
        while self.position < start:  # an array nobody read (its group or block was refused)
            if next(self.records, _END) is _END:
                return
            self.position += 1
        if self.position > start:
            raise RuntimeError("the records of a streamed document were read out of order")
        for _ in range(count):
            item = next(self.records, _END)
            if item is _END:
                return
            self.position += 1
            yield item


class StreamedRecords:
    """A records array of a streamed document: ``count`` items, iterated once, in turn."""

    __slots__ = ("_cursor", "count", "start")

    def __init__(self, cursor: _Cursor, start: int) -> None:
        self._cursor = cursor
        self.start = start
        self.count = 0

    def __iter__(self) -> Iterator[Any]:
        return self._cursor.take(self.start, self.count)


class Outline:
    """The groups of the top-level array ``key`` as :meth:`read` builds them; ``groups``
    holds what was read so far (the whole of a document cut part-way is not there)."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.groups: list[Any] = []
        self._cursor = _Cursor()
        scoped, records = NESTED[key]
        self._array = f"{key}.item.{scoped}.item.{records}"
        self._item = self._array + ".item"

    def read(self, events: Iterator[tuple[str, str, Any]]) -> None:
        """Consume the array's events, from the one after its ``start_array`` to its end."""
        builder: ijson.ObjectBuilder | None = None
        array_at, total = self._array, 0
        for prefix, event, value in events:
            if prefix == self.key and event == "end_array":  # only the array's own end has its prefix
                return
            if builder is None or not builder.containers:  # between groups: this event starts one
                builder = ijson.ObjectBuilder()
                builder.event(event, value)
                self.groups.append(builder.value)
            elif prefix == array_at and event == "start_array":
                records = StreamedRecords(self._cursor, total)
                builder.event("number", records)  # any value in the array's place
                total += self._count(events, records)
            else:
                builder.event(event, value)

    def _count(self, events: Iterator[tuple[str, str, Any]], records: StreamedRecords) -> int:
        array_at, item_at = self._array, self._item
        for prefix, event, _ in events:
            if prefix == item_at:
                if event in _VALUE_STARTS:
                    records.count += 1
            elif prefix == array_at and event == "end_array":
                break
        return records.count

    def stream(self, records: Generator[Any, None, None]) -> Iterator[Any]:
        """The groups, their arrays reading from ``records`` (every record of the document,
        in order: ``ijson.items`` at :func:`records_prefix`), which is closed at the end."""
        self._cursor.records = records
        try:
            yield from self.groups
            collections.deque(records, maxlen=0)  # to the end: what follows the document is checked there
        finally:
            records.close()
