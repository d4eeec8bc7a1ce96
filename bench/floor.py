"""The floor of spans → OTLP on one core: the leanest possible path through the SDK.

python bench/floor.py FOLDER   → prints one JSON line: spans, wall_s, cpu_s

Issue 16's definition, nothing more: decode each CodeMachine trace file whole with msgspec,
build one ``ReadableSpan`` per span with one shared ``Resource`` and scope, encode
batches of 512 with the official exporter's ``encode_spans`` and serialise them. No
validation, no dedup, no HTTP, one process. A replay that does all of that (and checks
every value) is compared with this figure by ``bench/ratios.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

BATCH = 512
_FLAGS = TraceFlags(TraceFlags.SAMPLED)
_CODES = {0: StatusCode.UNSET, 1: StatusCode.OK, 2: StatusCode.ERROR}


def readable(span: dict[str, Any], resource: Resource, scope: InstrumentationScope) -> ReadableSpan:
    trace_id = int(span["traceId"], 16)
    parent = span.get("parentSpanId")
    status = span.get("status") or {}
    return ReadableSpan(
        name=span["name"],
        context=SpanContext(trace_id, int(span["spanId"], 16), False, _FLAGS),
        parent=SpanContext(trace_id, int(parent, 16), False, _FLAGS) if parent else None,
        resource=resource,
        attributes=span.get("attributes"),
        events=[Event(e["name"], e.get("attributes"), int(e["time"] * 1e6)) for e in span.get("events") or ()],
        kind=SpanKind.INTERNAL,
        status=Status(_CODES[status.get("code", 0)], status.get("message")),
        start_time=int(span["startTime"] * 1e6),
        end_time=int(span["endTime"] * 1e6),
        instrumentation_scope=scope,
    )


def run(folder: Path) -> int:
    """Encode every span of every trace file under ``folder``; the number of spans."""
    resource = Resource({"service.name": "codemachine"})
    scope = InstrumentationScope("otel-replay")
    batch: list[ReadableSpan] = []
    count = size = 0
    for path in sorted(folder.rglob("*.json")):
        if path.name.endswith("-logs.json") or path.name.endswith("-metrics.json"):
            continue
        doc = msgspec.json.decode(path.read_bytes())
        for span in doc.get("spans") or ():
            batch.append(readable(span, resource, scope))
            if len(batch) == BATCH:
                size += len(encode_spans(batch).SerializeToString())
                count += len(batch)
                batch = []
    if batch:
        size += len(encode_spans(batch).SerializeToString())
        count += len(batch)
    return count


if __name__ == "__main__":
    from timed import timed  # beside this script (not needed to import run)

    timed(run, "spans")
