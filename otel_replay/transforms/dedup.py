"""Drop records already seen in this run.

CodeMachine folders hold every newest session twice (``latest*.json`` is a copy of a
dated file), and users often pass overlapping folders. A span is identified by its
trace and span ids; a log record or a metric data point by a digest of everything it
carries (computed for every one: it is also the record's key in the --resume journal).
"""

from __future__ import annotations

import hashlib

import msgspec

from otel_replay.model import SIGNAL_OF, LogRecord, MetricPoint, Record, Signal, record_key
from otel_replay.report import DUPLICATES

_encode = msgspec.json.Encoder().encode


def point_identity(rec: MetricPoint) -> bytes:
    """A 128-bit digest of a data point's content: metric, scope, resource, attributes, times, value."""
    payload = _encode(
        (rec.metric, rec.scope, rec.resource, rec.attributes, rec.start_ns, rec.time_ns, rec.value, rec.exemplars)
    )
    return hashlib.blake2b(payload, digest_size=16).digest()


def log_identity(rec: LogRecord) -> bytes:
    """A 128-bit digest of the record's content (not of where it was read)."""
    payload = _encode(
        (
            rec.time_ns,
            rec.severity_number,
            rec.severity_text,
            rec.body,
            rec.attributes,
            rec.trace_id,
            rec.span_id,
            rec.resource,
        )
    )
    return hashlib.blake2b(payload, digest_size=16).digest()


def identify(record: Record) -> int | bytes:
    """The record's key (see :func:`record_key`), computing and setting a digest first
    for a log record or a data point."""
    if isinstance(record, LogRecord):
        record.key = log_identity(record)
    elif isinstance(record, MetricPoint):
        record.key = point_identity(record)
    return record_key(record)


class SeenKeys:
    """The keys seen in this run, per signal."""

    def __init__(self) -> None:
        self._seen: dict[Signal, set[int | bytes]] = {s: set() for s in Signal}

    def first_time(self, signal: Signal, key: int | bytes) -> bool:
        """True the first time ``key`` is offered for ``signal`` (and remembers it)."""
        seen = self._seen[signal]
        if key in seen:
            return False
        seen.add(key)
        return True


class Dedup:
    drop_label = DUPLICATES

    def __init__(self) -> None:
        self._seen = SeenKeys()

    def apply(self, record: Record) -> Record | None:
        key = identify(record)
        if record.from_otlp:
            # OTLP input replays as it is, duplicates included: it has no copies to skip,
            # and keeping every key of a many-GB dump would make memory grow with the input.
            return record
        return record if self._seen.first_time(SIGNAL_OF[type(record)], key) else None
