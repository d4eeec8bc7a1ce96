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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO, cast

from otel_replay.model import FileProblem, Signal
from otel_replay.sources.archives import (
    SEVENZIP_MAGIC,
    ZIP_MAGIC,
    ArchiveLimits,
    Budget,
    Discovered,
    InputFile,
    SkippedFile,
    compressed,
    from_stream,
    is_tar,
    nested,
    tar_members,
    zip_members,
)
from otel_replay.sources.codemachine import classify
from otel_replay.sources.jsondoc import DocumentError, read_document, starts_json_lines
from otel_replay.sources.jsontext import first_array_key
from otel_replay.sources.members import DEFAULT_MAX_ARCHIVE_BYTES
from otel_replay.sources.names import DATA_SUFFIXES, NameRules
from otel_replay.sources.streams import (
    DECOMPRESS_ERRORS,
    Location,
    Part,
    Stride,
    compression,
    open_location,
    open_part,
)

__all__ = [
    "DATA_SUFFIXES",
    "DECOMPRESS_ERRORS",
    "DEFAULT_MAX_ARCHIVE_BYTES",
    "ArchiveLimits",
    "Discovered",
    "InputFile",
    "SkippedFile",
    "Walk",
    "discover",
]

#: With workers, a plain JSON Lines file over twice this size is read in parts of about
#: this size, shared among them (a Collector dump is often one large file).
PART_BYTES = 32 * 1024 * 1024
#: How much of a file is read to tell whether it is JSON Lines before splitting it.
PART_SNIFF_BYTES = 1024 * 1024
#: A large CodeMachine trace document is shared as one stride per PART_BYTES, at most this
#: many: each stride parses the whole document (converting, encoding and sending a share of
#: it), so more strides than cores would parse it for nothing.
MAX_STRIDES = 8


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
    #: Which files of folders and archives are read (--include, --exclude, packaging noise).
    rules: NameRules = field(default_factory=NameRules)


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
            yield from _from_stdin(stdin, limits, walk)
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
        yield from problems
        problems.clear()
        rel = os.path.relpath(dirpath, root).replace(os.sep, "/") + "/"
        rel = "" if rel == "./" else rel
        kept = []
        for dirname in sorted(dirnames):
            if (why := walk.rules.prune(rel + dirname)) is not None:  # not walked: not even listed
                yield SkippedFile(os.path.join(dirpath, dirname) + os.sep, why)
            else:
                kept.append(dirname)
        dirnames[:] = kept
        for fname in sorted(filenames):
            full = os.path.join(dirpath, fname)
            if walk.exclude_files and os.path.realpath(full) in walk.exclude_files:
                continue
            if (why := walk.rules.skip(rel + fname)) is not None:
                yield SkippedFile(full, why)
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


def _from_file(path: str, size: int, limits: ArchiveLimits, walk: Walk) -> Iterator[Discovered]:
    try:
        head = _sniff(path)
    except OSError as exc:
        yield FileProblem(path, f"cannot read: {exc.strerror or exc}")
        return
    if head.startswith(ZIP_MAGIC):
        yield from zip_members(path, path, Budget(limits, walk.rules))
    elif head.startswith(SEVENZIP_MAGIC):
        from otel_replay.sources.sevenzip import sevenzip_members  # py7zr: only for a 7z archive

        yield from sevenzip_members(path, path, size, Budget(limits, walk.rules), 1, nested)
    elif compression(head) is not None:
        try:
            raw = open(path, "rb")  # noqa: SIM115 - held open while the generator hands out its stream
        except OSError as exc:
            yield FileProblem(path, f"cannot read: {exc.strerror or exc}")
            return
        with raw:
            yield from compressed(path, raw, size, Budget(limits, walk.rules), 1, Location(path, compressed=True))
    elif is_tar(head):
        opener = functools.partial(tarfile.open, path, mode="r:")
        yield from tar_members(path, opener, Budget(limits, walk.rules), size, path)
    elif walk.part_bytes and size > 2 * walk.part_bytes and _json_lines(path):
        yield from _parts(path, size, walk.part_bytes)
    elif walk.part_bytes and size > 2 * walk.part_bytes and _trace_document(path):
        yield from _strides(path, size, min(MAX_STRIDES, size // walk.part_bytes))
    else:
        location = Location(path)
        yield InputFile(path, lambda: open_location(location), size, location=location)


def _json_lines(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            return starts_json_lines(fh, PART_SNIFF_BYTES)
    except OSError:
        return False  # said when it is read as one input


def _parts(path: str, size: int, part_bytes: int) -> Iterator[InputFile]:
    n = -(-size // part_bytes)
    bounds = [size * i // n for i in range(n + 1)]
    for i in range(n):
        part = Part(i, bounds[i], bounds[i + 1])
        opener = functools.partial(open_part, path, part)
        yield InputFile(path, opener, part.end - part.start, part, Location(path))


def _trace_document(path: str) -> bool:
    """Whether the file is a CodeMachine trace document, told by its top level up to its
    record array (not read further), or an OTLP/JSON one, told by its first array's key
    (its scan would read it to its end)."""
    try:
        with open(path, "rb") as fh:
            if first_array_key(fh.read(PART_SNIFF_BYTES)) == "resourceSpans":
                return True
            fh.seek(0)
            doc = read_document(fh)
            return doc.lines is None and not doc.notes and classify(doc) is Signal.TRACES
    except (OSError, ValueError, DocumentError):
        return False  # said when it is read as one input


def _strides(path: str, size: int, count: int) -> Iterator[InputFile]:
    """``count`` inputs, each the whole file and a share of its records (its size the
    share's, for the progress bar)."""
    location = Location(path)
    for i in range(count):
        share = size * (i + 1) // count - size * i // count
        yield InputFile(path, lambda: open_location(location), share, Stride(i, count), location)


def _from_stdin(stdin: BinaryIO | None, limits: ArchiveLimits, walk: Walk) -> Iterator[Discovered]:
    if stdin is None:
        yield FileProblem("<stdin>", "standard input is not available")
        return
    reader = stdin if isinstance(stdin, io.BufferedReader) else io.BufferedReader(cast(io.RawIOBase, stdin))
    yield from from_stream("<stdin>", reader, Budget(limits, walk.rules), 0)
