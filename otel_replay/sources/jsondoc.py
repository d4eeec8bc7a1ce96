"""Read one JSON document as a header (its top-level scalars) plus one streamed array.

Telemetry documents are an object whose top-level keys say what they hold
(``spans``, ``logs``, ``metrics``, ``resourceSpans`` …) and whose bulk is one array.
Documents of ordinary size are decoded whole with msgspec (fast, exact big integers);
larger ones are streamed item by item with ijson so memory stays flat whatever the size.
"""

from __future__ import annotations

import collections
import io
import itertools
import re
import tempfile
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import IO, Any, BinaryIO

import ijson
import msgspec

from otel_replay.sources.jsontext import (
    BOM,
    DECODE_ERRORS,
    NOT_SPACE,
    PEEK,
    RECORD_ARRAYS,
    START_BYTES,
    describe_json,
    event_kind,
    first_array_key,
    first_line_bounds,
    first_line_object,
    is_json_lines,
    looks_like_json,
    not_json,
    peek_start,
    spans_first,
)
from otel_replay.sources.outline import NESTED, Outline, records_prefix
from otel_replay.sources.rawdoc import file_behind, mapped_document
from otel_replay.sources.rereading import Chain, Recorder, Replay
from otel_replay.sources.salvage import salvage
from otel_replay.sources.windows import windowed

#: Documents up to this size are decoded in one go; larger ones are streamed.
WHOLE_DOCUMENT_BYTES = 8 * 1024 * 1024
#: How far a first line longer than that is read to tell JSON Lines (a Collector's file
#: exporter writes one request per line: tens of MB at most) from one document without a
#: line break (streamed past this, its second line then a "trailing characters" problem).
FIRST_LINE_BYTES = 4 * WHOLE_DOCUMENT_BYTES
_DECODER = msgspec.json.Decoder()


#: Reads a whole document of one kind into records of their own types (its Document), or
#: None when the document is not that simple (then it is read as any other, which says why).
TypedReader = Callable[[bytes], "Document | None"]


class DocumentError(Exception):
    """The document (or what is left of it) cannot be read; the message says why."""


TRUNCATED = "truncated JSON (the file ends in the middle of a value)"
TRAILING = "trailing characters after the top-level object"


class CutDocument(DocumentError):
    """The document ends part-way, after ``at`` bytes (a writer killed mid-write); the
    records before the cut were read (see :mod:`~otel_replay.sources.salvage`)."""

    def __init__(self, at: int) -> None:
        super().__init__(TRUNCATED)
        self.at = at


@dataclass(slots=True)
class Document:
    header: dict[str, Any]
    keys: list[str]  # every top-level key, in order
    array_key: str | None  # the record array found, if any
    items: Iterator[Any] = field(default_factory=lambda: iter(()))
    #: Flaws the reader worked around (the file is still read); each is reported.
    notes: list[str] = field(default_factory=list)
    #: JSON Lines (one object per line): the whole input, to be read line by line.
    lines: BinaryIO | None = None


def read_document(
    stream: BinaryIO,
    size_hint: int | None = None,
    wanted: Callable[[Document], bool] | None = None,
    typed: Mapping[str, TypedReader] | None = None,
    mapped: bool = False,
) -> Document:
    """Open a document; its ``items`` iterator may raise :class:`DocumentError` part-way.
    A document read whole that ``wanted`` refuses (told by its top level alone) comes
    with no items: its records are not even decoded. ``wanted`` is asked first about the
    document's first array alone (a Document of that key, no header) when its start tells
    it: taken, the document is decoded whole at once — by the reader ``typed`` has for
    that array, when it has one and it takes the document. A span document ``wanted``
    refuses is not read past its start (:func:`spans_first`). With ``mapped``, a large
    document of a plain file is read by :mod:`~otel_replay.sources.rawdoc` when it can be."""
    behind = file_behind(stream) if mapped else None
    if wanted is not None and spans_first(peek_start(stream)) and not wanted(spans := Document({}, ["spans"], "spans")):
        return spans
    head = read_head(stream, size_hint)
    bom = head.startswith(BOM)
    base = len(BOM) if bom else 0  # where the JSON text starts in the file
    if bom:  # read as many bytes more, so that the head is WHOLE_DOCUMENT_BYTES + 1 bytes of JSON
        head = head[len(BOM) :] + stream.read(len(BOM))
    if NOT_SPACE.search(head) is None:
        raise DocumentError("empty file")
    head, stream = _to_first_line_end(head, stream)
    head = _past_first_line(head, stream)
    if not looks_like_json(head):
        raise DocumentError(not_json(head))
    if (first := first_line_object(head)) is not None:  # JSON Lines: keys are its first line's
        doc = Document({}, list(first), None, lines=io.BufferedReader(Replay(head, stream), 1 << 16))
    elif len(head) <= WHOLE_DOCUMENT_BYTES:
        doc = _told_whole(head, base, wanted, typed)
    elif (behind is not None and (read := mapped_document(behind[0], base, behind[1])) is not None) or (
        read := windowed(head, stream, partial(_spans_streamed, base))
    ) is not None:
        doc = Document(*read)
    else:
        doc = _streamed(head, stream, base)
    if bom:
        doc.notes.append("starts with a UTF-8 byte order mark, which JSON does not allow (RFC 8259 §8.1); ignored")
    return doc


