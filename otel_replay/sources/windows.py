"""A large CodeMachine span document read a window of records at a time by msgspec.

Streaming such a document through ijson costs ten times msgspec's time, and with workers
every share of it (:class:`~otel_replay.sources.streams.Stride`) parses the whole of it:
two workers took 1.5 times the time of the same spans in files. Mapping it whole
(:mod:`~otel_replay.sources.rawdoc`) is fast but holds the whole file in each process
that maps it. This reader holds about :data:`WINDOW_BYTES` at a time, from any stream.

The records of the ``spans`` array are told apart by the bytes between two of them, as
the first two show them: the end of a record, the separator (``,`` and the white space
the writer puts there) and the start of the next record up to its first key
(``},\\n    {\\n      "name":`` in CodeMachine's layout). A window ends at such bytes
found past :data:`WINDOW_BYTES`, and it is taken only when msgspec decodes it, as an
array, into slices of whole records: an end inside a record or a string is never taken.
The records a share takes are then decoded, the others only skipped over (in C).

Whatever this reader cannot take as windows (a record larger than the buffer, a window
that is not valid UTF-8 or JSON, the end of the array and what follows it, a document
cut short) is read from the start of the window on by the streaming reader, which says
what is wrong and where, as it does for any streamed document.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

import msgspec

from otel_replay.sources.jsontext import DECODE_ERRORS, PEEK
from otel_replay.sources.rawdoc import decoded
from otel_replay.sources.rereading import Replay

#: Records decoded a window at a time: the bytes of a window, about.
WINDOW_BYTES = 1 << 20
#: The buffer's bound: a record larger than this is read by the streaming reader.
_MOST_BYTES = 4 << 20
#: Candidate ends of a window tried before the streaming reader takes over.
_TRIES = 16
_WHITE = b" \t\r\n"
_NOT_WHITE = re.compile(rb"[^ \t\r\n]")
_RAW = msgspec.json.Decoder(msgspec.Raw)
_RAWS = msgspec.json.Decoder(list[msgspec.Raw])
_DECODER = msgspec.json.Decoder()
_TRAILING = re.compile(r"trailing characters \(byte (\d+)\)")
_SPANS = re.compile(rb'"spans"\s*:\s*\[')

#: Reads the rest of the document, from ``prefix`` (a document that opens the ``spans``
#: array and goes on with what was not taken as windows) then the stream, as the
#: streaming reader does: its records one by one, then what follows them checked.
Streamer = Callable[[bytes, BinaryIO, int], Iterator[Any]]


def spans_opening(head: bytes) -> tuple[dict[str, Any], list[str], int] | None:
    """The header and keys of a document whose top level opens with scalar values and then
    the ``spans`` array, and the offset in ``head`` just past the array's ``[``; None when
    its start is not that (then it is streamed)."""
    found = _SPANS.search(head, 0, 1 << 16)
    if found is None:
        return None
    try:  # what precedes the key, closed after it, is a whole object: the key is at the top level
        top = PEEK.decode(head[: found.start()] + b'"spans":[]}')
        header = {k: _DECODER.decode(v) for k, v in top.items() if memoryview(v)[:1] not in (b"[", b"{")}
    except DECODE_ERRORS:
        return None
    if list(top)[-1:] != ["spans"] or len(header) != len(top) - 1:
        return None  # the key was not the one added, or a value before it is not a scalar
    return header, list(top), found.end()


def windowed(head: bytes, stream: BinaryIO, stream_on: Streamer) -> tuple[dict[str, Any], list[str], str, Any] | None:
    """The header, keys, record array and records of a span document whose first bytes
    are ``head`` and the rest ``stream``, read in windows; None when it does not open as
    :func:`spans_opening` says."""
    opening = spans_opening(head)
    if opening is None:
        return None
    header, keys, at = opening
    return header, keys, "spans", WindowRecords(Replay(memoryview(head)[at:], stream), at, stream_on)  # type: ignore[arg-type]


class WindowRecords(Iterator[Any]):
    """The records of a ``spans`` array, read from ``stream`` (which starts just past its
    ``[``, at byte ``offset`` of the file), a window at a time; ``n``: how many went by."""

    def __init__(self, stream: BinaryIO, offset: int, stream_on: Streamer) -> None:
        self._stream = stream
        self._offset = offset  # the file's byte at self._buf[0]
        self._stream_on = stream_on
        self._buf = bytearray()
        self._eof = False
        self._items: Iterator[Any] | None = None
        self.n = 0

    def __next__(self) -> Any:
        if self._items is None:
            self._items = self._records()
        item = next(self._items)
        self.n += 1
        return decoded(item) if type(item) is msgspec.Raw else item

    def share(self, start: int, first: int, step: int) -> Iterator[tuple[int, Any]]:
        """(number, record) of the records numbered from ``start`` whose number is
        ``first`` modulo ``step``; the others are not decoded."""
        for i, item in enumerate(self._records()):
            self.n = i + 1
            if (start + i) % step == first:
                yield start + i, decoded(item) if type(item) is msgspec.Raw else item

    # -- reading ----------------------------------------------------------------------
    def _records(self) -> Iterator[Any]:
        """The records: slices of windows, then (or instead) what the streaming reader reads."""
        self._fill(WINDOW_BYTES)
        at = _skip_white(self._buf, 0)
        pattern = self._pattern(at)
        while pattern is not None:
            window = self._window(at, pattern)
            if window is None:
                break
            end, raws, last = window
            yield from raws
            del self._buf[:end]
            self._offset += end
            at = 0 if last else pattern.index(b"{", 1) - 1  # the next record's start, past the separator
            if last:  # the buffer starts with the array's "]": what follows is checked by the streaming reader
                break
        prefix, at = b'{"spans":[' + self._buf[at:], self._offset + len(self._buf)
        self._buf = bytearray()  # handed on, not held twice
        yield from self._stream_on(prefix, self._stream, at)

    def _fill(self, size: int) -> None:
        while len(self._buf) < size and not self._eof:
            more = self._stream.read(max(size - len(self._buf), 1 << 16))
            self._eof = not more
            self._buf += more

    def _pattern(self, at: int) -> bytes | None:
        """The bytes from one record's last one to the next one's first key, as the first
        two records show them; None when they do not (one record, or not objects)."""
        buf = self._buf
        if at < 0:
            return None
        while True:
            try:
                _RAW.decode(memoryview(buf)[at:])
                return None  # a single value and nothing after it: not a whole document
            except msgspec.DecodeError as exc:
                trailing = _TRAILING.search(str(exc))
            following = -1 if trailing is None else _skip_white(buf, at + int(trailing.group(1)))
            if following >= 0 or self._eof or len(buf) - at > _MOST_BYTES:
                break
            self._fill(len(buf) + WINDOW_BYTES)  # the first record, or the second's start, is further on
        if trailing is None:
            return None
        comma = at + int(trailing.group(1)) - 1
        end = len(buf[:comma].rstrip(_WHITE))
        colon = buf.find(b":", at, end)
        if buf[comma : comma + 1] != b"," or buf[end - 1 : end] != b"}" or colon < 0 or following < 0:
            return None
        return b"}" + bytes(buf[end:following]) + bytes(buf[at : colon + 1])

    def _window(self, at: int, pattern: bytes) -> tuple[int, list[msgspec.Raw], bool] | None:
        """Where the window from ``at`` ends (past its last record), its records' slices, and
        whether they are the array's last; None when no end is found and checked (the
        streaming reader then goes on)."""
        self._fill(at + WINDOW_BYTES + (1 << 16))
        buf, tries = self._buf, 0
        end = buf.find(pattern, at + WINDOW_BYTES)
        while tries < _TRIES and len(buf) - at <= _MOST_BYTES:
            if end < 0:
                if self._eof:
                    return self._last(at)
                self._fill(len(buf) + WINDOW_BYTES)
                end = buf.find(pattern, at + WINDOW_BYTES)
                continue
            raws = _checked(buf, at, end + 1, b"]")
            if raws is not None:
                return end + 1, raws, False
            end = buf.find(pattern, end + 1)
            tries += 1
        return None

    def _last(self, at: int) -> tuple[int, list[msgspec.Raw], bool] | None:
        """The array's last records, from ``at`` to its ``]`` (the buffer holds the rest of
        the document); None when the document does not go on past the array (cut)."""
        try:
            _RAW.decode(b"[" + self._buf[at:])
            return None
        except msgspec.DecodeError as exc:
            trailing = _TRAILING.search(str(exc))
        if trailing is None:
            return None
        close = len(self._buf[: at + int(trailing.group(1)) - 2].rstrip(_WHITE)) - 1  # the array's "]"
        raws = _checked(self._buf, at, close + 1, b"")
        return None if raws is None else (close, raws, True)


def _checked(buf: bytearray, start: int, end: int, closing: bytes) -> list[msgspec.Raw] | None:
    """The slices of the records in ``buf[start:end]`` (with ``closing``, a whole array),
    when msgspec takes them as such and they are UTF-8; None when not."""
    window = bytearray(b"[")
    window += memoryview(buf)[start:end]
    window += closing
    try:
        codecs.utf_8_decode(window, None, True)  # slices skipped over are not checked as UTF-8
        return _RAWS.decode(window)
    except DECODE_ERRORS:
        return None


def _skip_white(buf: bytearray, at: int) -> int:
    """The index of the first byte from ``at`` on that is not JSON's white space; -1 if none."""
    found = _NOT_WHITE.search(buf, at)
    return -1 if found is None else found.start()
