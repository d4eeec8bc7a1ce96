"""The members of a 7z archive (py7zr), within the same caps as zip and tar archives.

A 7z archive is usually solid (its files compressed as one stream), so the members to be
read are decompressed in one pass, each into its own temporary copy (in memory, on disk
past ``SPOOL_BYTES``) that stops at the size the archive declares for it; the caps are
checked on those declared sizes before anything is decompressed. The copies go when the
archive's members have all been handed out.
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, nullcontext
from typing import IO, BinaryIO, cast

import py7zr
import py7zr.exceptions
import py7zr.io

from otel_replay.model import FileProblem
from otel_replay.sources.members import Budget, Discovered, InputFile, Opener, passed_member
from otel_replay.sources.names import is_archive

SPOOL_BYTES = 8 * 1024 * 1024
_ERRORS = (py7zr.exceptions.ArchiveError, py7zr.exceptions.Bad7zFile, OSError, EOFError, ValueError, KeyError)


class _Overrun(OSError):
    """A member decompressed to more than the archive declared for it."""


class _Copy(py7zr.io.Py7zIO):
    """One member's bytes, kept up to its declared size."""

    def __init__(self, limit: int) -> None:
        self.file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - closed by the stack
        self._limit = limit
        self._size = 0

    def write(self, s: bytes | bytearray) -> int:
        self._size += len(s)
        if self._size > self._limit:
            raise _Overrun(f"a member expands beyond the {self._limit} bytes the archive declares for it")
        return self.file.write(s)

    def read(self, size: int | None = None) -> bytes:
        return self.file.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.file.seek(offset, whence)

    def flush(self) -> None:
        self.file.flush()

    def size(self) -> int:
        return self._size


class _Copies(py7zr.io.WriterFactory):
    def __init__(self, sizes: dict[str, int], stack: ExitStack) -> None:
        self.sizes, self.stack = sizes, stack
        self.copies: dict[str, _Copy] = {}

    def create(self, filename: str) -> py7zr.io.Py7zIO:
        copy = self.copies[filename] = _Copy(self.sizes.get(filename, 0))
        self.stack.callback(copy.file.close)
        return copy


#: Reads an archive found as a member: (its name, how to open it, the budget, the archives it is in).
Nested = Callable[[str, Opener, Budget, int], Iterator[Discovered]]


def sevenzip_members(
    label: str, file: str | BinaryIO, size: int | None, budget: Budget, depth: int, nested: Nested
) -> Iterator[Discovered]:
    """The members of a 7z archive (``file``: its path, or a seekable stream of ``size``
    bytes), ``depth`` archives deep."""
    try:
        archive = py7zr.SevenZipFile(file, mode="r")
    except _ERRORS as exc:
        yield FileProblem(label, f"not a readable 7z archive: {exc}")
        return
    with archive, ExitStack() as stack:
        wanted: dict[str, int] = {}
        expanded = 0
        for info in sorted(archive.list(), key=lambda i: i.filename):
            if info.is_directory:
                continue
            name = f"{label}!{info.filename}"
            passed = passed_member(name, info.filename, budget.rules)
            if passed is None:
                expanded += info.uncompressed
            why = budget.take(0 if passed else info.uncompressed) or budget.limits.check(expanded, size)
            if why is not None:
                yield FileProblem(label, f"refused: {why}")
                return
            if passed is not None:
                yield passed
            else:
                wanted[info.filename] = info.uncompressed
        if not wanted:
            return
        factory = _Copies(wanted, stack)
        try:
            archive.extract(targets=list(wanted), factory=factory)
        except _Overrun as exc:
            yield FileProblem(label, f"refused: {exc}; the rest is not read")
            return
        except (*_ERRORS, py7zr.exceptions.CrcError, py7zr.exceptions.UnsupportedCompressionMethodError) as exc:
            yield FileProblem(label, f"archive is damaged: {exc}")
            return
        for member in wanted:
            copy = factory.copies.get(member)
            if copy is None:
                continue
            copy.file.seek(0)
            opener = cast(Opener, functools.partial(nullcontext, copy.file))
            if is_archive(member):
                yield from nested(f"{label}!{member}", opener, budget, depth)
            else:
                yield InputFile(f"{label}!{member}", opener, copy.size())
