"""Drop records already seen in this run, or delivered by an earlier one (``--resume``).

CodeMachine folders hold every newest session twice (``latest*.json`` is a copy of a
dated file), and users often pass overlapping folders. A span is identified by its
trace and span ids; a log record or a metric data point by a digest of everything it
carries (it is also the record's key in the --resume journal). The log records of an
input alone in its time are checked on their own, against each other (stages/alone.py).
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec

from otel_replay.model import LogRecord, MetricPoint, Record, Signal, record_key
from otel_replay.resume import ResumeState
from otel_replay.stats import DELIVERED, DUPLICATES

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


class SeenCheck:
    """Dedup and ``--resume`` for a whole run, on record keys: the one place that decides
    whether a record is sent. Used in-process by a one-process run and by the parent for
    all worker processes (which send the keys, see :mod:`otel_replay.execute.workers`)."""

    def __init__(self, state: ResumeState | None = None) -> None:
        self._seen: dict[Signal, set[int | bytes]] = {s: set() for s in Signal}
        self._state = state

    def verdicts(self, signal: Signal, keys: list[Any], as_recorded: bool = False) -> list[str | None]:
        """Per key: the label it is dropped with, or None to send it. OTLP input replays
        as recorded, duplicates included (``as_recorded``): it has no copies to skip, and
        keeping every key of a many-GB dump would make memory grow with the input."""
        seen, state = self._seen[signal], self._state
        out: list[str | None] = []
        for key in keys:
            if not as_recorded:
                if key in seen:
                    out.append(DUPLICATES)
                    continue
                seen.add(key)
            out.append(DELIVERED if state is not None and state.delivered(signal, key) else None)
        return out

    def records(self, signal: Signal, records: list[Record], as_recorded: bool = False) -> list[str | None]:
        """:meth:`verdicts` for records (their keys computed here)."""
        return self.verdicts(signal, record_keys(records), as_recorded)


def record_keys(records: list[Record]) -> list[Any]:
    """The records' keys (digests computed and set)."""
    return [identify(r) for r in records]
