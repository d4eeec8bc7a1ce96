"""Byte streams of inputs: gzip, zstandard, xz and bzip2 decompressed as they are read (stopped as a
decompression bomb past a ratio), windows of a file (a part of a JSON Lines file, a
member of a plain tar file), and an input opened again where discovery found it
(:class:`Location`), in this process or in a worker process.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import IO, Any, BinaryIO, cast

import zstandard

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
XZ_MAGIC = b"\xfd7zXZ\x00"
BZIP2_MAGIC = b"BZh"  # and the block size, a digit 1-9


def compression(head: bytes) -> str | None:
    """The compression a stream starting with ``head`` (6 bytes or more) is in, or None."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    if head.startswith(XZ_MAGIC):
        return "xz"
    if head.startswith(BZIP2_MAGIC) and head[3:4].isdigit() and head[3:4] != b"0":
        return "bzip2"
    return None


#: A compressed stream that expands more than this many times over is refused as a
#: decompression bomb, once it expands past RATIO_FLOOR bytes (JSON compresses ~10-50x).
MAX_RATIO = 1000
RATIO_FLOOR = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class RatioCap:
    """When a decompressed stream is a decompression bomb: it expanded past ``floor`` bytes
    and more than ``max_ratio`` times its compressed size."""

    max_ratio: int = MAX_RATIO
    floor: int = RATIO_FLOOR


DEFAULT_CAP = RatioCap()


@dataclass(frozen=True, slots=True)
class Location:
    """Where an input can be opened again, reading nothing but itself: a file, a byte
    range of one (``offset``, ``length``: a member of a plain tar file) or a zip member.
    Plain data: it crosses to worker processes."""

    path: str
    member: str | None = None  # a zip archive's member
    offset: int = 0
    length: int | None = None
    #: Opening it decompresses it again (a gzip/zstandard file, a deflated zip member).
    compressed: bool = False


@dataclass(frozen=True, slots=True)
class Part:
    """Part ``index`` of a JSON Lines file: the lines that start in ``[start, end)``."""

    index: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Stride:
    """Share ``index`` of ``of`` of a large trace document (CodeMachine or OTLP/JSON): its spans
    ``index``, ``index + of``, ``index + 2 * of`` … (the whole document is read, only
    those are converted and sent); the share ``index`` 0 also says what is said of the file."""

    index: int
    of: int


def open_part(path: str, part: Part) -> AbstractContextManager[BinaryIO]:
    """The whole lines that start in the part's byte range, as a stream."""
    fh = open(path, "rb")  # noqa: SIM115 - returned, closed by the caller's with
    try:
        start, end = _line_start(fh, part.start), _line_start(fh, part.end)
        fh.seek(start)
        return io.BufferedReader(_Window(fh, end - start), 1 << 16)  # type: ignore[return-value]
    except BaseException:
        fh.close()
        raise


def _line_start(fh: BinaryIO, offset: int) -> int:
    """The offset of the first line that starts at or after ``offset``."""
    if offset == 0:
        return 0
    position = offset - 1  # the rest of the line that this byte is in (or just its newline)
    fh.seek(position)
    while chunk := fh.read(1 << 16):  # in chunks: a line may be far longer than memory should hold
        newline = chunk.find(b"\n")
        if newline >= 0:
            return position + newline + 1
        position += len(chunk)
    return position


class _Window(io.RawIOBase):
    """The next ``length`` bytes of ``raw``; closes ``raw`` when closed."""

    def __init__(self, raw: BinaryIO, length: int) -> None:
        self._raw, self._left = raw, length

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        if self._left <= 0:
            return 0
        view = memoryview(buf)[: self._left]
        n = self._raw.readinto(view)  # type: ignore[attr-defined]
        self._left -= n
        return n

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


class DecompressionBomb(OSError):
    """A compressed stream expanded far more than data ever does."""


