"""Turn the user's PATH arguments into named byte streams.

A PATH is a file, a folder (walked recursively, in sorted order so that CodeMachine's
dated session files come oldest first), a ``.zip`` or tar archive (``.tar``, ``.tar.gz``,
``.tgz``, ``.tar.zst``) read in place without extracting anything to disk, a gzip or
zstandard compressed file (``.json.gz``, ``.jsonl.zst`` …, decompressed as it is read),
or ``-`` for standard input (any of these). Every kind is recognised by its magic bytes,
never by its name alone.

Streams are handed out one at a time and must be consumed before the next is asked
for: a tar archive read from a pipe can only go forwards.
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, BinaryIO

import zstandard

from otel_replay.model import FileProblem
from otel_replay.sources.jsondoc import is_json_lines

#: Names read from folders and archives; a file named on the command line is always read.
DATA_SUFFIXES = tuple(base + comp for base in (".json", ".jsonl", ".ndjson") for comp in ("", ".gz", ".zst", ".zstd"))
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
STDIN_SPOOL_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_ARCHIVE_BYTES = 2 * 1024**3
#: An archive (or zip member) that expands more than this many times over is refused as a
#: decompression bomb, once it expands past RATIO_FLOOR bytes (JSON compresses ~10-50x;
#: ``ArchiveLimits.ratio_floor``).
MAX_RATIO = 1000
RATIO_FLOOR = 16 * 1024 * 1024
#: With workers, a plain JSON Lines file over twice this size is read in parts of about
#: this size, shared among them (a Collector dump is often one large file).
PART_BYTES = 32 * 1024 * 1024
#: How much of a file is read to tell whether it is JSON Lines before splitting it.
PART_SNIFF_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ArchiveLimits:
    """How far discovery may go: archive caps, and folders it must not walk into."""

    max_bytes: int = DEFAULT_MAX_ARCHIVE_BYTES  # --max-archive-bytes: all members together
    max_ratio: int = MAX_RATIO
    #: The ratio is judged once this many bytes have come out (a small file may compress well).
    ratio_floor: int = RATIO_FLOOR
    #: Real paths of folders never read (the run's own --output folder, which a walk of
    #: ``.`` would otherwise find filling up with .jsonl files as it goes).
    exclude_dirs: frozenset[str] = frozenset()
    #: Hand out a plain JSON Lines file larger than this as parts of about this size, so
    #: that several workers can share it (None: every file is one input).
    part_bytes: int | None = None

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
class InputFile:
    name: str
    open: Callable[[], AbstractContextManager[BinaryIO]]
    size: int | None = None
    #: Set when this input is one part of a JSON Lines file split for the workers.
    part: Part | None = None


@dataclass(frozen=True, slots=True)
class Part:
    """Part ``index`` of a JSON Lines file: the lines that start in ``[start, end)``."""

    index: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class SkippedFile:
    name: str
    reason: str


Discovered = InputFile | SkippedFile | FileProblem


def wanted(name: str) -> bool:
    return name.lower().endswith(DATA_SUFFIXES)


def discover(
    paths: Sequence[str], stdin: BinaryIO | None = None, limits: ArchiveLimits | None = None
) -> Iterator[Discovered]:
    limits = limits or ArchiveLimits()
    for path in paths:
        if path == "-":
            yield from _from_stdin(stdin, limits)
        else:
            yield from _from_path(path, limits)


def _from_path(path: str, limits: ArchiveLimits) -> Iterator[Discovered]:
    try:
        st = os.stat(path)
    except OSError as exc:
        yield FileProblem(path, f"cannot read: {exc.strerror or exc}")
        return
    if stat.S_ISDIR(st.st_mode):
        yield from _walk(path, limits)
        return
    yield from _from_file(path, st.st_size, limits)


def _walk(root: str, limits: ArchiveLimits) -> Iterator[Discovered]:
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
        if limits.exclude_dirs and os.path.realpath(dirpath) in limits.exclude_dirs:
            dirnames[:] = []
            continue
        dirnames.sort()
        yield from problems
        problems.clear()
        for fname in sorted(filenames):
            full = os.path.join(dirpath, fname)
            if not wanted(fname):
                yield SkippedFile(full, "not a .json/.jsonl file")
                continue
            try:
                size = os.stat(full).st_size
            except OSError as exc:
                yield FileProblem(full, f"cannot read: {exc.strerror or exc}")
                continue
            if fname.lower().startswith("latest"):
                copies.append((full, size))
                continue
            yield from _from_file(full, size, limits)
    yield from problems
    for full, size in copies:
        yield from _from_file(full, size, limits)


def _sniff(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(512)


def _is_tar(head: bytes) -> bool:
    return len(head) >= 262 and head[257:262] == b"ustar"


def _from_file(path: str, size: int, limits: ArchiveLimits) -> Iterator[Discovered]:
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
            yield from _compressed(path, raw, size, limits)
    elif _is_tar(head):
        yield from _tar_members(path, lambda: tarfile.open(path, mode="r:"), limits, size)  # noqa: SIM115
    elif limits.part_bytes and size > 2 * limits.part_bytes and _json_lines(path):
        yield from _parts(path, size, limits.part_bytes)
    else:
        yield InputFile(path, lambda: open(path, "rb"), size)  # noqa: SIM115 - an opener, used in a with


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
        yield InputFile(path, lambda part=part: _open_part(path, part), part.end - part.start, part)  # type: ignore[misc]


def _open_part(path: str, part: Part) -> AbstractContextManager[BinaryIO]:
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

    def __init__(self, raw: BinaryIO, zstd: bool, limits: ArchiveLimits) -> None:
        self._counter = _Counting(raw)
        self._limits = limits
        self._out = 0
        self._inner: Any = (
            zstandard.ZstdDecompressor().stream_reader(self._counter, read_across_frames=True, closefd=False)
            if zstd
            else gzip.GzipFile(fileobj=self._counter, mode="rb")
        )

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        data = self._inner.read(len(buf))
        n = len(data)
        buf[:n] = data
        self._out += n
        if self._out > self._limits.ratio_floor and self._out > self._counter.count * self._limits.max_ratio:
            raise DecompressionBomb(
                f"expands more than {self._limits.max_ratio} times over ({self._out} bytes from "
                f"{self._counter.count}): looks like a decompression bomb; the rest is not read"
            )
        return n


def decompressed(raw: BinaryIO, limits: ArchiveLimits | None = None) -> io.BufferedReader:
    """``raw`` decompressed when it starts with gzip or zstandard magic bytes (``raw`` must
    support ``peek``), else ``raw`` itself buffered."""
    reader = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)  # type: ignore[arg-type]
    head = reader.peek(4)[:4]
    if head.startswith((GZIP_MAGIC, ZSTD_MAGIC)):
        inner = _Decompressed(reader, head.startswith(ZSTD_MAGIC), limits or ArchiveLimits())
        return io.BufferedReader(inner, 1 << 16)
    return reader


#: What reading a compressed stream may raise (a damaged or truncated file).
DECOMPRESS_ERRORS = (OSError, EOFError, zlib.error, zstandard.ZstdError)


def _compressed(label: str, raw: BinaryIO, size: int | None, limits: ArchiveLimits) -> Iterator[Discovered]:
    """A gzip or zstandard file: a compressed tar archive, or one compressed document."""
    try:
        stream = decompressed(raw, limits)
        head = stream.peek(512)[:512]
    except DECOMPRESS_ERRORS as exc:
        yield FileProblem(label, f"cannot decompress: {exc}")
        return
    if _is_tar(head):
        yield from _tar_members(label, lambda: tarfile.open(fileobj=stream, mode="r|"), limits, size)  # noqa: SIM115
    else:
        yield InputFile(label, lambda: nullcontext(stream), None)


def _safe_member(name: str) -> str | None:
    """Why an archive member name is refused, or None when it is safe."""
    p = PurePosixPath(name.replace("\\", "/"))
    if p.is_absolute() or (name[1:3] == ":\\" or name[1:3] == ":/"):
        return "absolute path in archive"
    if ".." in p.parts:
        return "'..' in archive path"
    return None


def _zip_members(label: str, file: str | BinaryIO, limits: ArchiveLimits) -> Iterator[Discovered]:
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
            if (why := _safe_member(info.filename)) is not None:
                yield FileProblem(name, f"refused: {why}")
                continue
            if not wanted(info.filename):
                yield SkippedFile(name, "not a .json/.jsonl file")
                continue
            yield InputFile(name, lambda info=info: zf.open(info), info.file_size)


def _tar_members(
    label: str, opener: Callable[[], tarfile.TarFile], limits: ArchiveLimits, compressed: int | None
) -> Iterator[Discovered]:
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
                if (why := _safe_member(member.name)) is not None:
                    yield FileProblem(name, f"refused: {why}")
                    continue
                if not wanted(member.name):
                    yield SkippedFile(name, "not a .json/.jsonl file")
                    continue
                fh = tf.extractfile(member)
                if fh is None:
                    continue
                yield InputFile(name, lambda fh=fh: nullcontext(fh), member.size)
        except DecompressionBomb as exc:
            yield FileProblem(label, f"refused: {exc}")
        except (tarfile.TarError, *DECOMPRESS_ERRORS) as exc:
            yield FileProblem(label, f"archive is damaged: {exc}")


def _from_stdin(stdin: BinaryIO | None, limits: ArchiveLimits) -> Iterator[Discovered]:
    if stdin is None:
        yield FileProblem("<stdin>", "standard input is not available")
        return
    reader = stdin if hasattr(stdin, "peek") else io.BufferedReader(stdin)  # type: ignore[arg-type]
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
