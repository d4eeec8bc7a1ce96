"""Where ``otel-replay scrub -o OUT`` writes: a folder, a ``.zip`` or a ``.tar.gz``.

Written whole or not at all: into a temporary sibling of OUT, renamed into place at the
end. Reproducible: members in the order written, no times, owners or permissions from this
machine (the same input and salt give the same bytes). OUT is never overwritten unless
asked (``--overwrite``), and a folder only when an earlier ``scrub`` wrote it.
"""

from __future__ import annotations

import gzip
import io
import os
import shutil
import tarfile
import tempfile
import zipfile
from typing import BinaryIO

from otel_replay.sources.names import SCRUB_MANIFEST

MANIFEST = SCRUB_MANIFEST
#: Every member's time in an archive (zip cannot say 1970).
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


class TargetError(Exception):
    """OUT cannot be written (one line, naming it)."""


def kind_of(out: str) -> str:
    low = out.lower()
    if low.endswith(".zip"):
        return "zip"
    if low.endswith((".tar.gz", ".tgz")):
        return "tar.gz"
    return "folder"


class Target:
    """The copy being written; :meth:`commit` puts it at OUT, :meth:`discard` drops it."""

    def __init__(self, out: str, overwrite: bool) -> None:
        self.out = out
        self.kind = kind_of(out)
        check_overwrite(out, self.kind, overwrite)
        parent = os.path.dirname(os.path.abspath(out))
        self.names: set[str] = set()
        self._zip: zipfile.ZipFile | None = None
        self._tar: tarfile.TarFile | None = None
        self._gz: gzip.GzipFile | None = None
        self._file: BinaryIO | None = None
        try:
            if self.kind == "folder":
                self.tmp = tempfile.mkdtemp(prefix=".otel-replay-scrub-", dir=parent)
                return
            fd, self.tmp = tempfile.mkstemp(prefix=".otel-replay-scrub-", suffix=".part", dir=parent)
        except OSError as exc:
            raise TargetError(f"cannot write {out}: {exc.strerror or exc}") from None
        self._file = os.fdopen(fd, "wb")
        if self.kind == "zip":
            self._zip = zipfile.ZipFile(self._file, "w", zipfile.ZIP_DEFLATED)
        else:
            self._gz = gzip.GzipFile(filename="", mode="wb", fileobj=self._file, mtime=0)
            self._tar = tarfile.open(fileobj=self._gz, mode="w", format=tarfile.PAX_FORMAT)  # noqa: SIM115 - closed by _close

    def unique(self, name: str) -> str:
        """``name``, or ``name`` with ``-2``, ``-3``… before its suffix when already written."""
        stem, dot, ext = _split(name)
        candidate, n = name, 1
        while candidate in self.names or candidate == MANIFEST:
            n += 1
            candidate = f"{stem}-{n}{dot}{ext}"
        self.names.add(candidate)
        return candidate

    def write(self, name: str, data: bytes) -> None:
        if self._zip is not None:
            info = zipfile.ZipInfo(name, ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            self._zip.writestr(info, data)
        elif self._tar is not None:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            self._tar.addfile(info, io.BytesIO(data))
        else:
            path = os.path.join(self.tmp, *name.split("/"))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as fh:
                fh.write(data)

    def commit(self) -> None:
        self._close()
        if self.kind == "folder":
            if os.path.isdir(self.out):
                shutil.rmtree(self.out)  # an earlier scrub's copy (check_overwrite made sure)
            os.replace(self.tmp, self.out)
            return
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(self.tmp, 0o666 & ~mask)
        os.replace(self.tmp, self.out)

    def discard(self) -> None:
        self._close()
        if self.kind == "folder":
            shutil.rmtree(self.tmp, ignore_errors=True)
        elif os.path.exists(self.tmp):
            os.unlink(self.tmp)

    def _close(self) -> None:
        for closing in (self._zip, self._tar, self._gz, self._file):
            if closing is not None:
                closing.close()
        self._zip = self._tar = self._gz = self._file = None


def _split(name: str) -> tuple[str, str, str]:
    folder, _, base = name.rpartition("/")
    stem, dot, ext = base.partition(".")
    return (f"{folder}/{stem}" if folder else stem), dot, ext


def check_overwrite(out: str, kind: str, overwrite: bool) -> None:
    """Refuses an OUT that exists, unless ``overwrite`` (and, for a folder, unless it is
    empty or an earlier scrub's copy: other files are never deleted)."""
    if not os.path.lexists(out):
        return
    if not overwrite:
        raise TargetError(f"{out} exists: give --overwrite to replace it")
    if kind != "folder":
        if os.path.isdir(out):
            raise TargetError(f"{out} is a folder: not replaced by an archive")
        return
    if not os.path.isdir(out):
        raise TargetError(f"{out} is a file: not replaced by a folder")
    if os.listdir(out) and not os.path.isfile(os.path.join(out, MANIFEST)):
        raise TargetError(f"{out} is a folder that otel-replay scrub did not write (no {MANIFEST}): not replaced")