class _Counting(io.RawIOBase):
    """Counts the compressed bytes a decompressor has taken (works for pipes too)."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        data = self._raw.read(len(buf))
        buf[: len(data)] = data
        self.count += len(data)
        return len(data)


class _Decompressed(io.RawIOBase):
    """A gzip or zstandard stream, decompressed as it is read, stopped as a decompression
    bomb when it expands past the ratio cap (memory stays flat either way: nothing is
    held, so the size cap of archives does not apply to a single compressed file)."""

    def __init__(self, raw: BinaryIO, kind: str, cap: RatioCap) -> None:
        self._counter = _Counting(raw)
        self._cap = cap
        self._out = 0
        self._inner: Any
        if kind == "zstd":
            source = cast("IO[bytes]", self._counter)
            self._inner = zstandard.ZstdDecompressor().stream_reader(source, read_across_frames=True, closefd=False)
        elif kind == "xz":
            self._inner = lzma.LZMAFile(self._counter, mode="rb")  # noqa: SIM115 - read as long as this is
        elif kind == "bzip2":
            self._inner = bz2.BZ2File(self._counter, mode="rb")
        else:
            self._inner = gzip.GzipFile(fileobj=self._counter, mode="rb")

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        data = self._inner.read(len(buf))
        n = len(data)
        buf[:n] = data
        self._out += n
        if self._out > self._cap.floor and self._out > self._counter.count * self._cap.max_ratio:
            raise DecompressionBomb(
                f"expands more than {self._cap.max_ratio} times over ({self._out} bytes from "
                f"{self._counter.count}): looks like a decompression bomb; the rest is not read"
            )
        return n


def decompressed(raw: BinaryIO, cap: RatioCap = DEFAULT_CAP) -> io.BufferedReader[Any]:
    """``raw`` decompressed when it starts with gzip or zstandard magic bytes (``raw`` must
    support ``peek``), else ``raw`` itself buffered."""
    reader: io.BufferedReader[Any]
    reader = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(cast(io.RawIOBase, raw))
    kind = compression(reader.peek(6)[:6])
    if kind is not None:
        return io.BufferedReader(_Decompressed(reader, kind, cap), 1 << 16)
    return reader


#: What reading a compressed stream may raise (a damaged or truncated file).
DECOMPRESS_ERRORS = (OSError, EOFError, zlib.error, zstandard.ZstdError, lzma.LZMAError)


def open_location(
    location: Location, part: Part | Stride | None = None, cap: RatioCap = DEFAULT_CAP
) -> AbstractContextManager[BinaryIO]:
    """Open an input again where discovery found it (``part``: only that part of it; a
    stride reads the whole)."""
    if isinstance(part, Part):
        return open_part(location.path, part)
    if location.member is not None:
        return _zip_archive(location.path).open(location.member)  # type: ignore[return-value]
    if location.length is not None:
        return _open_range(location.path, location.offset, location.length)
    if location.compressed:
        return _decompressing(location.path, cap)
    return open(location.path, "rb")


def _open_range(path: str, offset: int, length: int) -> AbstractContextManager[BinaryIO]:
    fh = open(path, "rb")  # noqa: SIM115 - returned, closed by the caller's with
    try:
        fh.seek(offset)
        return io.BufferedReader(_Window(fh, length), 1 << 16)  # type: ignore[return-value]
    except BaseException:
        fh.close()
        raise


@contextmanager
def _decompressing(path: str, cap: RatioCap) -> Iterator[BinaryIO]:
    with open(path, "rb") as raw:
        yield decompressed(raw, cap)  # type: ignore[misc]


#: Zip archives this process has open (a member is opened again through its archive's
#: central directory, read once per archive rather than once per member), by path and
#: the file's identity (a file replaced since is opened afresh).
_ZIPS: dict[tuple[str, int, int, int], zipfile.ZipFile] = {}
MAX_OPEN_ZIPS = 4


def _zip_archive(path: str) -> zipfile.ZipFile:
    st = os.stat(path)
    key = (path, st.st_ino, st.st_size, st.st_mtime_ns)
    zf = _ZIPS.get(key)
    if zf is None:
        if len(_ZIPS) >= MAX_OPEN_ZIPS:
            _ZIPS.pop(next(iter(_ZIPS))).close()
        zf = _ZIPS[key] = zipfile.ZipFile(path)
    return zf
