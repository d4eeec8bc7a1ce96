"""A large document of a plain file, mapped and decoded into its outline, its records
decoded one at a time as they are taken.

A document over :data:`~otel_replay.sources.jsondoc.WHOLE_DOCUMENT_BYTES` is too large to
decode into Python objects at once (ten times its size), and streaming it item by item
through ijson costs ten times msgspec's time: a 100 MB OTLP/JSON request spent 2.5 s in
the scan of its outline alone. When the document is a file of its own (not a member of
an archive, not compressed, not a pipe) of up to :data:`MAPPED_DOCUMENT_BYTES`, it is
instead mapped into memory (pages of the page cache, shared by every process that maps
the file, not copied) and decoded by msgspec into a skeleton whose records are
:class:`msgspec.Raw` slices of the mapping: every byte is checked as JSON on the way,
no record is built. A record is decoded when it is taken, and a share of a document
(:class:`~otel_replay.sources.streams.Stride`) decodes only its own records. What the
mapping has read is handed back to the kernel as the records go by, so the process's
resident memory stays that of the skeleton (about 56 bytes a record).

A document this reader does not take (not valid UTF-8, not valid JSON, a records array
that is not one, an outline of other types than OTLP/JSON's) is streamed as before,
which says what is wrong and where.
"""

from __future__ import annotations

import codecs
import io
import mmap
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import msgspec

from otel_replay.sources.common import Undecodable
from otel_replay.sources.jsontext import DECODE_ERRORS, RECORD_ARRAYS
from otel_replay.sources.outline import NESTED

#: The largest document mapped; a larger one is streamed. While its skeleton is decoded
#: (a tenth of a second or so), the whole document is in the process's resident memory:
#: with what a replay holds besides, this keeps the process under 200 MB.
MAPPED_DOCUMENT_BYTES = 100 * 1024 * 1024
#: The record arrays read this way: spans and log records (metrics are small).
MAPPED_ARRAYS = frozenset(("spans", "logs", "resourceSpans", "resourceLogs"))
#: Records taken between two hand-backs of the mapping's pages to the kernel.
_DROP_EVERY = 4096
_UTF8_CHUNK = 1 << 20

_TOP = msgspec.json.Decoder(dict[str, msgspec.Raw])
_RAWS = msgspec.json.Decoder(list[msgspec.Raw])
_DECODER = msgspec.json.Decoder()
_UNSET = msgspec.UNSET


def _outline_decoder(array_key: str) -> msgspec.json.Decoder[Any]:
    """Decodes an OTLP/JSON request's array into its groups and scope blocks, the records
    left as slices; any other shape (a group that is not an object…) fails to decode."""
    scoped, records = NESTED[array_key]
    block = msgspec.defstruct(
        "Block",
        [
            ("scope", msgspec.Raw | msgspec.UnsetType, _UNSET),
            ("schemaUrl", msgspec.Raw | msgspec.UnsetType, _UNSET),
            (records, list[msgspec.Raw] | None | msgspec.UnsetType, _UNSET),
        ],
    )
    group = msgspec.defstruct(
        "Group",
        [
            ("resource", msgspec.Raw | msgspec.UnsetType, _UNSET),
            ("schemaUrl", msgspec.Raw | msgspec.UnsetType, _UNSET),
            (scoped, list[block] | None | msgspec.UnsetType, _UNSET),  # type: ignore[valid-type]
        ],
    )
    return msgspec.json.Decoder(list[group])  # type: ignore[valid-type]


_OUTLINES = {key: _outline_decoder(key) for key in MAPPED_ARRAYS & NESTED.keys()}


#: Told how far into the document the reader is (as the bytes of the records gone by,
#: those another share takes included): a progress bar's count of what was read.
Reached = Callable[[int], None]


class _Position:
    """How far the records taken from a mapped document go, told to ``reached``."""

    __slots__ = ("at", "reached")

    def __init__(self, reached: Reached | None) -> None:
        self.at = 0
        self.reached = reached

    def tell(self) -> None:
        if self.reached is not None:
            self.reached(self.at)


def file_behind(stream: object) -> tuple[int, Reached | None] | None:
    """The descriptor of the plain file ``stream`` reads, at its start (and, when ``stream``
    counts what is read of it, where to count what is read of the mapping); None for
    anything else (an archive member, a decompressed stream, a pipe, a stream part-read).
    A counting stream is a buffered reader over a raw one that says what it ``wrapped``
    and is told how far it was read otherwise (``reached``: :mod:`otel_replay.progress.meter`)."""
    reached = None
    if type(stream) is io.BufferedReader and hasattr(stream.raw, "wrapped"):
        reached, stream = stream.raw.reached, stream.raw.wrapped
    if type(stream) is not io.BufferedReader or type(stream.raw) is not io.FileIO:
        return None
    try:
        if stream.tell() != 0 or not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
            return None
    except (OSError, ValueError):
        return None
    return stream.fileno(), reached


