"""Loki's limits on one entry's structured metadata, and how an entry is made to fit them
(the Loki sink counts what was changed)."""

from __future__ import annotations

import msgspec

from otel_replay.model import truncate_utf8

#: Loki's ``max_structured_metadata_size`` (64KB, read as 1024-byte KB).
MAX_METADATA_BYTES = 64 * 1024
#: Loki's ``max_structured_metadata_entries_count`` (128 by default): an entry with more
#: is refused. Over it, the entries beyond the first are merged into one under this key.
MAX_METADATA_ENTRIES = 128
OVERFLOW_KEY = "more_attributes"
#: The structured metadata entry naming the run that pushed an entry (``otel-replay verify``
#: counts only its own run's entries by it); kept first, like trace_id and span_id.
REPLAY_ID_KEY = "replay_id"
_encode = msgspec.json.Encoder().encode


def fit_metadata(md: dict[str, str], limit: int = MAX_METADATA_BYTES) -> list[str]:
    """Shorten the largest structured-metadata values (in place) until names and values
    total at most ``limit`` bytes; returns the keys that were shortened."""
    chars = sum(len(k) + len(v) for k, v in md.items())
    if chars * 4 <= limit:  # no UTF-8 text of this many characters can be over: the common case
        return []
    total = sum(len(k) + len(v.encode()) for k, v in md.items())
    shortened = []
    for key in sorted(md, key=lambda k: len(md[k]), reverse=True):
        if total <= limit:
            break
        size = len(md[key].encode())
        target = max(size - (total - limit), 64)
        md[key], _ = truncate_utf8(md[key], target)
        total -= size - len(md[key].encode())
        shortened.append(key)
    return shortened


def fit_metadata_entries(md: dict[str, str], limit: int = MAX_METADATA_ENTRIES) -> dict[str, str] | None:
    """Structured metadata of at most ``limit`` entries: trace_id, span_id and replay_id, then the
    others in order as long as they fit, the rest merged into one JSON object (their
    names to their values) under :data:`OVERFLOW_KEY`; None when it fits already."""
    if len(md) <= limit:
        return None
    first = {k: md[k] for k in ("trace_id", "span_id", REPLAY_ID_KEY) if k in md}
    others = [(k, v) for k, v in md.items() if k not in first and k != OVERFLOW_KEY]
    room = limit - len(first) - 1
    kept = dict(first)
    kept.update(others[:room])
    rest = dict(others[room:])
    if OVERFLOW_KEY in md:  # a record attribute of that very name is kept inside
        rest = {OVERFLOW_KEY: md[OVERFLOW_KEY], **rest}
    kept[OVERFLOW_KEY] = _encode(rest).decode()
    return kept
