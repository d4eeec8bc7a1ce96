"""The times of a CodeMachine span or log document, read without converting its records.

The default time choice (timechoice.py) first reads every input for its oldest and
newest instants. Converting every record for that cost as much as a third of a logs
replay; this reader decodes only the time fields (msgspec skips the rest in C) and checks
them with the converters' own functions, so a record the replay refuses for its times
(negative, too late for OTLP, an end before its start, an event without a time) is left
out here as it is there. A record the replay refuses for something else (an id, a name)
is not known here: its times count. A log record older than what Loki shows at once is
told from its copies (a ``latest*.json``) by its time and a CRC of its bytes, not by its converted
content, as the copy is written by the same exporter.

A document too large to read whole is streamed as the replay streams it, a stretch of
records at a time. The spans of OTLP/JSON are read the same way, by
:mod:`~otel_replay.sources.otlp_times`. Anything else — another format, a cut document read whole, a field of
an unexpected type in one — answers False: the caller converts the records instead.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Annotated, Any, BinaryIO

import msgspec
from msgspec import Meta

from otel_replay.model import Signal
from otel_replay.sources.codemachine import classify
from otel_replay.sources.common import MAX_HRTIME_SECONDS, InvalidInput, hrtime_to_ns, ms_to_ns
from otel_replay.sources.jsondoc import WHOLE_DOCUMENT_BYTES, DocumentError, read_document, read_head
from otel_replay.sources.jsontext import (
    BOM,
    DECODE_ERRORS,
    RECORD_ARRAYS,
    START_BYTES,
    first_array_key,
    first_line_object,
    peek_start,
    spans_first,
)
from otel_replay.sources.members import InputFile
from otel_replay.sources.otlp_times import Range, groups_range, lines_range, request_range
from otel_replay.sources.rawdoc import numbered
from otel_replay.sources.streams import Part, Stride


class _Event(msgspec.Struct):
    time: Any = None


class _Span(msgspec.Struct):
    startTime: Any = None
    endTime: Any = None
    events: list[_Event] | None = None


class _Log(msgspec.Struct):
    timestamp: Any = None


class _TimedLog(msgspec.Struct):
    """A log record whose time hrtime_to_ns takes at once (what the exporter writes)."""

    timestamp: tuple[Annotated[int, Meta(ge=0, lt=MAX_HRTIME_SECONDS)], Annotated[int, Meta(ge=0, le=999_999_999)]]


class _TimedLogDocument(msgspec.Struct):
    """A log document as its exporter writes it, read for its times alone in one decode:
    its ``logs``, each time as :class:`_TimedLog` takes it. With a ``spans`` array (which
    outranks ``logs``) it is read the long way."""

    logs: list[_TimedLog]
    spans: msgspec.Raw = msgspec.Raw(b"")  # empty: absent


_TOP = msgspec.json.Decoder(dict[str, msgspec.Raw])
_TIMED_LOG_DOCUMENT = msgspec.json.Decoder(_TimedLogDocument)
_SPANS = msgspec.json.Decoder(list[_Span])
_LOGS = msgspec.json.Decoder(list[_Log])
_TIMED_LOGS = msgspec.json.Decoder(list[_TimedLog])
_STAMP = attrgetter("timestamp")
_RAWS = msgspec.json.Decoder(list[msgspec.Raw])
_ENCODE = msgspec.json.Encoder().encode
_ARRAYS = {"spans": Signal.TRACES, "logs": Signal.LOGS}
#: Records of a streamed document converted at a time.
STRETCH = 1024


@dataclass(slots=True)
class DocumentTimes:
    """What :func:`document_times` found in one document, or in one stretch of a streamed one."""

    #: None: the document holds a signal not asked for (nothing of it counts).
    signal: Signal | None
    #: Spans: the first and last instant of each one the replay can send, in pairs
    #: (``[first, last, first, last, …]``); log records: each one's time (0: none, or refused).
    times: list[int] = field(default_factory=list)
    #: Log records read whole: the JSON of their document (its ``logs`` split only when
    #: some are old and their identities are asked).
    document: bytes = b""
    #: Log records streamed: the records themselves, decoded.
    decoded: list[Any] | None = None
    _records: list[msgspec.Raw] | None = None

    def identities(self, indices: list[int]) -> list[int]:
        """The log records' identities here, by their indices: each one's time, the length
        of its bytes and their CRC-32 (re-encoded when it was streamed, so a streamed copy
        is told as its original is). Two records told as one would have to share the
        nanosecond, the length and the CRC; it only counts the records Loki would not
        show, and costs a third of a digest."""
        if self.decoded is not None:
            raws = [_ENCODE(self.decoded[i]) for i in indices]
        else:
            if self._records is None:
                self._records = _RAWS.decode(_TOP.decode(self.document)["logs"])
            raws = list(map(self._records.__getitem__, indices))
        times, crc = self.times, zlib.crc32
        return [times[i] << 64 | len(raw) << 32 | crc(raw) for i, raw in zip(indices, raws, strict=True)]


def document_times(
    item: InputFile, signals: frozenset[Signal], found: Callable[[DocumentTimes], None], mapped: bool = False
) -> bool:
    """Hand ``found`` the times of a CodeMachine span or log document (once when read
    whole, a stretch at a time when streamed or ``mapped``: see :func:`read_input`), or
    those of the spans of OTLP/JSON (:mod:`~otel_replay.sources.otlp_times`); False, having
    handed nothing, when this reader cannot tell (the records must be converted)."""
    if isinstance(item.part, Part):  # a part of JSON Lines
        return _otlp_lines(item, signals, found)
    share = (item.part.index, item.part.of) if isinstance(item.part, Stride) else (0, 1)  # a large trace document's
    try:
        with item.open() as stream:
            if Signal.TRACES not in signals and spans_first(peek_start(stream)):  # as the replay, read no further
                found(DocumentTimes(None))
                return True
            data = read_head(stream, item.size)
        if first_line_object(data) is not None:
            return _otlp_lines(item, signals, found)
        if len(data) > WHOLE_DOCUMENT_BYTES:
            with item.open() as stream:
                return _streamed(stream, signals, found, mapped, share)
        read = _whole(data, signals) if share == (0, 1) else None
    except (OSError, DocumentError, *DECODE_ERRORS):
        return False
    if read is not None:
        found(read)
    return read is not None


def _otlp_lines(item: InputFile, signals: frozenset[Signal], found: Callable[[DocumentTimes], None]) -> bool:
    """OTLP JSON Lines (or a part of them) of spans alone; False for anything else."""
    seen = Range()
    with item.open() as stream:
        if not lines_range(stream, seen):
            return False
    found(DocumentTimes(Signal.TRACES, seen.pairs()) if Signal.TRACES in signals else DocumentTimes(None))
    return True


def _spans_request(signals: frozenset[Signal], read: Callable[[Range], object]) -> DocumentTimes | None:
    """The times an OTLP/JSON request of spans gives, as ``read`` adds them to a range."""
    if Signal.TRACES not in signals:
        return DocumentTimes(None)
    seen = Range()
    return None if read(seen) is False else DocumentTimes(Signal.TRACES, seen.pairs())


def _up_to_a_break(read: Callable[..., None], *args: Any) -> None:
    with contextlib.suppress(DocumentError):  # the replay reads up to a break too, and says why
        read(*args)


def _whole(data: bytes, signals: frozenset[Signal]) -> DocumentTimes | None:
    if data.startswith(BOM):
        return None
    if Signal.LOGS in signals and first_array_key(data[:START_BYTES]) == "logs":  # not a span document's decode
        with contextlib.suppress(msgspec.ValidationError):  # not that simple: the long way says
            logs = _TIMED_LOG_DOCUMENT.decode(data)
            if not logs.spans:
                return DocumentTimes(Signal.LOGS, _stamps(logs.logs), data)
    top = _TOP.decode(data)
    array_key = next((k for k in RECORD_ARRAYS if k in top), None)
    if array_key == "resourceSpans":
        return _spans_request(signals, lambda seen: request_range(data, seen))
    signal = _ARRAYS.get(array_key)  # type: ignore[arg-type]
    if signal is None:
        return None  # metrics, OTLP/JSON or not telemetry: the readers say
    if signal not in signals:
        return DocumentTimes(None)
    raw = top[array_key]  # type: ignore[index]
    if signal is Signal.TRACES:
        return DocumentTimes(signal, span_times(_SPANS.decode(raw)))
    try:  # every time as the exporter writes them: in C loops
        times = _stamps(_TIMED_LOGS.decode(raw))
    except msgspec.ValidationError:
        times = log_times(_LOGS.decode(raw))
    return DocumentTimes(signal, times, data)


def _stamps(logs: list[_TimedLog]) -> list[int]:
    return [sec * 1_000_000_000 + nanos for sec, nanos in map(_STAMP, logs)]


def _streamed(
    stream: BinaryIO,
    signals: frozenset[Signal],
    found: Callable[[DocumentTimes], None],
    mapped: bool,
    share: tuple[int, int],
) -> bool:
    """A document too large to read whole, streamed as the replay streams it: each
    stretch of records converted to their time fields alone. A record that is not an
    object, or whose events are not objects, is refused by the replay: left out here.
    Where the document stops being JSON, so do its times (the replay reads up to there).
    ``share``: (K, N), only records K, K + N, K + 2N … (a stride's: the others are not decoded)."""
    doc = read_document(stream, mapped=mapped)
    signal = classify(doc) if doc.lines is None and not doc.notes else None
    if signal is None and doc.lines is None and not doc.notes and doc.array_key == "resourceSpans":
        found(_spans_request(signals, lambda seen: _up_to_a_break(groups_range, doc.items, seen, share)))
        return True
    if signal not in (Signal.TRACES, Signal.LOGS):
        return False
    if signal not in signals:
        found(DocumentTimes(None))
        return True
    stretch: list[Any] = []
    try:
        for _, obj in numbered(doc.items, [0], *share):
            stretch.append(obj)
            if len(stretch) == STRETCH:
                found(_stretch_times(signal, stretch))
                stretch = []
    except DocumentError:
        pass  # the replay reads up to here too, and says why
    if stretch:
        found(_stretch_times(signal, stretch))
    return True


def _stretch_times(signal: Signal, stretch: list[Any]) -> DocumentTimes:
    kind = _Span if signal is Signal.TRACES else _Log
    try:
        typed = msgspec.convert(stretch, list[kind])  # type: ignore[valid-type]
    except msgspec.ValidationError:
        typed, stretch = _each(stretch, kind)
    if signal is Signal.TRACES:
        return DocumentTimes(signal, span_times(typed))
    return DocumentTimes(signal, log_times(typed), decoded=stretch)


def _each(stretch: list[Any], kind: type) -> tuple[list[Any], list[Any]]:
    """The records of ``stretch`` that convert to ``kind``, and those records as decoded."""
    typed, kept = [], []
    for obj in stretch:
        with contextlib.suppress(msgspec.ValidationError):
            typed.append(msgspec.convert(obj, kind))
            kept.append(obj)
    return typed, kept


def span_times(spans: list[_Span]) -> list[int]:
    """The first and last instant of each span with valid times, in pairs."""
    out: list[int] = []
    for span in spans:
        try:
            first, last = ms_to_ns(span.startTime, "startTime"), ms_to_ns(span.endTime, "endTime")
            if last < first:
                continue
            for event in span.events or ():
                if event.time is None:
                    raise InvalidInput("an event has no time")
                at = ms_to_ns(event.time, "time")
                first, last = min(first, at), max(last, at)
        except InvalidInput:
            continue
        out += (first, last)
    return out


def log_times(logs: list[_Log]) -> list[int]:
    """Each log record's time in nanoseconds; 0 for none, or one the replay refuses."""
    out = [0] * len(logs)
    for i, log in enumerate(logs):
        try:
            out[i] = hrtime_to_ns(log.timestamp)
        except InvalidInput:
            continue  # refused by the replay: no time here
    return out
