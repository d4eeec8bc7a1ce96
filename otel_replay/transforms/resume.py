"""Skip what an earlier run already delivered (``--resume``)."""

from __future__ import annotations

from otel_replay.model import Record
from otel_replay.resume import ResumeState


class SkipDelivered:
    """Drop records the state file lists as acknowledged by a previous run."""

    drop_label = "already delivered (--resume)"

    def __init__(self, state: ResumeState) -> None:
        self.state = state

    def apply(self, record: Record) -> Record | None:
        return None if self.state.delivered(record) else record