class MappedRecords(Iterator[Any]):
    """The records of one array of a mapped document, decoded as they are taken; ``n``:
    how many were taken (or stepped over)."""

    def __init__(self, raws: list[msgspec.Raw], mapping: mmap.mmap, position: _Position) -> None:
        self._raws = raws
        self._mapping = mapping
        self._position = position
        self._step = 1  # each record taken stands for this many (a share takes one in ``step``)
        self.n = 0

    def __iter__(self) -> MappedRecords:
        return self

    def __next__(self) -> Any:
        if self.n >= len(self._raws):
            raise StopIteration
        return self._take(self.n)

    def share(self, start: int, first: int, step: int) -> Iterator[tuple[int, Any]]:
        """(number, record) of the records numbered from ``start`` whose number is
        ``first`` modulo ``step``; the others are not decoded."""
        self._step = step
        for i in range((first - start) % step, len(self._raws), step):
            yield start + i, self._take(i)
        self.n = len(self._raws)
        self._position.tell()

    def _take(self, i: int) -> Any:
        raw = self._raws[i]
        self._raws[i] = None  # type: ignore[call-overload]  # its slice is not needed again
        self.n = i + 1
        self._position.at += len(raw) * self._step
        if i % _DROP_EVERY < self._step and i >= self._step:
            self._position.tell()
            _hand_back(self._mapping)
        return decoded(raw)


def decoded(raw: msgspec.Raw | bytes) -> Any:
    """One record decoded from its slice of a document that is valid JSON (so that only
    the record's own values can fail: a number out of range…)."""
    try:
        return _DECODER.decode(raw)
    except DECODE_ERRORS as exc:
        return Undecodable(f"not valid JSON: {exc}")


def numbered(items: Iterable[Any], counter: list[int], first: int, step: int) -> Iterator[tuple[int, Any]]:
    """(number, item) of the items numbered from ``counter[0]`` on whose number is ``first``
    modulo ``step`` (a :class:`~otel_replay.sources.streams.Stride`'s share: all of them
    with 0 and 1); ``counter[0]`` counts every item gone by. The records of a mapped
    document that are not taken are not decoded."""
    if hasattr(items, "share"):  # MappedRecords, or a window reader's (sources/windows.py)
        start = counter[0]
        yield from items.share(start, first, step)
        counter[0] = start + items.n
        return
    for item in items:
        number = counter[0]
        counter[0] += 1
        if number % step == first:
            yield number, item


def _hand_back(mapping: mmap.mmap) -> None:
    """The mapping's pages out of the process (they stay in the page cache: a page is
    read again, at the cost of a minor fault, only if it is touched again)."""
    if hasattr(mmap, "MADV_DONTNEED"):
        mapping.madvise(mmap.MADV_DONTNEED)


def mapped_document(
    fileno: int, base: int, reached: Reached | None = None
) -> tuple[dict[str, Any], list[str], str, Iterator[Any]] | None:
    """The header, keys, record array and records of the document in file ``fileno``
    (whose JSON starts at byte ``base``), decoded as this module says; None when it is
    not read this way (then it is streamed)."""
    size = os.fstat(fileno).st_size
    if not 0 < size - base <= MAPPED_DOCUMENT_BYTES:
        return None
    mapping = mmap.mmap(fileno, 0, access=mmap.ACCESS_READ)
    try:
        text = memoryview(mapping)[base:]
        read = _read(text, mapping, _Position(reached))
    except DECODE_ERRORS:
        read = None
    _hand_back(mapping)
    return read


def _read(
    text: memoryview, mapping: mmap.mmap, position: _Position
) -> tuple[dict[str, Any], list[str], str, Iterator[Any]] | None:
    _check_utf8(text)
    top = _TOP.decode(text)
    array_key = next((k for k in RECORD_ARRAYS if k in top), None)
    if array_key not in MAPPED_ARRAYS:
        return None
    raws = top[array_key]  # type: ignore[index]
    if memoryview(raws)[:1] != b"[":
        return None  # the streamed reader says what it is
    header = {k: _DECODER.decode(v) for k, v in top.items() if memoryview(v)[:1] not in (b"[", b"{")}
    if array_key in NESTED:
        items: Iterator[Any] = iter(_groups(array_key, _OUTLINES[array_key].decode(raws), (mapping, position)))
    else:
        items = MappedRecords(_RAWS.decode(raws), mapping, position)
    return header, list(top), array_key, items


def _check_utf8(text: memoryview) -> None:
    """Raises UnicodeDecodeError unless the whole of ``text`` is UTF-8 (skipped values,
    left as slices, are checked as JSON but not as UTF-8)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    for at in range(0, len(text), _UTF8_CHUNK):
        decoder.decode(text[at : at + _UTF8_CHUNK])
    decoder.decode(b"", final=True)


def _groups(array_key: str, groups: list[Any], mapping: tuple[mmap.mmap, _Position]) -> list[dict[str, Any]]:
    """The groups as decoding the document whole gives them, their records arrays
    :class:`MappedRecords`."""
    scoped, records = NESTED[array_key]
    out = []
    for group in groups:
        blocks = getattr(group, scoped)
        inner = None if blocks is None or blocks is _UNSET else [_block(block, records, mapping) for block in blocks]
        out.append(_fields(group, scoped, inner))
    return out


def _block(block: Any, records: str, mapping: tuple[mmap.mmap, _Position]) -> dict[str, Any]:
    raws = getattr(block, records)
    return _fields(block, records, None if raws is None or raws is _UNSET else MappedRecords(raws, *mapping))


def _fields(obj: Any, nested: str, inner: Any) -> dict[str, Any]:
    """The fields ``obj`` has, decoded, but ``nested``, which is ``inner``."""
    out = {}
    for name in obj.__struct_fields__:
        value = getattr(obj, name)
        if value is not _UNSET:
            out[name] = inner if name == nested else _DECODER.decode(value)
    return out
