"""Data points with no recorded value are read and counted, but never sent.

CodeMachine's file exporter writes ``value: 0`` for every histogram point (it reads a
field the SDK does not fill) and no count or buckets: nothing that was measured. Sent,
such a point would be a flat line of zeros every query takes for real data. The reader
keeps it as a point whose value is None, so that it is filtered, deduplicated (a
``latest-metrics.json`` copy holds the same points) and counted like any other; this
stage, the first after dedup, drops it with its own count (the reader's hint says why,
once per metric).
"""

from __future__ import annotations

from otel_replay.model import MetricPoint, Record

#: The drop label: how the summary counts such points.
NO_RECORDED_VALUE = "not replayed: no recorded value"


class NoRecordedValue:
    drop_label = NO_RECORDED_VALUE

    def apply(self, record: Record) -> Record | None:
        if isinstance(record, MetricPoint) and record.value is None:
            return None
        return record