def read_head(stream: BinaryIO, size_hint: int | None = None) -> bytes:
    """The first WHOLE_DOCUMENT_BYTES + 1 bytes of ``stream`` (all of a document to read
    whole, one byte more when it is not). With the input's size, a read of that size: a
    read of 8 MiB for a file of 1 MiB costs the kernel the pages of 8 (a third of the
    system time of a replay). A size that was short (a guess) is read on."""
    want = WHOLE_DOCUMENT_BYTES + 1
    first = want if size_hint is None or size_hint < 0 else min(want, size_hint + 1)
    head = stream.read(first)
    if len(head) == first < want:
        head += stream.read(want - first)
    return head


def _to_first_line_end(head: bytes, stream: BinaryIO) -> tuple[bytes, BinaryIO]:
    """``head`` read on to the end of its first line when that is longer than a whole
    document (up to FIRST_LINE_BYTES), so that JSON Lines of long lines are told as such;
    and the stream of what follows. Where no line ends (one document on one line), what
    was read on is kept on disk, not in memory, and read again first."""
    if len(head) <= WHOLE_DOCUMENT_BYTES or first_line_bounds(head)[1] >= 0:
        return head, stream
    spool = tempfile.SpooledTemporaryFile(max_size=WHOLE_DOCUMENT_BYTES)  # noqa: SIM115 - closed below or by the GC
    for more in _reading_on(len(head), stream):
        spool.write(more)
        if b"\n" in more:  # JSON Lines, perhaps: its line is read whole anyway
            spool.seek(0)
            with spool:
                return head + spool.read(), stream
    spool.seek(0)
    return head, io.BufferedReader(Chain(spool, stream))  # type: ignore[arg-type]


def _reading_on(size: int, stream: BinaryIO) -> Iterator[bytes]:
    """``stream`` read on past its first ``size`` bytes, to a chunk with a line break, and
    to FIRST_LINE_BYTES + 1 bytes in all at most (the reader and discovery stop there)."""
    limit = FIRST_LINE_BYTES + 1
    while size < limit and (more := stream.read(min(1 << 20, limit - size))):
        yield more
        size += len(more)
        if b"\n" in more:
            return


def _past_first_line(head: bytes, stream: BinaryIO) -> bytes:
    """``head``, read on while nothing but white space follows its first line: a first line
    that fills the head alone must not hide the second line of JSON Lines."""
    end = first_line_bounds(head)[1]
    while end >= 0 and NOT_SPACE.search(head, end + 1) is None and (more := stream.read(1 << 16)):
        head += more
    return head


def starts_json_lines(stream: BinaryIO, head_bytes: int) -> bool:
    """Whether ``stream`` holds JSON Lines, as :func:`read_document` tells them: its first
    ``head_bytes``, read on to the end of a longer first line (up to FIRST_LINE_BYTES: a
    Collector's file exporter writes a request per line) and past blank lines after it."""
    chunks = [stream.read(head_bytes)]
    if first_line_bounds(chunks[0])[1] < 0:
        chunks += _reading_on(len(chunks[0]), stream)
    return is_json_lines(_past_first_line(b"".join(chunks), stream))


