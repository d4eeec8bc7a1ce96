"""How many bytes of input a run will read, before it reads them — for the progress bar
only, so it is quick and may be approximate: file sizes from the folder walk, archive
members' sizes from a zip's central directory or a plain tar's headers, and a compressed
file's size once decompressed from its own trailer (gzip) or frame header (zstandard).
Nothing is decompressed; which files count is discovery's rule (:func:`wanted`). None
when it cannot be known (standard input, a compressed file that does not say)."""

from __future__ import annotations

import os
import stat
import tarfile
import zipfile
from collections.abc import Iterable

import zstandard

from otel_replay.sources.discover import GZIP_MAGIC, ZIP_MAGIC, ZSTD_MAGIC, wanted


def input_bytes(paths: Iterable[str], exclude_dirs: frozenset[str] = frozenset()) -> int | None:
    """The bytes the readers will take from ``paths``, or None if any cannot be known."""
    total = 0
    for path in paths:
        size = None if path == "-" else _path_bytes(path, exclude_dirs)
        if size is None:
            return None
        total += size
    return total


def _path_bytes(path: str, exclude_dirs: frozenset[str]) -> int | None:
    try:
        st = os.stat(path)
    except OSError:
        return 0  # said when discovery meets it
    if not stat.S_ISDIR(st.st_mode):
        return _file_bytes(path, st.st_size)
    total = 0
    for dirpath, dirnames, filenames in os.walk(path, followlinks=True):
        if exclude_dirs and os.path.realpath(dirpath) in exclude_dirs:
            dirnames[:] = []
            continue
        for name in filenames:
            if wanted(name):
                full = os.path.join(dirpath, name)
                try:
                    size = _file_bytes(full, os.stat(full).st_size)
                except OSError:
                    continue
                if size is None:
                    return None
                total += size
    return total


def _file_bytes(path: str, size: int) -> int | None:
    try:
        with open(path, "rb") as fh:
            head = fh.read(512)
            if head.startswith(ZIP_MAGIC):
                with zipfile.ZipFile(fh) as zf:
                    return sum(i.file_size for i in zf.infolist() if not i.is_dir() and wanted(i.filename))
            if head.startswith(GZIP_MAGIC) and size >= 18:
                fh.seek(size - 4)  # ISIZE: the size once decompressed, modulo 2**32 (one member)
                return int.from_bytes(fh.read(4), "little")
            if head.startswith(ZSTD_MAGIC):
                n = zstandard.frame_content_size(head)
                return None if n < 0 else n
            if len(head) >= 262 and head[257:262] == b"ustar":
                fh.seek(0)
                with tarfile.open(fileobj=fh, mode="r:") as tf:
                    return sum(m.size for m in tf if m.isfile() and wanted(m.name))
    except (OSError, zipfile.BadZipFile, tarfile.TarError, zstandard.ZstdError, EOFError):
        return 0  # said when discovery meets it
    return size
