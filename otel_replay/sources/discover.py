"""Turn the user's PATH arguments into named byte streams.

A PATH is a file, a folder (walked recursively, in sorted order so that CodeMachine's
dated session files come oldest first), a ``.zip`` or tar archive (``.tar``, ``.tar.gz``,
``.tgz``, ``.tar.zst``) read in place without extracting anything to disk, a gzip or
zstandard compressed file (``.json.gz``, ``.jsonl.zst`` …, decompressed as it is read),
or ``-`` for standard input (any of these). Every kind is recognised by its magic bytes,
never by its name alone.

Streams are handed out one at a time and must be consumed before the next is asked
for: a tar archive read from a pipe can only go forwards. An input that can be opened
again on its own — a file, a part of one, a zip member, a member of a plain tar file, a
compressed file — also carries its :class:`Location`, which another process (or a second
pass) opens with :func:`open_location` without reading anything else; the others (a
member of a compressed tar, anything on stdin) must be copied out as they go by.
"""

from __future__ import annotations

import functools
import io
import os
import stat
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import BinaryIO, cast

from otel_replay.model import FileProblem
from otel_replay.sources.jsondoc import is_json_lines
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
    open_location,
    open_part,
)

#: Names read from folders and archives; a file named on the command line is always read.
DATA_SUFFIXES = tuple(base + comp for base in (".json", ".jsonl", ".ndjson") for comp in ("", ".gz", ".zst", ".zstd"))
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
STDIN_SPOOL_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_ARCHIVE_BYTES = 2 * 1024**3
#: With workers, a plain JSON Lines file over twice this size is read in parts of about
#: this size, shared among them (a Collector dump is often one large file).
PART_BYTES = 32 * 1024 * 1024
#: How much of a file is read to tell whether it is JSON Lines before splitting it.
PART_SNIFF_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ArchiveLimits:
    """How far discovery may go into archives and compressed streams."""

    max_bytes: int = DEFAULT_MAX_ARCHIVE_BYTES  # --max-archive-bytes: all members together
    max_ratio: int = MAX_RATIO  # an archive (or zip member) expanding more is a decompression bomb
    #: The ratio is judged once this many bytes have come out (a small file may compress well).
    ratio_floor: int = RATIO_FLOOR

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


@dataclass(frozen=True, slots=True)
class Walk:
    """What discovery passes by, and how it hands out what it finds."""

    #: Real paths of folders never read (the run's own --output folder, which a walk of
    #: ``.`` would otherwise find filling up with .jsonl files as it goes).
    exclude_dirs: frozenset[str] = frozenset()
    #: Real paths of files never read (the run's own --problems file).
    exclude_files: frozenset[str] = frozenset()
    #: Hand out a plain JSON Lines file larger than this as parts of about this size, so
    #: that several workers can share it (None: every file is one input).
    part_bytes: int | None = None


Opener = Callable[[], AbstractContextManager[BinaryIO]]


@dataclass(frozen=True, slots=True)
class InputFile:
    name: str
    open: Opener
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


def wanted(name: str) -> bool:
    return name.lower().endswith(DATA_SUFFIXES)


def is_latest_copy(filename: str) -> bool:
    """Whether a file is named like CodeMachine's copies of its newest session
    (``latest.json``, ``latest-logs.json``, ``latest-metrics.json``): read after the rest."""
    return filename.lower().startswith("latest")


def discover(
    paths: Sequence[str], stdin: BinaryIO | None = None, limits: ArchiveLimits | None = None, walk: Walk | None = None
) -> Iterator[Discovered]:
    limits, walk = limits or ArchiveLimits(), walk or Walk()
    for path in paths:
        if path == "-":
            yield from _from_stdin(stdin, limits)
        else:
            yield from _from_path(path, limits, walk)


def _from_path(path: str, limits: ArchiveLimits, walk: Walk) -> Iterator[Discovered]:
    try:
        st = os.stat(path)
    except OSError as exc:
        yield FileProblem(path, f"cannot read: {exc.strerror or exc}")
        return
    if stat.S_ISDIR(st.st_mode):
        yield from _walk(path, limits, walk)
        return
    yield from _from_file(path, st.st_size, limits, walk)


