"""CodeMachine log records that need nothing done to them, in blocks.

Nearly every log record CodeMachine's exporter writes is *plain*: its time, severity,
string body, attributes of primitive values, lowercase hex ids and resource replay as
written, with nothing to refuse, change or point out. When a run sends such records
through no stage but the time shift (stages/alone.py and assemble.py say when), a log
document read whole is decoded into typed records (:class:`CodeMachineLog`, a tenth of
the allocations of dictionaries) and its plain records are handed on in blocks of
tuples, :class:`~otel_replay.model.PlainLogs`, that the Loki sink turns into entries directly: no record
object, no id parsed into an integer and written back as hex, no pass through the
pipeline's per-record stages. Every other record is converted by
:func:`~otel_replay.sources.codemachine.log_from_codemachine` from the dictionary
decoding would have given (:func:`as_dict`), as it always is.

:func:`plain_log` is a fast test of what ``log_from_codemachine`` would take as it is
and :meth:`~otel_replay.model.PlainLogs.record` the record it would make; tests/test_plain_logs.py checks
both against it, record for record.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Generic, TypeVar

import msgspec
from msgspec import Meta, UnsetType

from otel_replay.model import SPAN_ID_KEY, TRACE_ID_KEY, PlainLog, ResourceAttrs
from otel_replay.sources.common import (
    INT64_MAX,
    INT64_MIN,
    MAX_HRTIME_SECONDS,
    InvalidInput,
    clean_attributes,
    hrtime_to_ns,
)
from otel_replay.sources.jsondoc import Document
from otel_replay.sources.jsontext import DECODE_ERRORS
from otel_replay.sources.resources import record_resource

_UNSET = msgspec.UNSET
_NO_RAW = msgspec.Raw(b"")
_TRACE_HEX = re.compile("[0-9a-f]{32}").fullmatch
_SPAN_HEX = re.compile("[0-9a-f]{16}").fullmatch
_ZERO_TRACE, _ZERO_SPAN = "0" * 32, "0" * 16


class CodeMachineLog(msgspec.Struct, forbid_unknown_fields=True):
    """One record of a ``logs`` array as decoded: any JSON value per field (checked by
    :func:`plain_log`), unset when absent; the resource as its JSON text (checked by
    :func:`typed_document`). A field the exporter does not write refuses the document
    here: decoding would skip its value unchecked (bytes that are not UTF-8, a number
    out of range), which decoding into dictionaries refuses."""

    timestamp: Any = _UNSET
    severityNumber: Any = _UNSET
    severityText: Any = _UNSET
    body: Any = _UNSET
    attributes: Any = _UNSET
    resource: msgspec.Raw = _NO_RAW


_R = TypeVar("_R")
_Seconds = Annotated[int, Meta(ge=0, lt=MAX_HRTIME_SECONDS)]
_Nanos = Annotated[int, Meta(ge=0, le=999_999_999)]
_Int64 = Annotated[int, Meta(ge=INT64_MIN, le=INT64_MAX)]


class TypedLog(msgspec.Struct, forbid_unknown_fields=True):
    """A record as the exporter writes nearly all of them, its types checked by decoding
    (in C): a time :func:`hrtime_to_ns` takes at once, a severity number of OTel's range,
    a string body, attributes of strings, int64 integers, floats, booleans or arrays (an
    array, or a null, still judged by :func:`clean_attributes`). A document with any other
    record is decoded as :class:`CodeMachineLog` instead."""

    timestamp: tuple[_Seconds, _Nanos]
    body: str
    severityNumber: Annotated[int, Meta(ge=0, le=24)] | UnsetType | None = _UNSET
    severityText: str | UnsetType | None = _UNSET
    attributes: dict[str, str | _Int64 | float | bool | list[Any] | None] | UnsetType | None = _UNSET
    resource: msgspec.Raw = _NO_RAW


class _LogDocument(msgspec.Struct, Generic[_R], forbid_unknown_fields=True):
    """A CodeMachine log document, with the keys its exporter writes (``sessionFile``: a
    ``latest-logs.json`` copy's), its records decoded as ``_R``."""

    logs: list[_R]
    version: Any = _UNSET
    service: Any = _UNSET
    exportedAt: Any = _UNSET
    logCount: Any = _UNSET
    sessionFile: Any = _UNSET


_DOCUMENT = msgspec.json.Decoder(_LogDocument[CodeMachineLog])
_TYPED_DOCUMENT = msgspec.json.Decoder(_LogDocument[TypedLog])
_HEADER = ("version", "service", "exportedAt", "logCount", "sessionFile")


def typed_document(data: bytes) -> Document | None:
    """A CodeMachine log document read whole, its records decoded as :class:`TypedLog`
    or, when one is not, all as :class:`CodeMachineLog`; None when it is not that simple
    (a key its exporter does not write, a record that is not an object, JSON decoding
    refuses): it is then read as any other, which says why."""
    try:
        try:
            decoded: _LogDocument[TypedLog] | _LogDocument[CodeMachineLog] = _TYPED_DOCUMENT.decode(data)
        except msgspec.ValidationError:  # a record of other types (or no document of these keys)
            decoded = _DOCUMENT.decode(data)
        last = _NO_RAW
        for record in decoded.logs:  # the resources are kept as text: checked here, each once
            if record.resource != last:
                last = record.resource
                if last:
                    _DECODE(last)
    except DECODE_ERRORS:  # ValidationError is one
        return None
    present = [k for k in _HEADER if getattr(decoded, k) is not _UNSET]
    header = {k: v for k in present if not isinstance(v := getattr(decoded, k), (list, dict))}
    return Document(header, [*present, "logs"], "logs", iter(decoded.logs))


_DECODE = msgspec.json.Decoder().decode
_FIELDS = CodeMachineLog.__struct_fields__


def as_dict(obj: CodeMachineLog | TypedLog) -> dict[str, Any]:
    """The record as decoding into dictionaries gives it (the fields it has)."""
    out = {}
    for name in _FIELDS:
        value = getattr(obj, name)
        if name == "resource":
            if value:
                out[name] = _DECODE(value)
        elif name == "timestamp" and type(value) is tuple:
            out[name] = list(value)
        elif value is not _UNSET:
            out[name] = value
    return out


class Known:
    """What the records of one document share, each worked out once: its resources by
    their JSON text (what each becomes, or None when it is not plain: cleaning it would
    note something, or it is refused), and the trace ids found valid (a trace's log
    records repeat its id)."""

    def __init__(self, default: ResourceAttrs) -> None:
        self.default = default
        self.traces: set[str] = set()
        self.notes: list[str] = []  # what cleaning a record's attributes said (emptied after)
        self._resources: dict[bytes, ResourceAttrs | None] = {}
        self._last: tuple[msgspec.Raw, ResourceAttrs | None] = (_NO_RAW, default)

    def resource(self, raw: msgspec.Raw) -> ResourceAttrs | None:
        last_raw, last = self._last
        if raw == last_raw:  # most often the record before's (compared without a copy)
            return last
        text = bytes(raw)
        if not text or text == b"null":
            resource: ResourceAttrs | None = self.default
        elif text in self._resources:
            resource = self._resources[text]
        else:
            resource = self._resources[text] = _plain_resource(text, self.default)
        self._last = raw, resource
        return resource

    def new_trace(self, value: str) -> bool:
        """Whether ``value`` is a trace id as the reader takes it (noted when it is)."""
        if not _TRACE_HEX(value) or value == _ZERO_TRACE:
            return False
        if len(self.traces) < 1 << 16:
            self.traces.add(value)
        return True


def _plain_resource(text: bytes, default: ResourceAttrs) -> ResourceAttrs | None:
    notes: list[str] = []
    try:
        resource = record_resource(_DECODE(text), default, notes)
    except InvalidInput:
        return None
    return None if notes else resource


def plain_log(obj: CodeMachineLog | TypedLog, index: int, known: Known) -> PlainLog | None:
    """The record as a :data:`PlainLog`, or None when it is not plain. The time and the
    attributes are judged by the reader's own functions (a note or a change: not plain)
    or, a :class:`TypedLog`'s, by its decoding as they would judge them."""
    if type(obj) is TypedLog:
        seconds, nanos = obj.timestamp
        time_ns = seconds * 1_000_000_000 + nanos  # hrtime_to_ns's own sum
        number, text, body, attributes = obj.severityNumber, obj.severityText, obj.body, obj.attributes
        number = 0 if number is _UNSET or number is None else number
        text = None if text is _UNSET else text
        unsure = False
        if attributes:
            for value in attributes.values():
                if type(value) is list or value is None:
                    unsure = True
                    break
    else:
        try:
            time_ns = hrtime_to_ns(obj.timestamp)
        except InvalidInput:
            return None
        number = obj.severityNumber
        if number is _UNSET or number is None:
            number = 0
        elif type(number) is not int or not 0 <= number <= 24:
            return None
        text = obj.severityText
        if text is _UNSET:
            text = None
        elif text is not None and type(text) is not str:
            return None
        body = obj.body
        if type(body) is not str:
            return None
        attributes = obj.attributes
        unsure = True
    trace = span = ""
    if attributes is _UNSET or attributes is None:
        attributes = {}
    elif type(attributes) is not dict:
        return None
    elif attributes:
        if unsure:
            notes = known.notes
            if clean_attributes(attributes, "attributes", notes, None) is not attributes or notes:
                notes.clear()
                return None
        trace, span = attributes.get(TRACE_ID_KEY, ""), attributes.get(SPAN_ID_KEY, "")
        # "" is no id, as absent; any other value not an id refuses the record
        if trace != "" and (type(trace) is not str or (trace not in known.traces and not known.new_trace(trace))):
            return None
        if span != "" and (type(span) is not str or not _SPAN_HEX(span) or span == _ZERO_SPAN):
            return None
    resource = known.resource(obj.resource)
    if resource is None:
        return None
    return index, time_ns, number, text, body, attributes, trace, span, resource
