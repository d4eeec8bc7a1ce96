"""``--shard I/N``'s share of what discovery finds (the assignment itself: otel_replay/shard.py).

Every machine walks every PATH (listing names costs little) and keeps what falls in its
share: inputs, and also the files passed over and the discovery problems, so that the
shards' summaries add up to one run's. A ``latest*`` copy is opened for its first few
KiB to find the session file it repeats; a copy that can only be read as it goes by (a
member of a compressed tar, standard input) is peeked at, not consumed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator

from otel_replay.model import FileProblem
from otel_replay.shard import COPY_HEAD_BYTES, Shard, copy_key, input_key, part_key, session_file
from otel_replay.sources.discover import Discovered, InputFile, SkippedFile, is_latest_copy
from otel_replay.sources.streams import open_location


def this_share(
    paths: Iterable[str], shard: Shard, discover_one: Callable[[str], Iterable[Discovered]]
) -> Iterator[Discovered]:
    """What ``discover_one(path)`` finds for each PATH, but only this share of it."""
    for root in paths:
        for found in discover_one(root):
            if shard.takes(key_of(found, root)):
                yield found


def key_of(found: Discovered, root: str) -> str:
    if isinstance(found, SkippedFile):
        return input_key(found.name, root)
    if isinstance(found, FileProblem):
        return input_key(found.source, root)
    key = input_key(found.name, root)
    if found.part is not None:
        return part_key(key, found.part.index)
    if is_latest_copy(os.path.basename(found.name.rsplit("!", 1)[-1])):
        session = session_file(_head(found))
        if session is not None:
            return copy_key(key, session)
    return key


def _head(found: InputFile) -> bytes:
    """The first bytes of an input, leaving it to be read from its start."""
    try:
        if found.location is not None:
            with open_location(found.location) as stream:
                return stream.read(COPY_HEAD_BYTES)
        with found.open() as stream:  # read as it goes by: look without consuming
            peek = getattr(stream, "peek", None)
            if peek is not None:
                return bytes(peek(COPY_HEAD_BYTES)[:COPY_HEAD_BYTES])
            if stream.seekable():  # a member copied out of a 7z archive
                at = stream.tell()
                head = stream.read(COPY_HEAD_BYTES)
                stream.seek(at)
                return bytes(head)
            return b""
    except Exception:  # unreadable: keyed by its own name; reading it says why
        return b""
