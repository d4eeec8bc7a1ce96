"""Drop records already seen in this run.

CodeMachine folders hold every newest session twice (``latest*.json`` is a copy of a
dated file), and users often pass overlapping folders. A span is identified by its
trace and span ids; a log record or a metric data point by a digest of everything it
carries (computed for every one: it is also the record's key in the --resume journal).
"""

from __future__ import annotations

import hashlib

import msgspec

from otel_replay.model import LogRecord, MetricPoint, Record, SpanRecord, record_key
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


class Dedup:
    drop_label = DUPLICATES

    def __init__(self) -> None:
        self._spans: set[int] = set()
        self._logs: set[bytes] = set()
        self._points: set[bytes] = set()

    def apply(self, record: Record) -> Record | None:
        if isinstance(record, SpanRecord):
            key = record_key(record)  # type: ignore[assignment]
            seen = self._spans
        elif isinstance(record, LogRecord):
            key = record.key = log_identity(record)  # type: ignore[assignment]
            seen = self._logs  # type: ignore[assignment]
        else:
            key = record.key = point_identity(record)  # type: ignore[assignment]
            seen = self._points  # type: ignore[assignment]
        if record.from_otlp:
            # OTLP input (only it names a scope) replays as it is, duplicates included:
            # it has no copies to skip, and keeping every key of a many-GB dump would make
            # memory grow with the input.
            return record
        if key in seen:
            return None
        seen.add(key)  # type: ignore[arg-type]
        return record
