"""Stages: what happens to a record between its source and its sink.

Most are transforms, record → record or None to drop it (the pipeline counts drops per
transform, by its ``drop_label``): the filters, the resource rewrite, the time shift.
Dedup and ``--resume`` (:class:`~otel_replay.stages.dedup.SeenCheck`) decide on a batch at
a time, once for the whole run (workers ask the parent).
"""

from __future__ import annotations

from typing import Protocol

from otel_replay.model import Record


class Transform(Protocol):
    drop_label: str

    def apply(self, record: Record) -> Record | None: ...
