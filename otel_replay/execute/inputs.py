"""Work items: the discovered inputs of a run, each as any process opens it on its own.

The parent process discovers the inputs once. An input discovery located (a file, a
part of one, a zip member, a plain tar member: see :class:`Location`) is handed out by
where it is. One that can only be read as it goes by — a member of a compressed tar,
anything on stdin — is copied out once, decompressed, into a spool folder (each copy at
most ``--max-archive-bytes``) and handed out as that copy. A run that reads its inputs
twice (``--shift-to-now``'s first pass) copies out compressed inputs too, so that each is
decompressed once whatever ``--workers`` is. The spool folder is removed at the end.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, BinaryIO

from otel_replay.model import FileProblem
from otel_replay.sources.discover import ArchiveLimits, Discovered, InputFile, SkippedFile, is_latest_copy
from otel_replay.sources.streams import DECOMPRESS_ERRORS, DEFAULT_CAP, Location, Part, RatioCap, Stride, open_location

#: What copying an input out may raise: what reading it would raise (said again when the
#: copy is read, after the bytes that were copied), or a full disk.
_COPY_ERRORS = (*DECOMPRESS_ERRORS, zipfile.BadZipFile, RuntimeError)
_CHUNK = 1 << 20
#: Consecutive inputs handed out to one worker together, up to this many bytes (and
#: GROUP_ITEMS inputs): each hand-out costs a worker a round trip to the parent, a wait
#: for its turn to push to Loki and a last push of its own: a third of the wall time of a
#: logs replay of 800 files of 100 records, 5 % of one of 1,000 (bench/RESULTS.md).
GROUP_BYTES = 4 << 20
GROUP_ITEMS = 16
#: The same when the inputs' total is not known (no first pass: ``--time-offset``): small
#: enough that a run of a few MB is still shared among the workers.
UNMEASURED_GROUP_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class WorkItem:
    """Discovered input number ``index`` (in discovery order), as plain data."""

    index: int
    name: str
    location: Location
    size: int | None = None
    part: Part | Stride | None = None
    #: A copy in the spool folder (removed once it is read, in a run that reads once).
    spooled: bool = False
    #: What reading the original raised after the bytes that were copied out.
    error: str | None = None

    def input(self, cap: RatioCap = DEFAULT_CAP) -> InputFile:
        opener: Callable[[], AbstractContextManager[BinaryIO]]
        opener = functools.partial(open_location, self.location, self.part, cap)
        if self.error is not None:
            opener = functools.partial(_failing_at_end, opener, self.error)
        return InputFile(self.name, opener, self.size, self.part, self.location)


Entry = WorkItem | SkippedFile | FileProblem


def as_input(entry: Entry | Discovered, cap: RatioCap = DEFAULT_CAP) -> Discovered:
    return entry.input(cap) if isinstance(entry, WorkItem) else entry


def is_copy(entry: Entry | Discovered) -> bool:
    """Whether ``entry`` is named like a CodeMachine ``latest*.json`` copy (a file, or an
    archive member: ``bundle.zip!dir/latest.json``)."""
    return isinstance(entry, (InputFile, WorkItem)) and is_latest_copy(os.path.basename(entry.name.rsplit("!", 1)[-1]))


def group_limit(total: int | None, workers: int) -> int:
    """The bytes of inputs one hand-out holds: GROUP_BYTES, or less when the inputs are few
    (``total``: their bytes, when known), so that each worker still gets eight or more."""
    if total is None:
        return UNMEASURED_GROUP_BYTES
    return max(1, min(GROUP_BYTES, total // (workers * 8)))


def grouped(entries: Iterable[Entry], limit: int) -> Iterator[SkippedFile | FileProblem | tuple[WorkItem, ...]]:
    """``entries`` with consecutive work items in groups of up to ``limit`` bytes (an item
    that would pass it starts a group, and one larger or of unknown size goes alone); a
    ``latest*.json`` copy after other inputs starts a group, as copies wait for those
    inputs (see workers.py)."""
    group: list[WorkItem] = []
    size = 0
    for entry in entries:
        if not isinstance(entry, WorkItem):
            yield entry
            continue
        n = limit if entry.size is None else entry.size
        if group and (size + n > limit or (is_copy(entry) and not is_copy(group[0]))):
            yield tuple(group)
            group, size = [], 0
        group.append(entry)
        size += n
        if size >= limit or len(group) >= GROUP_ITEMS:
            yield tuple(group)
            group, size = [], 0
    if group:
        yield tuple(group)


def copies_last(found: Iterable[Discovered], cap: RatioCap = DEFAULT_CAP) -> Iterator[Discovered]:
    """The inputs as discovered, but the ``latest*.json`` copies after all the others,
    whatever order the paths were given in: the dated session files are then the ones
    replayed, the copies the ones skipped as duplicates, and problem lines and --verbose
    name the same files on every run. (A folder's walk puts them last already.) Only a
    copy that can be opened again later waits (anything but stdin and compressed tar
    members, which are read as they go by)."""
    waiting: list[InputFile] = []
    for entry in found:
        if isinstance(entry, InputFile) and entry.location is not None and is_copy(entry):
            location, part = entry.location, entry.part
            opener = functools.partial(open_location, location, part, cap)  # its archive may be closed by then
            waiting.append(InputFile(entry.name, opener, entry.size, part, location))
        else:
            yield entry
    yield from waiting


class Spool:
    """Turns discovered inputs into work items, copying out the ones that need it."""

    def __init__(self, limits: ArchiveLimits, copy_compressed: bool) -> None:
        self._limits = limits
        self._copy_compressed = copy_compressed
        self._folder: str | None = None
        #: Bytes written into the spool folder so far (all copies together).
        self.copied = 0

    def items(self, found: Iterable[Discovered]) -> Iterator[Entry]:
        index = 0
        for entry in found:
            if not isinstance(entry, InputFile):
                yield entry
                continue
            location = entry.location
            if location is None or (self._copy_compressed and location.compressed):
                yield self._copy(entry, index)
            else:
                yield WorkItem(index, entry.name, location, entry.size, entry.part)
            index += 1

    def _copy(self, entry: InputFile, index: int) -> WorkItem:
        """``entry`` copied out now, before discovery moves on (its stream goes forwards only)."""
        if self._folder is None:
            self._folder = tempfile.mkdtemp(prefix="otel-replay-")
        path = os.path.join(self._folder, f"{index:07d}")
        limit = self._limits.max_bytes
        error = None
        size = 0
        try:
            with open(path, "wb") as out, entry.open() as stream:
                while chunk := stream.read(_CHUNK):
                    if size + len(chunk) > limit:
                        out.write(chunk[: limit - size])
                        size = limit
                        error = (
                            f"kept to be read again, it expands beyond --max-archive-bytes ({limit} bytes); "
                            "the rest is not read"
                        )
                        break
                    out.write(chunk)
                    size += len(chunk)
        except _COPY_ERRORS as exc:
            error = str(exc)
        self.copied += size
        return WorkItem(index, entry.name, Location(path), size, spooled=True, error=error)

    def discard(self, item: WorkItem) -> None:
        """``item`` is read and will not be read again: its copy goes."""
        if item.spooled:
            with contextlib.suppress(OSError):  # the folder goes at the end anyway
                os.unlink(item.location.path)

    def close(self) -> None:
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None


@contextmanager
def _failing_at_end(opener: Callable[[], AbstractContextManager[BinaryIO]], error: str) -> Iterator[BinaryIO]:
    with opener() as stream:
        yield io.BufferedReader(_ThenRaise(stream, error), _CHUNK)  # type: ignore[misc]


class _ThenRaise(io.RawIOBase):
    """The bytes of ``raw``, then the error that cut its original short."""

    def __init__(self, raw: BinaryIO, error: str) -> None:
        self._raw, self._error = raw, error

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        n = self._raw.readinto(buf)  # type: ignore[attr-defined]
        if not n:
            raise OSError(self._error)
        return int(n)
