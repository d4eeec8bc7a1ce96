"""The times of a CodeMachine span or log document, read without converting its records.

The default time choice (timechoice.py) first reads every input for its oldest and
newest instants. Converting every record for that cost as much as a third of a logs
replay; this reader decodes only the time fields (msgspec skips the rest in C) and checks
them with the converters' own functions, so a record the replay refuses for its times
(negative, too late for OTLP, an end before its start, an event without a time) is left
out here as it is there. A record the replay refuses for something else (an id, a name)
is not known here: its times count. A log record older than what Loki shows at once is
told from its copies (a ``latest*.json``) by a digest of its bytes, not of its converted
content, as the copy is written by the same exporter.

Anything else — another format, a document too large to read whole, a cut one, a field
of an unexpected type — answers None: the caller converts the records instead.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import msgspec

from otel_replay.model import Signal
from otel_replay.sources.common import InvalidInput, hrtime_to_ns, ms_to_ns
from otel_replay.sources.jsondoc import BOM, RECORD_ARRAYS, WHOLE_DOCUMENT_BYTES
from otel_replay.sources.members import InputFile


class _Event(msgspec.Struct):
    time: Any = None


class _Span(msgspec.Struct):
    startTime: Any = None
    endTime: Any = None
    events: list[_Event] | None = None


class _Log(msgspec.Struct):
    timestamp: Any = None


_TOP = msgspec.json.Decoder(dict[str, msgspec.Raw])
_SPANS = msgspec.json.Decoder(list[_Span])
_LOGS = msgspec.json.Decoder(list[_Log])
_RAWS = msgspec.json.Decoder(list[msgspec.Raw])
_ARRAYS = {"spans": Signal.TRACES, "logs": Signal.LOGS}


@dataclass(slots=True)
class DocumentTimes:
    """What :func:`document_times` found in one document."""

    #: None: the document holds a signal not asked for (nothing of it counts).
    signal: Signal | None
    #: Spans: the first and last instant of each one the replay can send, in pairs
    #: (``[first, last, first, last, …]``); log records: each one's time (0: none, or refused).
    times: list[int]
    #: Log records: the JSON of their array (split into records only when some are old).
    array: bytes = b""
    _records: list[msgspec.Raw] | None = None

    def identity(self, i: int) -> bytes:
        """The i-th log record's identity here: 128 bits of its bytes."""
        if self._records is None:
            self._records = _RAWS.decode(self.array)
        return hashlib.blake2b(self._records[i], digest_size=16).digest()


def document_times(item: InputFile, signals: frozenset[Signal]) -> DocumentTimes | None:
    """The times of a CodeMachine span or log document read whole; None when this reader
    cannot tell (the records must be converted)."""
    if item.part is not None:
        return None
    try:
        with item.open() as stream:
            data = stream.read(WHOLE_DOCUMENT_BYTES + 1)
        if len(data) > WHOLE_DOCUMENT_BYTES or data.startswith(BOM):
            return None
        top = _TOP.decode(data)
        array_key = next((k for k in RECORD_ARRAYS if k in top), None)
        signal = _ARRAYS.get(array_key)  # type: ignore[arg-type]
        if signal is None:
            return None  # metrics, OTLP/JSON or not telemetry: the readers say
        if signal not in signals:
            return DocumentTimes(None, [])
        raw = top[array_key]  # type: ignore[index]
        if signal is Signal.TRACES:
            return DocumentTimes(signal, span_times(_SPANS.decode(raw)))
        return DocumentTimes(signal, log_times(_LOGS.decode(raw)), bytes(raw))
    except (OSError, msgspec.DecodeError, UnicodeDecodeError, RecursionError, ValueError):
        return None


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
