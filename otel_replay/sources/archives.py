"""The members of archives — zip, tar (plain or compressed), 7z — and of archives inside them.

Nothing is extracted to disk: a member is handed out as a stream (or, when it can be
opened again on its own, with its :class:`Location`). An archive found as a member of
another (a folder of bug reports zipped together) is read in turn, up to
``ArchiveLimits.max_depth`` levels deep; every archive of one input, nested ones
included, shares one :class:`Budget`, so the size and member caps bound the whole input,
and each archive is stopped on its own past the ratio cap (a decompression bomb).
"""

from __future__ import annotations

import functools
import io
import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from typing import BinaryIO, cast

from otel_replay.model import FileProblem
from otel_replay.sources.members import (
    ArchiveLimits,
    Budget,
    Discovered,
    InputFile,
    Opener,
    SkippedFile,
    passed_member,
)
from otel_replay.sources.names import is_archive
from otel_replay.sources.streams import DECOMPRESS_ERRORS, DecompressionBomb, Location, compression, decompressed

__all__ = ["ArchiveLimits", "Budget", "Discovered", "InputFile", "SkippedFile", "from_stream", "zip_members"]

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
SEVENZIP_MAGIC = b"7z\xbc\xaf\x27\x1c"
#: A zip archive read from a stream (stdin, a member of another archive) is copied here
#: first (zip needs random access): in memory up to this size, then in a temporary file.
SPOOL_BYTES = 64 * 1024 * 1024


def is_tar(head: bytes) -> bool:
    return len(head) >= 262 and head[257:262] == b"ustar"


def from_stream(label: str, reader: io.BufferedReader, budget: Budget, around: int) -> Iterator[Discovered]:
    """Whatever a stream holds (standard input, a member of an archive): an archive's
    members, or the stream itself as one input. ``around``: the archives it is in."""
    depth = around + 1  # an archive found here
    head = reader.peek(512)[:512]
    if head.startswith(ZIP_MAGIC):
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
            while chunk := reader.read(1 << 20):
                spool.write(chunk)
            spool.seek(0)
            yield from zip_members(label, cast(BinaryIO, spool), budget, depth)
    elif compression(head) is not None:
        yield from compressed(label, reader, None, budget, depth)
    elif head.startswith(SEVENZIP_MAGIC):
        from otel_replay.sources.sevenzip import sevenzip_members  # py7zr: only for a 7z archive

        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
            shutil.copyfileobj(reader, spool, 1 << 20)
            size = spool.tell()
            spool.seek(0)
            yield from sevenzip_members(label, cast(BinaryIO, spool), size, budget, depth, nested)
    elif is_tar(head):
        opener = functools.partial(tarfile.open, fileobj=reader, mode="r|")
        yield from tar_members(label, opener, budget, None, depth=depth)
    else:
        yield InputFile(label, lambda: nullcontext(reader), None)


def compressed(
    label: str, raw: BinaryIO, size: int | None, budget: Budget, depth: int, location: Location | None = None
) -> Iterator[Discovered]:
    """A gzip or zstandard file: a compressed tar archive, or one compressed document
    (``location``: where it is opened again, when it is a file)."""
    try:
        stream = decompressed(raw, budget.limits.ratio_cap)
        head = stream.peek(512)[:512]
    except DECOMPRESS_ERRORS as exc:
        yield FileProblem(label, f"cannot decompress: {exc}")
        return
    if is_tar(head):
        opener = functools.partial(tarfile.open, fileobj=stream, mode="r|")
        yield from tar_members(label, opener, budget, size, depth=depth)
    else:
        yield InputFile(label, lambda: nullcontext(stream), None, location=location)


def nested(name: str, opener: Opener, budget: Budget, around: int) -> Iterator[Discovered]:
    """An archive that is a member of another, read in turn (``around``: the archives it is in)."""
    if around >= budget.limits.max_depth:
        yield FileProblem(name, f"refused: an archive nested more than {budget.limits.max_depth} archives deep")
        return
    with opener() as raw:
        reader = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(cast(io.RawIOBase, raw))
        yield from from_stream(name, reader, budget, around)


def zip_members(label: str, file: str | BinaryIO, budget: Budget, depth: int = 1) -> Iterator[Discovered]:
    """The members of a zip archive (located when ``file`` is a path: each is compressed
    on its own, so another process can read one without the others)."""
    try:
        zf = zipfile.ZipFile(file)
    except (zipfile.BadZipFile, OSError) as exc:
        yield FileProblem(label, f"not a readable zip archive: {exc}")
        return
    limits = budget.limits
    with zf:
        expanded = packed = 0
        for info in sorted(zf.infolist(), key=lambda i: i.filename):
            if info.is_dir():
                continue
            name = f"{label}!{info.filename}"
            passed = passed_member(name, info.filename, budget.rules)
            # only what is read expands (zip reads stop at the declared size)
            if passed is None:
                expanded, packed = expanded + info.file_size, packed + info.compress_size
            why = budget.take(0 if passed else info.file_size)
            if (why := why or limits.check(expanded, packed)) is not None:
                yield FileProblem(label, f"refused: {why}")
                return
            if passed is not None:
                yield passed
                continue
            if (why := limits.check(info.file_size, info.compress_size)) is not None:
                yield FileProblem(name, f"refused: {why.split(';')[0]}")
                continue
            opener = cast(Opener, functools.partial(zf.open, info))
            if is_archive(info.filename):
                yield from nested(name, opener, budget, depth)
                continue
            location = None
            if isinstance(file, str):
                location = Location(file, info.filename, compressed=info.compress_type != zipfile.ZIP_STORED)
            yield InputFile(name, opener, info.file_size, location=location)


def tar_members(
    label: str,
    opener: Callable[[], tarfile.TarFile],
    budget: Budget,
    packed: int | None,
    path: str | None = None,
    depth: int = 1,
) -> Iterator[Discovered]:
    """The members of a tar archive; ``path``: the archive is this plain (uncompressed)
    file, in which each member's data is one byte range."""
    try:
        tf = opener()
    except (tarfile.TarError, OSError, EOFError) as exc:
        yield FileProblem(label, f"not a readable tar archive: {exc}")
        return
    with tf:
        try:
            yield from _tar_walk(label, tf, budget, packed, path, depth)
        except DecompressionBomb as exc:
            yield FileProblem(label, f"refused: {exc}")
        except (tarfile.TarError, *DECOMPRESS_ERRORS) as exc:
            yield FileProblem(label, f"archive is damaged: {exc}")


def _tar_walk(
    label: str, tf: tarfile.TarFile, budget: Budget, packed: int | None, path: str | None, depth: int
) -> Iterator[Discovered]:
    expanded = 0
    for member in tf:
        name = f"{label}!{member.name}"
        expanded += member.size + 512  # every member's data is decompressed, read or not
        if (why := budget.take(member.size + 512) or budget.limits.check(expanded, packed)) is not None:
            yield FileProblem(label, f"refused: {why}")
            return
        if not member.isfile():
            if not member.isdir():
                yield SkippedFile(name, "not a regular file")
            continue
        if (passed := passed_member(name, member.name, budget.rules)) is not None:
            yield passed
            continue
        fh = tf.extractfile(member)
        if fh is None:
            continue
        if is_archive(member.name):
            yield from nested(name, functools.partial(nullcontext, fh), budget, depth)
            continue
        location = None
        if path is not None and not member.issparse():
            location = Location(path, offset=member.offset_data, length=member.size)
        yield InputFile(name, cast(Opener, functools.partial(nullcontext, fh)), member.size, location=location)
