"""``--scrub``: every record leaves with the rules applied (otel_replay/scrub/, docs/scrub.md).

The last stage before the sinks, after dedup and ``--resume`` have identified the record
as recorded (so a scrubbed rerun resumes the same records), in whichever process reads
the input (each worker has its own copy of the rules and the run's one salt)."""

from __future__ import annotations

from otel_replay.model import Record
from otel_replay.scrub.engine import Scrubber


class Scrub:
    drop_label = "dropped by --scrub"  # never drops

    def __init__(self, scrubber: Scrubber) -> None:
        self.scrubber = scrubber

    def apply(self, record: Record) -> Record | None:
        return self.scrubber.record(record)
