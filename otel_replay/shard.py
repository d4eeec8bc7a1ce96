"""``--shard I/N``: which share of the inputs a run takes (pure: no file is opened here).

Every discovered input — a file, an archive member, a part of a large JSON Lines file, and
what discovery passes over or cannot read — has a *key* that names it the same way on
every machine: its path relative to the PATH it was found under (a PATH that is a file
counts as its own name), ``!`` and the member name inside an archive, ``#part`` and the
part's number for a part. Share ``I`` of ``N`` takes the inputs whose key hashes to it
(BLAKE2b, the same on every platform and Python version), so N runs given the same PATHs
— from whatever folder or mount point — together take every input exactly once.

A CodeMachine ``latest*`` copy is keyed by the dated session file it repeats, read from
its ``sessionFile`` (an absolute path on the machine that recorded it, whose last two
components are the dated file's date folder and name): the copy lands in the same share
as its original, so it is still dropped there as a duplicate. See docs/sharding.md.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

#: Kubernetes sets this in every pod of an Indexed Job (0 to completions - 1).
INDEX_VARIABLE = "JOB_COMPLETION_INDEX"
AUTO = "auto"
#: The Loki stream label of a shard's log records (its value: ``I/N``).
SHARD_LABEL = "replay_shard"
#: How much of a ``latest*`` copy is read to find its ``sessionFile`` (CodeMachine writes
#: it fifth, after version, service, exportedAt and the record count).
COPY_HEAD_BYTES = 4096

_SPEC = re.compile(r"\s*(\w+)\s*/\s*(\d+)\s*")
_SESSION_FILE = re.compile(rb'"sessionFile"\s*:\s*("(?:[^"\\]|\\.)*")')


@dataclass(frozen=True, slots=True)
class Shard:
    """Share ``index`` (1 to ``count``) of the inputs."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def takes(self, key: str) -> bool:
        return share_of(key, self.count) == self.index


def parse_shard(text: str, env: dict[str, str] | None = None) -> Shard:
    """``I/N`` (share I of N, numbered from 1) or ``auto/N`` (share JOB_COMPLETION_INDEX + 1:
    a Kubernetes Indexed Job numbers its pods from 0). ValueError with the reason."""
    m = _SPEC.fullmatch(text)
    if m is None:
        raise ValueError(f"{text!r} is not I/N (the I-th of N shares, e.g. 1/3) nor auto/N")
    which, count = m.group(1), int(m.group(2))
    if count < 1:
        raise ValueError(f"{text!r}: N must be at least 1")
    if which == AUTO:
        index = _index_from_env(env or {}, count)
    elif which.isdigit():
        index = int(which)
    else:
        raise ValueError(f"{text!r} is not I/N (the I-th of N shares, e.g. 1/3) nor auto/N")
    if not 1 <= index <= count:
        raise ValueError(
            f"{text!r}: shares are numbered 1 to {count} (in a Kubernetes Indexed Job, "
            f"whose {INDEX_VARIABLE} counts from 0, give auto/{count})"
        )
    return Shard(index, count)


def _index_from_env(env: dict[str, str], count: int) -> int:
    raw = env.get(INDEX_VARIABLE)
    if raw is None:
        raise ValueError(f"auto/{count} takes the share from {INDEX_VARIABLE}, which is not set")
    if not raw.strip().isdigit():
        raise ValueError(f"auto/{count}: {INDEX_VARIABLE} is {raw!r}, not a number")
    index = int(raw) + 1
    if index > count:
        raise ValueError(f"auto/{count}: {INDEX_VARIABLE} is {raw}, but {count} shares are indexed 0 to {count - 1}")
    return index


def share_of(key: str, count: int) -> int:
    """The share (1 to ``count``) an input with this key belongs to."""
    digest = hashlib.blake2b(key.encode("utf-8", "surrogateescape"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count + 1


def input_key(name: str, root: str) -> str:
    """The key of an input named ``name`` (as discovery names it) found under the PATH
    ``root``: relative to a folder, or from a file's own name on; ``/`` separates folders
    whatever the platform. Standard input (``-``) is keyed by its names as they are."""
    if root == "-" or not name.startswith(root):
        return name.replace("\\", "/")
    rest = name[len(root) :]
    if rest[:1] in ("/", "\\") or root.endswith(("/", "\\")):  # under a folder
        return rest.lstrip("/\\").replace("\\", "/")
    base = re.split(r"[/\\]", root.rstrip("/\\"))[-1]  # a file (or an archive): its name, then members
    return (base + rest).replace("\\", "/")


def part_key(key: str, index: int) -> str:
    return f"{key}#part{index}"


def session_file(head: bytes) -> str | None:
    """The ``sessionFile`` of a CodeMachine ``latest*`` copy, from the start of the file."""
    m = _SESSION_FILE.search(head)
    if m is None:
        return None
    try:
        value = json.loads(m.group(1))
    except ValueError:
        return None
    return value if isinstance(value, str) and value.strip() else None


def copy_key(key: str, session: str) -> str:
    """The key of the dated file a ``latest*`` copy (keyed ``key``) repeats: the copy's
    folder (in its folder tree or archive) and the last two components of its
    ``sessionFile`` (``2026-12-02/18-32-29.json``), where CodeMachine keeps that file."""
    folder = key[: max(key.rfind("/"), key.rfind("!")) + 1]
    tail = [p for p in re.split(r"[/\\]", session) if p][-2:]
    return folder + "/".join(tail)


def shard_file_name(name: str, shard: Shard | None) -> str:
    """``traces.jsonl`` → ``traces.shard-2-of-3.jsonl``: the shards of one run can write
    into one --output folder."""
    if shard is None:
        return name
    tag = f"shard-{shard.index}-of-{shard.count}"
    stem, dot, ext = name.rpartition(".")
    return f"{stem}.{tag}.{ext}" if dot else f"{name}.{tag}"
