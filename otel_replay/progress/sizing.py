"""How many bytes of input a run will read, before it reads them — for the progress bar
only, so it is quick and may be approximate: file sizes from the folder walk, archive
members' sizes from a zip's central directory or a plain tar's headers, and a compressed
file's size once decompressed from its own trailer (gzip) or frame header (zstandard).
Nothing is decompressed; which files count is discovery's rule (the walk's
:class:`NameRules`). None when it cannot be known (standard input, a compressed file
that does not say: bzip2, xz, 7z)."""

from __future__ import annotations

import os
import stat
import tarfile
import zipfile
from collections.abc import Iterable

import zstandard

from otel_replay.sources.archives import SEVENZIP_MAGIC, ZIP_MAGIC
from otel_replay.sources.discover import Walk
from otel_replay.sources.names import is_archive, wanted
from otel_replay.sources.streams import BZIP2_MAGIC, GZIP_MAGIC, XZ_MAGIC, ZSTD_MAGIC


class _Unknown(Exception):
    """A size that cannot be known without reading."""


def input_bytes(paths: Iterable[str], walk: Walk | None = None) -> int | None:
    """The bytes the readers will take from ``paths``, or None if any cannot be known."""
    walk = walk or Walk()
    try:
        return sum(_path_bytes(path, walk) for path in paths)
    except _Unknown:
        return None


def _path_bytes(path: str, walk: Walk) -> int:
    if path == "-":
        raise _Unknown
    try:
        st = os.stat(path)
    except OSError:
        return 0  # said when discovery meets it
    if not stat.S_ISDIR(st.st_mode):
        return _file_bytes(path, st.st_size)
    total = 0
    for dirpath, dirnames, filenames in os.walk(path, followlinks=True):
        if walk.exclude_dirs and os.path.realpath(dirpath) in walk.exclude_dirs:
            dirnames[:] = []
            continue
        rel = os.path.relpath(dirpath, path).replace(os.sep, "/") + "/"
        rel = "" if rel == "./" else rel
        dirnames[:] = [d for d in dirnames if walk.rules.prune(rel + d) is None]
        for name in filenames:
            full = os.path.join(dirpath, name)
            if walk.rules.skip(rel + name) is None and os.path.realpath(full) not in walk.exclude_files:
                try:
                    total += _file_bytes(full, os.stat(full).st_size)
                except OSError:
                    continue
    return total


def _read(name: str) -> bool:
    return wanted(name) or is_archive(name)


def _file_bytes(path: str, size: int) -> int:
    try:
        with open(path, "rb") as fh:
            head = fh.read(512)
            if head.startswith(ZIP_MAGIC):
                with zipfile.ZipFile(fh) as zf:
                    return sum(i.file_size for i in zf.infolist() if not i.is_dir() and _read(i.filename))
            if head.startswith(GZIP_MAGIC) and size >= 18:
                fh.seek(size - 4)  # ISIZE: the size once decompressed, modulo 2**32 (one member)
                return int.from_bytes(fh.read(4), "little")
            if head.startswith(ZSTD_MAGIC):
                n = zstandard.frame_content_size(head)
                if n < 0:
                    raise _Unknown
                return int(n)
            if len(head) >= 262 and head[257:262] == b"ustar":
                fh.seek(0)
                with tarfile.open(fileobj=fh, mode="r:") as tf:
                    return sum(m.size for m in tf if m.isfile() and _read(m.name))
            if head.startswith((BZIP2_MAGIC, XZ_MAGIC, SEVENZIP_MAGIC)):
                raise _Unknown
    except (OSError, zipfile.BadZipFile, tarfile.TarError, zstandard.ZstdError, EOFError):
        return 0  # said when discovery meets it
    return size