def _decode_error(exc: Exception, size: int) -> DocumentError:
    text = str(exc)
    at = re.search(r"invalid number \(byte (\d+)\)$", text)
    if at is not None and int(at.group(1)) >= size:  # a number cut short: the end is the error
        return DocumentError(TRUNCATED)
    if isinstance(exc, UnicodeDecodeError) or "utf-8" in text.lower():
        return DocumentError("not valid UTF-8 text")
    if isinstance(exc, RecursionError) or "recursion" in text.lower():
        return DocumentError("JSON nested too deeply")
    if "truncated" in text.lower():
        return DocumentError(TRUNCATED)
    return DocumentError(f"not valid JSON: {text}")


def _decode(data: bytes) -> Any:
    try:
        return _DECODER.decode(data)
    except DECODE_ERRORS as exc:
        raise _decode_error(exc, len(data)) from None


def _told_whole(
    head: bytes,
    base: int,
    wanted: Callable[[Document], bool] | None,
    typed: Mapping[str, TypedReader] | None = None,
) -> Document:
    """A document read whole, without its records when ``wanted`` refuses it. When its
    first array (after its header) is a record array ``wanted`` takes, it is decoded whole
    at once, and asked again only when an array of higher rank was found further on."""
    if wanted is None:
        return _whole(head, base)
    key = first_array_key(head[:START_BYTES])
    if key in RECORD_ARRAYS and wanted(Document({}, [key], key)):
        reader = None if typed is None else typed.get(key)
        doc = (reader and reader(head)) or _whole(head, base)
        if doc.array_key != key and not wanted(doc):
            doc.items = iter(())
        return doc
    peeked = _peek(head)
    return peeked if peeked is not None and not wanted(peeked) else _whole(head, base)


def _peek(data: bytes) -> Document | None:
    """The document's header, keys and record array, its values skipped, not decoded (a
    fifth of the time); None when it is not that simple (then the whole decode says why)."""
    try:
        raws = PEEK.decode(data)
        header = {k: _DECODER.decode(v) for k, v in raws.items() if memoryview(v)[:1] not in (b"[", b"{")}
    except DECODE_ERRORS:
        return None
    array_key = next((k for k in RECORD_ARRAYS if k in raws), None)
    if array_key is not None and memoryview(raws[array_key])[:1] != b"[":
        return None
    return Document(header, list(raws), array_key)


def _whole(data: bytes, base: int = 0) -> Document:
    try:
        doc = _decode(data)
    except DocumentError as exc:
        if str(exc) != TRUNCATED:
            raise
        # cut short: the records written whole before the cut, then the cut is said
        mended = salvage(data)
        if mended is None:
            raise CutDocument(base + len(data)) from None
        cut = _whole(mended)
        cut.items = itertools.chain(cut.items, _raising(CutDocument(base + len(data))))
        return cut
    if not isinstance(doc, dict):
        raise DocumentError(f"top-level JSON is {describe_json(doc)}, expected an object")
    header = {k: v for k, v in doc.items() if not isinstance(v, (list, dict))}
    array_key = next((k for k in RECORD_ARRAYS if k in doc), None)
    items: Iterator[Any] = iter(())
    if array_key is not None:
        arr = doc[array_key]
        if not isinstance(arr, list):
            raise DocumentError(f"'{array_key}' is {describe_json(arr)}, expected an array")
        items = iter(arr)
    return Document(header, list(doc), array_key, items)


def _spans_streamed(base: int, prefix: bytes, rest: BinaryIO, offset: int) -> Iterator[Any]:
    """What the windows of a span array do not take, streamed (:mod:`~otel_replay.sources.windows`)."""
    return _stream_items(io.BytesIO(prefix), Replay(b"", rest), "spans.item", base + offset)


def _raising(exc: Exception) -> Iterator[Any]:
    raise exc
    yield  # a generator: raises when the items before it are read


def _streamed(head: bytes, stream: BinaryIO, base: int = 0) -> Document:
    """Scan the top level for the header and the record array, then stream that array.

    The record array is the one :data:`RECORD_ARRAYS` puts first, as when the document is
    decoded whole: the scan stops at that array's start, or goes on past an array of lower
    rank to look for one of higher rank. What the scan read is kept (in memory, on disk
    past WHOLE_DOCUMENT_BYTES) and read again before the rest, so no byte is read twice
    from the source; a non-seekable stream (a pipe, an archive member) works the same.
    """
    spool = tempfile.SpooledTemporaryFile(max_size=WHOLE_DOCUMENT_BYTES)  # noqa: SIM115 - closed by the items
    source = Replay(head, stream)  # what the scan has not consumed stays in here
    try:
        header, keys, array_key, outline = _scan(Recorder(source, spool))
    except CutDocument:
        spool.close()
        raise CutDocument(base + source.count) from None
    except BaseException:
        spool.close()
        raise
    if array_key is None:
        spool.close()
        return Document(header, keys, None)
    spool.seek(0)
    if outline is not None:  # OTLP/JSON: the records one at a time, not a resource group at a time
        records = _stream_items(spool, source, records_prefix(array_key), base)
        return Document(header, keys, array_key, outline.stream(records))
    return Document(header, keys, array_key, _stream_items(spool, source, f"{array_key}.item", base))


