"""Sources: readers that stream records out of input files.

:func:`read_input` opens one discovered file, works out what it holds from its content
(never from its name alone) and hands it to the reader for that format. Anything that
goes wrong becomes a :class:`~otel_replay.model.FileProblem` item (or, for one record,
an :class:`~otel_replay.model.InvalidRecord`), never an exception. A JSON document that
is not telemetry at all (:mod:`~otel_replay.sources.claims`) is a
:class:`~otel_replay.sources.discover.SkippedFile`: ignored, not a problem.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from typing import Any

from otel_replay.model import SIGNAL_OF, FileProblem, FileStart, PlainLogs, Signal, SourceItem
from otel_replay.sources.claims import claims_telemetry, not_telemetry
from otel_replay.sources.codemachine import classify, read_codemachine
from otel_replay.sources.codemachine_metrics import read_metrics
from otel_replay.sources.discover import DECOMPRESS_ERRORS, InputFile, SkippedFile
from otel_replay.sources.jsondoc import CutDocument, Document, DocumentError, read_document
from otel_replay.sources.otlp_json import OTLP_ARRAYS, read_otlp, read_otlp_lines
from otel_replay.sources.plainlogs import typed_document
from otel_replay.sources.streams import Part, Stride

_READ_ERRORS = (*DECOMPRESS_ERRORS, zipfile.BadZipFile, RuntimeError)
#: The documents read into records of their own types when plain log records are asked for.
_TYPED = {"logs": typed_document}
#: The start of the problem line of an exception a reader let out (a bug: readers turn
#: every flaw of their input into a reason). The records read before it are kept.
INTERNAL_ERROR = "internal error while reading"


def read_input(
    item: InputFile, signals: frozenset[Signal] | None = None, plain: frozenset[int] | None = None, mapped: bool = False
) -> Iterator[SourceItem | PlainLogs | SkippedFile]:
    """The items of one input. With ``signals``, a document of another signal yields its
    :class:`~otel_replay.model.FileStart` (and what its top level says) but no records.
    With ``plain``, a CodeMachine log document read whole hands on its plain records but
    those at these indices in blocks (:mod:`~otel_replay.sources.plainlogs`). With
    ``mapped``, a large document of a plain file is mapped (:mod:`~otel_replay.sources.rawdoc`):
    only where one process reads, as its pages count in that process's memory for a while."""
    try:
        with item.open() as stream:
            yield from _read_stream(item, stream, signals, plain, mapped)
    except CutDocument as exc:  # cut before any record
        yield FileProblem(item.name, cut_reason(exc, 0))
    except DocumentError as exc:
        yield FileProblem(item.name, str(exc))
    except _READ_ERRORS as exc:
        yield FileProblem(item.name, f"cannot read: {exc}", key="cannot read")
    except Exception as exc:  # a reader bug must not end the run (tests show no input gets here)
        text = (str(exc).strip().splitlines() or [""])[0][:200]
        yield FileProblem(
            item.name, f"{INTERNAL_ERROR} ({type(exc).__name__}: {text}); please report it", key=INTERNAL_ERROR
        )


def cut_reason(exc: CutDocument, recovered: int) -> str:
    """The one problem line of a file cut short (an exporter killed while writing it)."""
    return f"{exc}: cut at byte {exc.at}, {recovered} records recovered"


def signal_of(doc: Document) -> Signal | None:
    """What a document (not JSON Lines) holds, told by its top level: CodeMachine's or OTLP's."""
    signal = classify(doc)
    return OTLP_ARRAYS.get(doc.array_key) if signal is None and doc.array_key else signal  # type: ignore[arg-type]


def _read_stream(
    item: InputFile, stream: object, signals: frozenset[Signal] | None, plain: frozenset[int] | None, mapped: bool
) -> Iterator[SourceItem | PlainLogs | SkippedFile]:
    if isinstance(item.part, Part):  # discovery split a JSON Lines file: read its lines straight
        yield from read_otlp_lines(stream, item.name, item.part)  # type: ignore[arg-type]
        return
    stride = item.part if isinstance(item.part, Stride) else None
    items = _read_document(item, stream, signals, stride, plain, mapped)
    if stride is None or stride.index == 0:
        yield from items
    else:  # what is said of the file, its first stride says
        yield from (it for it in items if not isinstance(it, (FileStart, FileProblem, SkippedFile)))


def _read_document(
    item: InputFile,
    stream: object,
    signals: frozenset[Signal] | None,
    stride: Stride | None,
    plain: frozenset[int] | None,
    mapped: bool,
) -> Iterator[SourceItem | PlainLogs | SkippedFile]:
    wanted = None if signals is None else lambda doc: signal_of(doc) in (None, *signals)
    typed = None if plain is None or stride is not None else _TYPED
    doc = read_document(stream, item.size, wanted, typed, mapped)  # type: ignore[arg-type]
    for note in doc.notes:
        yield FileProblem(item.name, f"{note}; the file was read")
    if doc.lines is not None:
        if not claims_telemetry(item.name, doc.keys):  # the keys of its first line
            yield SkippedFile(item.name, not_telemetry(doc.keys))
            return
        yield from read_otlp_lines(doc.lines, item.name)
        return
    signal = classify(doc)
    counter = [0]  # an OTLP/JSON document's records, all strides'
    if signal is None and doc.array_key in OTLP_ARRAYS:
        signal = OTLP_ARRAYS[doc.array_key]
        records = read_otlp(doc, item.name, stride, counter)
    elif signal is not None:
        if stride is not None:  # a cut is said with every record read before it
            doc.items = taken = doc.items if hasattr(doc.items, "share") else _Counted(doc.items)
        records = (
            read_metrics(doc, item.name)
            if signal is Signal.METRICS
            else read_codemachine(doc, item.name, signal, stride, plain)
        )
    if signal is not None:
        read = 0
        try:
            for record in records:
                read += len(record.records) if type(record) is PlainLogs else type(record) in SIGNAL_OF
                yield record
        except CutDocument as exc:
            seen = read if stride is None else counter[0] if doc.array_key in OTLP_ARRAYS else taken.n
            yield FileProblem(item.name, cut_reason(exc, seen), signal)
        except DocumentError as exc:
            yield FileProblem(item.name, f"{exc}; the records before it were read", signal)
        return
    if not claims_telemetry(item.name, doc.keys):
        yield SkippedFile(item.name, not_telemetry(doc.keys))
        return
    keys = ", ".join(doc.keys[:6]) or "none"
    yield FileProblem(
        item.name,
        f"unknown document: top-level keys {keys}; expected a CodeMachine session or an OTLP/JSON request",
        key="unknown document",
    )


class _Counted(Iterator[Any]):
    """An iterator that counts what it has handed out."""

    def __init__(self, items: Iterator[Any]) -> None:
        self._items, self.n = items, 0

    def __next__(self) -> Any:
        item = next(self._items)
        self.n += 1
        return item