def _walk(root: str, limits: ArchiveLimits, walk: Walk) -> Iterator[Discovered]:
    """Files in sorted order, but CodeMachine's ``latest*.json`` copies after everything
    else: the dated originals then come first, oldest session first (which is the order
    Loki needs within a stream), and the copies are dropped as duplicates."""
    seen_dirs: set[tuple[int, int]] = set()
    problems: list[FileProblem] = []
    copies: list[tuple[str, int]] = []

    def onerror(exc: OSError) -> None:
        problems.append(FileProblem(exc.filename or root, f"cannot read folder: {exc.strerror or exc}"))

    for dirpath, dirnames, filenames in os.walk(root, onerror=onerror, followlinks=True):
        st = os.stat(dirpath)
        if (st.st_dev, st.st_ino) in seen_dirs:  # a symlink loop: walk each folder once
            dirnames[:] = []
            continue
        seen_dirs.add((st.st_dev, st.st_ino))
        if walk.exclude_dirs and os.path.realpath(dirpath) in walk.exclude_dirs:
            dirnames[:] = []
            continue
        dirnames.sort()
        yield from problems
        problems.clear()
        for fname in sorted(filenames):
            full = os.path.join(dirpath, fname)
            if walk.exclude_files and os.path.realpath(full) in walk.exclude_files:
                continue
            if not wanted(fname):
                yield SkippedFile(full, "not a .json/.jsonl file")
                continue
            try:
                size = os.stat(full).st_size
            except OSError as exc:
                yield FileProblem(full, f"cannot read: {exc.strerror or exc}")
                continue
            if is_latest_copy(fname):
                copies.append((full, size))
                continue
            yield from _from_file(full, size, limits, walk)
    yield from problems
    for full, size in copies:
        yield from _from_file(full, size, limits, walk)


