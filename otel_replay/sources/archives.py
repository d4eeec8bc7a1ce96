"""The members of archives — zip, tar (plain or compressed) — and of archives inside them.

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
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import BinaryIO, cast

from otel_replay.model import FileProblem
from otel_replay.sources.names import NameRules, is_archive
from otel_replay.sources.streams import (
    DECOMPRESS_ERRORS,
    GZIP_MAGIC,
    MAX_RATIO,
    RATIO_FLOOR,
    ZSTD_MAGIC,
    DecompressionBomb,
    Location,
    Part,
    RatioCap,
    decompressed,
)

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
#: A zip archive read from a stream (stdin, a member of another archive) is copied here
#: first (zip needs random access): in memory up to this size, then in a temporary file.
SPOOL_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_ARCHIVE_BYTES = 2 * 1024**3
DEFAULT_MAX_MEMBERS = 200_000
DEFAULT_MAX_DEPTH = 3


@dataclass(frozen=True, slots=True)
class ArchiveLimits:
    """How far discovery may go into archives and compressed streams."""

    max_bytes: int = DEFAULT_MAX_ARCHIVE_BYTES  # --max-archive-bytes: all members together
    max_ratio: int = MAX_RATIO  # an archive (or zip member) expanding more is a decompression bomb
    #: The ratio is judged once this many bytes have come out (a small file may compress well).
    ratio_floor: int = RATIO_FLOOR
    #: Members of one input's archives, nested ones included, before the rest is refused.
    max_members: int = DEFAULT_MAX_MEMBERS
    #: How many archives deep discovery goes (1: an archive, not the archives inside it).
    max_depth: int = DEFAULT_MAX_DEPTH

    @property
    def ratio_cap(self) -> RatioCap:
        return RatioCap(self.max_ratio, self.ratio_floor)

    def check(self, expanded: int, compressed: int | None) -> str | None:
        """Why an archive that has expanded to ``expanded`` bytes so far must stop, or None."""
        if expanded > self.max_bytes:
            return f"expands beyond --max-archive-bytes ({self.max_bytes} bytes); the rest is not read"
        if compressed and expanded > self.ratio_floor and expanded > compressed * self.max_ratio:
            return (
                f"expands more than {self.max_ratio} times over ({expanded} bytes from {compressed}): "
                "looks like a decompression bomb; the rest is not read"
            )
        return None


@dataclass(slots=True)
class Budget:
    """What the archives of one input, nested ones included, have expanded to so far."""

    limits: ArchiveLimits
    rules: NameRules = field(default_factory=NameRules)
    expanded: int = 0
    members: int = 0

    def take(self, size: int) -> str | None:
        """Count one member of ``size`` bytes; why the rest must not be read, or None."""
        self.members += 1
        self.expanded += size
        if self.members > self.limits.max_members:
            return f"holds more than {self.limits.max_members} archive members; the rest is not read"
        if self.expanded > self.limits.max_bytes:
            return f"expands beyond --max-archive-bytes ({self.limits.max_bytes} bytes); the rest is not read"
        return None


@dataclass(frozen=True, slots=True)
class InputFile:
    name: str
    open: Callable[[], AbstractContextManager[BinaryIO]]
    size: int | None = None
    #: Set when this input is one part of a JSON Lines file split for the workers.
    part: Part | None = None
    #: How to open it again elsewhere; None when it can only be read now, as it goes by.
    location: Location | None = None


@dataclass(frozen=True, slots=True)
class SkippedFile:
    name: str
    reason: str


Discovered = InputFile | SkippedFile | FileProblem
Opener = Callable[[], AbstractContextManager[BinaryIO]]


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
    elif head.startswith((GZIP_MAGIC, ZSTD_MAGIC)):
        yield from compressed(label, reader, None, budget, depth)
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


def _safe_member(name: str) -> str | None:
    """Why an archive member name is refused, or None when it is safe."""
    p = PurePosixPath(name.replace("\\", "/"))
    if p.is_absolute() or (name[1:3] == ":\\" or name[1:3] == ":/"):
        return "absolute path in archive"
    if ".." in p.parts:
        return "'..' in archive path"
    return None


def _passed_member(name: str, member: str, rules: NameRules) -> Discovered | None:
    """Why an archive member is not read (an unsafe path, packaging noise, not a data
    file), or None."""
    if (why := _safe_member(member)) is not None:
        return FileProblem(name, f"refused: {why}")
    if (why := rules.skip(member)) is not None:
        return SkippedFile(name, why)
    return None


def _nested(name: str, opener: Opener, budget: Budget, around: int) -> Iterator[Discovered]:
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
            passed = _passed_member(name, info.filename, budget.rules)
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
                yield from _nested(name, opener, budget, depth)
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
        if (passed := _passed_member(name, member.name, budget.rules)) is not None:
            yield passed
            continue
        fh = tf.extractfile(member)
        if fh is None:
            continue
        if is_archive(member.name):
            yield from _nested(name, functools.partial(nullcontext, fh), budget, depth)
            continue
        location = None
        if path is not None and not member.issparse():
            location = Location(path, offset=member.offset_data, length=member.size)
        yield InputFile(name, cast(Opener, functools.partial(nullcontext, fh)), member.size, location=location)
