"""What discovery hands out (inputs, skipped files, problems) and the caps every archive
reader shares: :class:`ArchiveLimits` (the user's) and :class:`Budget` (one input's
archives, nested ones included)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import BinaryIO

from otel_replay.model import FileProblem
from otel_replay.sources.names import NameRules
from otel_replay.sources.streams import MAX_RATIO, RATIO_FLOOR, Location, Part, RatioCap, Stride

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
    #: Set when this input is one part of a JSON Lines file, or one stride of a large
    #: trace document (CodeMachine or OTLP/JSON), split for the workers.
    part: Part | Stride | None = None
    #: How to open it again elsewhere; None when it can only be read now, as it goes by.
    location: Location | None = None


@dataclass(frozen=True, slots=True)
class SkippedFile:
    name: str
    reason: str


Discovered = InputFile | SkippedFile | FileProblem
Opener = Callable[[], AbstractContextManager[BinaryIO]]


def _safe_member(name: str) -> str | None:
    """Why an archive member name is refused, or None when it is safe."""
    p = PurePosixPath(name.replace("\\", "/"))
    if p.is_absolute() or (name[1:3] == ":\\" or name[1:3] == ":/"):
        return "absolute path in archive"
    if ".." in p.parts:
        return "'..' in archive path"
    return None


def passed_member(name: str, member: str, rules: NameRules) -> Discovered | None:
    """Why an archive member is not read (an unsafe path, packaging noise, not a data
    file), or None."""
    if (why := _safe_member(member)) is not None:
        return FileProblem(name, f"refused: {why}")
    if (why := rules.skip(member)) is not None:
        return SkippedFile(name, why)
    return None
