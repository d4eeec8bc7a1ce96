"""The time range of the spans of OTLP/JSON requests (documents, JSON Lines), read
without converting them: the first pass of the default time choice (timechoice.py).

As :mod:`~otel_replay.sources.times` does for CodeMachine documents, this decodes only
the time fields (msgspec skips the rest in C) and checks them with the converter's own
function, so a span the replay refuses for its times (not an integer, out of range, an
end before its start, an event whose time is not one) is left out here as it is there;
a span refused for something else (an id, a name, its group's resource) is not known
here: its times count. Only spans: the first earliest, the last latest instant is all
the first pass keeps of them. A request of another shape (a group that is not an
object, spans that are not an array…), or of log records or metrics, answers None: the
caller converts the records instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import msgspec

from otel_replay.sources.common import InvalidInput
from otel_replay.sources.jsontext import DECODE_ERRORS
from otel_replay.sources.otlp_values import integer
from otel_replay.sources.outline import StreamedRecords
from otel_replay.sources.rawdoc import MappedRecords, numbered


class _Event(msgspec.Struct):
    timeUnixNano: Any = 0


class _Span(msgspec.Struct):
    startTimeUnixNano: Any = 0
    endTimeUnixNano: Any = 0
    events: list[_Event] | None = None


class _Block(msgspec.Struct):
    spans: list[_Span] | None = None


class _Group(msgspec.Struct):
    scopeSpans: list[_Block] | None = None


class _Request(msgspec.Struct):
    resourceSpans: list[_Group] | msgspec.UnsetType = msgspec.UNSET
    resourceLogs: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    resourceMetrics: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET


_REQUEST = msgspec.json.Decoder(_Request)


class Range:
    """The earliest and latest instant of the spans seen (None before the first)."""

    __slots__ = ("first", "last")

    def __init__(self) -> None:
        self.first: int | None = None
        self.last: int | None = None

    def pairs(self) -> list[int]:
        """As :class:`~otel_replay.sources.times.DocumentTimes` holds spans' times."""
        return [] if self.first is None or self.last is None else [self.first, self.last]

    def add(self, start: Any, end: Any, event_times: Iterable[Any]) -> None:
        """One span's times as written, when the replay takes them."""
        try:
            first = integer(start, "startTimeUnixNano")
            last = integer(end, "endTimeUnixNano")
            if last < first:
                return
            for value in event_times:
                at = integer(value, "timeUnixNano")
                first, last = min(first, at), max(last, at)
        except InvalidInput:
            return
        self.first = first if self.first is None else min(self.first, first)
        self.last = last if self.last is None else max(self.last, last)


def request_range(data: bytes | memoryview, seen: Range) -> bool:
    """The spans of one OTLP/JSON request (a document, or a line of JSON Lines) added to
    ``seen``; False when it is not a request of spans this reader takes."""
    try:
        request = _REQUEST.decode(data)
    except DECODE_ERRORS:
        return False
    if request.resourceSpans is msgspec.UNSET:
        return request.resourceLogs is msgspec.UNSET and request.resourceMetrics is msgspec.UNSET  # nothing to time
    for group in request.resourceSpans:
        for block in group.scopeSpans or ():
            for span in block.spans or ():
                seen.add(span.startTimeUnixNano, span.endTimeUnixNano, (e.timeUnixNano for e in span.events or ()))
    return True


def lines_range(lines: Iterable[bytes], seen: Range) -> bool:
    """The spans of OTLP JSON Lines added to ``seen``; False at the first line this reader
    does not take (the caller then converts the whole input)."""
    return all(request_range(line, seen) for line in lines if line.strip())


def groups_range(groups: Iterator[Any], seen: Range, share: tuple[int, int] = (0, 1)) -> None:
    """The spans of a ``resourceSpans`` array streamed or mapped (its groups decoded, their
    records one by one: :mod:`~otel_replay.sources.jsondoc`) added to ``seen``; with
    ``share`` (K, N), spans K, K + N … of the document only. What the replay refuses for its
    shape (a group, a block, a span, an event) is left out, as there."""
    counter = [0]
    for group in groups:
        blocks = group.get("scopeSpans") if isinstance(group, dict) else None
        for block in blocks if isinstance(blocks, list) else ():
            spans = block.get("spans") if isinstance(block, dict) else None
            if isinstance(spans, (list, StreamedRecords, MappedRecords)):
                _spans_range((span for _, span in numbered(spans, counter, *share)), seen)


def _spans_range(spans: Iterable[Any], seen: Range) -> None:
    for span in spans:
        events = span.get("events") if isinstance(span, dict) else ()
        if not isinstance(span, dict) or not isinstance(events, (list, type(None))):
            continue
        if events and not all(isinstance(e, dict) for e in events):
            continue
        start, end = span.get("startTimeUnixNano", 0), span.get("endTimeUnixNano", 0)
        seen.add(start, end, (e.get("timeUnixNano", 0) for e in events or ()))