def _scan(raw: io.RawIOBase) -> tuple[dict[str, Any], list[str], str | None, Outline | None]:
    """The top level's scalars, keys and record array (see :func:`_streamed`), and the
    outline of that array when it is OTLP/JSON's (:mod:`~otel_replay.sources.outline`)."""
    header: dict[str, Any] = {}
    keys: list[str] = []
    array_key: str | None = None
    outline: Outline | None = None
    try:
        events = ijson.parse(raw, use_float=True)
        prefix, event, value = next(events)
        if event != "start_map":
            raise DocumentError(f"top-level JSON is {event_kind(event)}, expected an object")
        key: str | None = None
        for prefix, event, value in events:
            if prefix == "" and event == "map_key":
                key = value
                keys.append(value)
            elif prefix == key and key is not None:
                ranked = key in RECORD_ARRAYS and _outranks(key, array_key)
                if ranked and event != "start_array":
                    raise DocumentError(f"'{key}' is {event_kind(event)}, expected an array")
                if ranked:
                    array_key, outline = key, (Outline(key) if key in NESTED else None)
                    if key == RECORD_ARRAYS[0]:
                        break
                if outline is not None and array_key == key and event == "start_array":
                    outline.read(events)
                elif event in ("start_array", "start_map"):
                    _skip(events)
                else:
                    header[key] = value
            elif prefix == "" and event == "end_map":
                if array_key is None:  # nothing is read after the scan: what follows must be white space
                    collections.deque(events, maxlen=0)
                break
    except (ijson.JSONError, ijson.IncompleteJSONError, UnicodeDecodeError, StopIteration) as exc:
        if array_key is not None:  # a broken or cut document: its records are read up to the break
            return header, keys, array_key, outline
        if isinstance(exc, StopIteration):
            raise CutDocument(0) from None  # where: said by the caller
        raise _stream_error(exc) from None
    return header, keys, array_key, outline


def _outranks(key: str, found: str | None) -> bool:
    return found is None or RECORD_ARRAYS.index(key) < RECORD_ARRAYS.index(found)


def _skip(events: Iterator[tuple[str, str, Any]]) -> None:
    depth = 1
    for _, event, _ in events:
        if event in ("start_map", "start_array"):
            depth += 1
        elif event in ("end_map", "end_array"):
            depth -= 1
            if depth == 0:
                return


def _stream_error(exc: Exception) -> DocumentError:
    message = exc.args[0] if exc.args else ""
    if isinstance(message, bytes):  # the C parser's messages are bytes (with the input quoted)
        message = message.decode("utf-8", "replace")
    text = str(message).strip().splitlines()[0] if str(message).strip() else type(exc).__name__
    if isinstance(exc, UnicodeDecodeError) or "invalid bytes in UTF8" in text:
        return DocumentError("not valid UTF-8 text")
    if "premature EOF" in text or ("Incomplete" in type(exc).__name__ and "EOF" in text):
        return CutDocument(0)  # where: said by the caller
    if "trailing garbage" in text:
        return DocumentError(f"not valid JSON: {TRAILING}")
    if "integer overflow" in text:
        return DocumentError("an integer is beyond 64 bits, which the streaming parser cannot read")
    return DocumentError(f"not valid JSON: {text}")


def _stream_items(spool: IO[bytes], rest: Replay, prefix: str, base: int) -> Generator[Any, None, None]:
    """The values at ijson's ``prefix`` (``spans.item``: the items of ``spans``)."""
    try:
        with spool:
            yield from ijson.items(Chain(spool, rest), prefix, use_float=True)
    except (ijson.JSONError, ijson.IncompleteJSONError, UnicodeDecodeError) as exc:
        error = _stream_error(exc)
        raise (CutDocument(base + rest.count) if isinstance(error, CutDocument) else error) from None