def _sniff(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(512)


def _is_tar(head: bytes) -> bool:
    return len(head) >= 262 and head[257:262] == b"ustar"


def _from_file(path: str, size: int, limits: ArchiveLimits, walk: Walk) -> Iterator[Discovered]:
    try:
        head = _sniff(path)
    except OSError as exc:
        yield FileProblem(path, f"cannot read: {exc.strerror or exc}")
        return
    if head.startswith(ZIP_MAGIC):
        yield from _zip_members(path, path, limits)
    elif head.startswith((GZIP_MAGIC, ZSTD_MAGIC)):
        try:
            raw = open(path, "rb")  # noqa: SIM115 - held open while the generator hands out its stream
        except OSError as exc:
            yield FileProblem(path, f"cannot read: {exc.strerror or exc}")
            return
        with raw:
            yield from _compressed(path, raw, size, limits, Location(path, compressed=True))
    elif _is_tar(head):
        yield from _tar_members(path, lambda: tarfile.open(path, mode="r:"), limits, size, path)  # noqa: SIM115
    elif walk.part_bytes and size > 2 * walk.part_bytes and _json_lines(path):
        yield from _parts(path, size, walk.part_bytes)
    else:
        location = Location(path)
        yield InputFile(path, lambda: open_location(location), size, location=location)


def _json_lines(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            return is_json_lines(fh.read(PART_SNIFF_BYTES))
    except OSError:
        return False  # said when it is read as one input


def _parts(path: str, size: int, part_bytes: int) -> Iterator[InputFile]:
    n = -(-size // part_bytes)
    bounds = [size * i // n for i in range(n + 1)]
    for i in range(n):
        part = Part(i, bounds[i], bounds[i + 1])
        opener = functools.partial(open_part, path, part)
        yield InputFile(path, opener, part.end - part.start, part, Location(path))


def _compressed(
    label: str, raw: BinaryIO, size: int | None, limits: ArchiveLimits, location: Location | None = None
) -> Iterator[Discovered]:
    """A gzip or zstandard file: a compressed tar archive, or one compressed document
    (``location``: where it is opened again, when it is a file)."""
    try:
        stream = decompressed(raw, limits.ratio_cap)
        head = stream.peek(512)[:512]
    except DECOMPRESS_ERRORS as exc:
        yield FileProblem(label, f"cannot decompress: {exc}")
        return
    if _is_tar(head):
        yield from _tar_members(label, lambda: tarfile.open(fileobj=stream, mode="r|"), limits, size)  # noqa: SIM115
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


def _passed_member(name: str, member: str) -> Discovered | None:
    """Why an archive member is not read (an unsafe path, not a data file), or None."""
    if (why := _safe_member(member)) is not None:
        return FileProblem(name, f"refused: {why}")
    if not wanted(member):
        return SkippedFile(name, "not a .json/.jsonl file")
    return None


def _zip_members(label: str, file: str | BinaryIO, limits: ArchiveLimits) -> Iterator[Discovered]:
    """The members of a zip archive (located when ``file`` is a path: each is compressed
    on its own, so another process can read one without the others)."""
    try:
        zf = zipfile.ZipFile(file)
    except (zipfile.BadZipFile, OSError) as exc:
        yield FileProblem(label, f"not a readable zip archive: {exc}")
        return
    with zf:
        expanded = compressed = 0
        for info in sorted(zf.infolist(), key=lambda i: i.filename):
            if info.is_dir():
                continue
            name = f"{label}!{info.filename}"
            if wanted(info.filename):  # only what is read expands (zip reads stop at the declared size)
                expanded += info.file_size
                compressed += info.compress_size
                if (why := limits.check(expanded, compressed)) is not None:
                    yield FileProblem(label, f"refused: {why}")
                    return
                if (why := limits.check(info.file_size, info.compress_size)) is not None:
                    yield FileProblem(name, f"refused: {why.split(';')[0]}")
                    continue
            if (passed := _passed_member(name, info.filename)) is not None:
                yield passed
                continue
            location = None
            if isinstance(file, str):
                location = Location(file, info.filename, compressed=info.compress_type != zipfile.ZIP_STORED)
            yield InputFile(name, cast(Opener, functools.partial(zf.open, info)), info.file_size, location=location)


def _tar_members(
    label: str,
    opener: Callable[[], tarfile.TarFile],
    limits: ArchiveLimits,
    compressed: int | None,
    path: str | None = None,
) -> Iterator[Discovered]:
    """The members of a tar archive; ``path``: the archive is this plain (uncompressed)
    file, in which each member's data is one byte range."""
    try:
        tf = opener()
    except (tarfile.TarError, OSError, EOFError) as exc:
        yield FileProblem(label, f"not a readable tar archive: {exc}")
        return
    with tf:
        expanded = 0
        try:
            for member in tf:
                name = f"{label}!{member.name}"
                expanded += member.size + 512  # every member's data is decompressed, read or not
                if (why := limits.check(expanded, compressed)) is not None:
                    yield FileProblem(label, f"refused: {why}")
                    return
                if not member.isfile():
                    if not member.isdir():
                        yield SkippedFile(name, "not a regular file")
                    continue
                if (passed := _passed_member(name, member.name)) is not None:
                    yield passed
                    continue
                fh = tf.extractfile(member)
                if fh is None:
                    continue
                location = None
                if path is not None and not member.issparse():
                    location = Location(path, offset=member.offset_data, length=member.size)
                yield InputFile(name, cast(Opener, functools.partial(nullcontext, fh)), member.size, location=location)
        except DecompressionBomb as exc:
            yield FileProblem(label, f"refused: {exc}")
        except (tarfile.TarError, *DECOMPRESS_ERRORS) as exc:
            yield FileProblem(label, f"archive is damaged: {exc}")


def _from_stdin(stdin: BinaryIO | None, limits: ArchiveLimits) -> Iterator[Discovered]:
    if stdin is None:
        yield FileProblem("<stdin>", "standard input is not available")
        return
    reader = stdin if hasattr(stdin, "peek") else io.BufferedReader(cast(io.RawIOBase, stdin))
    head = reader.peek(512)[:512]  # type: ignore[attr-defined]
    if head.startswith(ZIP_MAGIC):
        # zip needs random access: spool (to memory, then a temporary file when large).
        with tempfile.SpooledTemporaryFile(max_size=STDIN_SPOOL_BYTES) as spool:
            while chunk := reader.read(1 << 20):
                spool.write(chunk)
            spool.seek(0)
            yield from _zip_members("<stdin>", spool, limits)  # type: ignore[arg-type]
    elif head.startswith((GZIP_MAGIC, ZSTD_MAGIC)):
        yield from _compressed("<stdin>", reader, None, limits)
    elif _is_tar(head):
        yield from _tar_members("<stdin>", lambda: tarfile.open(fileobj=reader, mode="r|"), limits, None)  # noqa: SIM115
    else:
        yield InputFile("<stdin>", lambda: nullcontext(reader), None)
