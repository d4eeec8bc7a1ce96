"""What a replayed record must look like when read back from Tempo or Loki."""

from __future__ import annotations

import json
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.trace.v1.trace_pb2 import Span, TracesData

from tests.real.backends import LokiEntry, Stack, wait_for_trace
from tests.test_replay_fidelity import KINDS, attrs, expected_ns

#: Loki 3.4 derives a ``detected_level`` for every entry and serves it as structured metadata.
LOKI_ADDED = "detected_level"


def parse_trace(trace: dict[str, Any]) -> list[tuple[Any, Any, Span]]:
    """Tempo's OTLP/JSON (ids base64, enums as names, int64 as strings: the protobuf JSON
    mapping) as (resource, scope, span) protobuf messages."""
    data = json_format.ParseDict(trace, TracesData())
    return [(rs.resource, ss.scope, span) for rs in data.resource_spans for ss in rs.scope_spans for span in ss.spans]


def fetch_span_copies(stack: Stack, spans_per_trace: dict[str, int]) -> dict[str, list[tuple[Any, Any, Span]]]:
    """Every span of those traces as Tempo returns them, by hex span id, each with all the
    copies Tempo returns; fails if a trace does not reach its span count in time."""
    out: dict[str, list[tuple[Any, Any, Span]]] = {}
    for trace_id, n in spans_per_trace.items():
        for res, scope, span in parse_trace(wait_for_trace(stack, trace_id, n)):
            out.setdefault(span.span_id.hex(), []).append((res, scope, span))
    return out


def fetch_spans(stack: Stack, spans_per_trace: dict[str, int]) -> dict[str, tuple[Any, Any, Span]]:
    """Every span of those traces as Tempo returns them, by hex span id; fails if a trace
    does not reach its span count within the deadline or a span comes back twice."""
    copies = fetch_span_copies(stack, spans_per_trace)
    twice = sorted(k for k, v in copies.items() if len(v) > 1)
    assert not twice, f"{len(twice)} spans come back more than once from Tempo, e.g. {twice[:3]}"
    assert len(copies) == sum(spans_per_trace.values())
    return {k: v[0] for k, v in copies.items()}


def assert_codemachine_span(
    doc: dict[str, Any], got: tuple[Any, Any, Span], offset_ns: int, service: str = "codemachine"
) -> None:
    """A CodeMachine span read back from Tempo: ids, parent, name, kind, start and end
    (the recorded float ms moved by the run's offset, to the nanosecond), status, events,
    attributes, resource and scope."""
    res, scope, span = got
    where = f"span {doc['spanId']} ({doc['name']})"
    assert span.trace_id.hex() == doc["traceId"], where
    assert span.span_id.hex() == doc["spanId"], where
    assert span.parent_span_id.hex() == doc.get("parentSpanId", ""), where
    assert span.name == doc["name"], where
    assert span.kind == KINDS.get(doc["attributes"].get("span.kind"), Span.SPAN_KIND_INTERNAL), where
    assert span.start_time_unix_nano == expected_ns(doc["startTime"]) + offset_ns, where
    assert span.end_time_unix_nano == expected_ns(doc["endTime"]) + offset_ns, where
    assert span.status.code == doc["status"]["code"], where
    assert span.status.message == (doc["status"].get("message", "") if doc["status"]["code"] == 2 else ""), where
    assert attrs(span.attributes) == doc["attributes"], where
    assert [(e.name, e.time_unix_nano, attrs(e.attributes)) for e in span.events] == [
        (e["name"], expected_ns(e["time"]) + offset_ns, e.get("attributes", {})) for e in doc["events"]
    ], where
    assert attrs(res.attributes) == {"service.name": service}, where
    assert scope.name == "otel-replay" and scope.version, where


def _served_json(value: Any) -> str:
    """A non-string attribute as Loki 3.4 serves it back: the compact JSON otel-replay
    sends, its quotes escaped (as the real Loki returned ``["planner","coder"]``)."""
    return json.dumps(value, separators=(",", ":")).replace('"', '\\"')


def expected_entry(doc: dict[str, Any], offset_ns: int, labels: dict[str, str]) -> tuple[Any, ...]:
    """A CodeMachine log record as Loki must serve it: (labels, time, line, structured metadata)."""
    a = dict(doc["attributes"])
    md = {name: a.pop(key) for key, name in (("trace.id", "trace_id"), ("span.id", "span_id")) if key in a}
    md.update({k.replace(".", "_"): (v if isinstance(v, str) else _served_json(v)) for k, v in a.items()})
    md.update({k.replace(".", "_"): str(v) for k, v in doc["resource"].items() if k != "service.name"})
    body = doc["body"]
    line = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    stream = {"service_name": "codemachine", "severity_text": doc["severityText"], "imported": "true", **labels}
    ts = doc["timestamp"][0] * 10**9 + doc["timestamp"][1] + offset_ns
    return (stream, ts, line, md)


def served_entry(entry: LokiEntry) -> tuple[Any, ...]:
    """A Loki entry without the metadata Loki adds itself (asserted present) and the run's
    replay_id (new each run; tests/real/test_verify.py reads it)."""
    md = dict(entry.metadata)
    assert LOKI_ADDED in md, entry
    del md[LOKI_ADDED]
    md.pop("replay_id", None)
    return (entry.labels, entry.ts_ns, entry.line, md)


def by_time(entries: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted(entries, key=lambda e: (e[1], e[2], json.dumps(e[0], sort_keys=True)))
