"""Transforms: record → record, or None to drop it (the pipeline counts drops per transform).

Each transform has a ``drop_label`` naming what its drops are counted as in the summary.
"""

from __future__ import annotations

from typing import Protocol

from otel_replay.model import Record


class Transform(Protocol):
    drop_label: str

    def apply(self, record: Record) -> Record | None: ...
