"""Sources: readers that stream records out of input files.

:func:`read_input` opens one discovered file, works out what it holds from its content
(never from its name alone) and hands it to the reader for that format. Anything that
goes wrong becomes a :class:`~otel_replay.model.FileProblem` item (or, for one record,
an :class:`~otel_replay.model.InvalidRecord`), never an exception.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator

from otel_replay.model import FileProblem, Signal, SourceItem
from otel_replay.sources.codemachine import classify, read_codemachine
from otel_replay.sources.codemachine_metrics import read_metrics
from otel_replay.sources.discover import DECOMPRESS_ERRORS, InputFile
from otel_replay.sources.jsondoc import DocumentError, read_document
from otel_replay.sources.otlp_json import OTLP_ARRAYS, read_otlp, read_otlp_lines

_READ_ERRORS = (*DECOMPRESS_ERRORS, zipfile.BadZipFile, RuntimeError)
#: The start of the problem line of an exception a reader let out (a bug: readers turn
#: every flaw of their input into a reason). The records read before it are kept.
INTERNAL_ERROR = "internal error while reading"


def read_input(item: InputFile) -> Iterator[SourceItem]:
    try:
        with item.open() as stream:
            yield from _read_stream(item, stream)
    except DocumentError as exc:
        yield FileProblem(item.name, str(exc))
    except _READ_ERRORS as exc:
        yield FileProblem(item.name, f"cannot read: {exc}", key="cannot read")
    except Exception as exc:  # a reader bug must not end the run (tests show no input gets here)
        text = (str(exc).strip().splitlines() or [""])[0][:200]
        yield FileProblem(
            item.name, f"{INTERNAL_ERROR} ({type(exc).__name__}: {text}); please report it", key=INTERNAL_ERROR
        )


def _read_stream(item: InputFile, stream: object) -> Iterator[SourceItem]:
    if item.part is not None:  # discovery split a JSON Lines file: read its lines straight
        yield from read_otlp_lines(stream, item.name, item.part)  # type: ignore[arg-type]
        return
    doc = read_document(stream, item.size)  # type: ignore[arg-type]
    for note in doc.notes:
        yield FileProblem(item.name, f"{note}; the file was read")
    if doc.lines is not None:
        yield from read_otlp_lines(doc.lines, item.name)
        return
    signal = classify(doc)
    if signal is not None:
        try:
            if signal is Signal.METRICS:
                yield from read_metrics(doc, item.name)
            else:
                yield from read_codemachine(doc, item.name, signal)
        except DocumentError as exc:
            yield FileProblem(item.name, f"{exc}; the records before it were read", signal)
        return
    if doc.array_key in OTLP_ARRAYS:
        try:
            yield from read_otlp(doc, item.name)
        except DocumentError as exc:
            yield FileProblem(item.name, f"{exc}; the records before it were read", OTLP_ARRAYS[doc.array_key])
        return
    keys = ", ".join(doc.keys[:6]) or "none"
    yield FileProblem(
        item.name,
        f"unknown document: top-level keys {keys}; expected a CodeMachine session or an OTLP/JSON request",
        key="unknown document",
    )
