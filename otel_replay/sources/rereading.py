"""Streams that hand back bytes already read before the rest of their source.

A document's reader looks at its first bytes (or scans it to its end) before it knows how
to read it; the source may be a pipe or an archive member, which cannot seek back. These
read it once and hand the bytes back, from memory or from a spool on disk.
"""

from __future__ import annotations

import io
from typing import IO, Any, BinaryIO


class Replay(io.RawIOBase):
    """A stream that first yields already-read bytes, then the rest of the original
    (``count``: the bytes it has handed out)."""

    def __init__(self, prefix: bytes, rest: BinaryIO) -> None:
        self._prefix = memoryview(prefix)
        self._rest = rest
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        if self._prefix:
            n = min(len(buf), len(self._prefix))
            buf[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:] if n < len(self._prefix) else memoryview(b"")  # the bytes let go
            self.count += n
            return n
        data = self._rest.read(len(buf))
        buf[: len(data)] = data
        self.count += len(data)
        return len(data)


class Recorder(io.RawIOBase):
    """Reads ``source`` and keeps a copy of what it read in ``copy``."""

    def __init__(self, source: io.RawIOBase, copy: IO[bytes]) -> None:
        self._src, self._copy = source, copy

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        n = self._src.readinto(buf) or 0
        self._copy.write(memoryview(buf)[:n])
        return n


class Chain(io.RawIOBase):
    """``first`` to its end, then ``rest``."""

    def __init__(self, first: IO[bytes], rest: io.RawIOBase) -> None:
        self._first: IO[bytes] | None = first
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        if self._first is not None and len(buf):  # ijson reads 0 bytes to see the type
            data = self._first.read(len(buf))
            if data:
                buf[: len(data)] = data
                return len(data)
            self._first = None
        return self._rest.readinto(buf) or 0
